// The task list's filter: the address round trip, and calendar days turned into the instants the service takes.
import { describe, expect, it } from "vitest";
import {
  dayRangeToInstants,
  emptyFilter,
  filterFromQuery,
  filterToQuery,
  newJobMayMatch,
  startOfDay,
  toSelection,
  type JobFilter,
} from "@/components/jobs/filters";

describe("filter ⇄ address", () => {
  const full: JobFilter = {
    status: ["running", "failed"],
    group: null,
    type: "demo_slow",
    resource: "orders",
    owner: "alice",
    from: "2026-03-01",
    to: "2026-03-05",
    q: "batch 7",
  };

  it("survives the round trip through the query", () => {
    expect(filterFromQuery(filterToQuery(full) as Record<string, string | string[]>)).toEqual(full);
    const grouped = { ...emptyFilter(), group: "finished" as const };
    expect(filterFromQuery(filterToQuery(grouped) as Record<string, string>)).toEqual(grouped);
  });

  it("writes only what is set, statuses in a fixed order", () => {
    expect(filterToQuery(emptyFilter())).toEqual({});
    expect(filterToQuery({ ...emptyFilter(), status: ["failed", "running"], q: "  x " })).toEqual({
      status: ["running", "failed"],
      q: "x",
    });
  });

  it("reads a single status, comma lists, and drops what it does not know", () => {
    expect(filterFromQuery({ status: "running" }).status).toEqual(["running"]);
    expect(filterFromQuery({ status: "failed,running,bogus" }).status).toEqual(["running", "failed"]);
    const odd = filterFromQuery({ group: "sideways", from: "2026-02-30", to: "yesterday", q: "   " });
    expect(odd).toEqual(emptyFilter());
  });

  it("puts a reversed day range right", () => {
    const swapped = filterFromQuery({ from: "2026-03-09", to: "2026-03-01" });
    expect([swapped.from, swapped.to]).toEqual(["2026-03-01", "2026-03-09"]);
  });
});

describe("days → instants", () => {
  it("Asia/Shanghai: the start of the first day and of the day after the last, in UTC", () => {
    expect(dayRangeToInstants("2026-03-01", "2026-03-05", "Asia/Shanghai")).toEqual({
      created_after: "2026-02-28T16:00:00.000Z",
      created_before: "2026-03-05T16:00:00.000Z",
    });
  });

  it("UTC: midnight to midnight", () => {
    expect(dayRangeToInstants("2026-03-01", "2026-03-05", "UTC")).toEqual({
      created_after: "2026-03-01T00:00:00.000Z",
      created_before: "2026-03-06T00:00:00.000Z",
    });
  });

  it("a single day, across a month and a year end", () => {
    expect(dayRangeToInstants("2026-12-31", "2026-12-31", "Asia/Shanghai")).toEqual({
      created_after: "2026-12-30T16:00:00.000Z",
      created_before: "2026-12-31T16:00:00.000Z",
    });
    expect(dayRangeToInstants(null, "2028-02-28", "UTC")).toEqual({ created_before: "2028-02-29T00:00:00.000Z" });
    expect(dayRangeToInstants("2026-01-01", null, "UTC")).toEqual({ created_after: "2026-01-01T00:00:00.000Z" });
  });

  it("follows daylight saving where the zone has it", () => {
    // New York moves its clocks on 2026-03-08: that day starts at UTC-5, the next at UTC-4.
    expect(startOfDay("2026-03-08", "America/New_York")).toBe("2026-03-08T05:00:00.000Z");
    expect(startOfDay("2026-03-09", "America/New_York")).toBe("2026-03-09T04:00:00.000Z");
    expect(startOfDay("2026-11-02", "America/New_York")).toBe("2026-11-02T05:00:00.000Z");
  });
});

describe("filter → what the service takes", () => {
  const filter: JobFilter = { ...emptyFilter(), status: ["running"], owner: "bob", from: "2026-03-01", q: "x" };

  it("carries the instants in the viewer's zone, and the owner only for admins", () => {
    expect(toSelection(filter, "Asia/Shanghai", true)).toEqual({
      status: ["running"],
      owner: "bob",
      created_after: "2026-02-28T16:00:00.000Z",
      q: "x",
    });
    expect(toSelection(filter, "UTC", false)).toEqual({
      status: ["running"],
      created_after: "2026-03-01T00:00:00.000Z",
      q: "x",
    });
  });

  it("tells whether a just-created job could be in the list", () => {
    expect(newJobMayMatch({}, "export", "alice")).toBe(true);
    expect(newJobMayMatch({ type: "demo_slow" }, "export", "alice")).toBe(false);
    expect(newJobMayMatch({ owner: "bob" }, "export", "alice")).toBe(false);
    expect(newJobMayMatch({ group: "finished" }, "export", "alice")).toBe(false);
    expect(newJobMayMatch({ group: "active" }, "export", "alice")).toBe(true);
  });
});

describe("days at the edges of the calendar", () => {
  it("an address with a day past what can be a job's is read without that day, not as a broken list", () => {
    const filter = filterFromQuery({ type: "demo_slow", to: "9999-12-31", from: "0001-01-01" });
    expect(filter.to).toBeNull();
    expect(filter.from).toBeNull();
    expect(filter.type).toBe("demo_slow");
    expect(() => toSelection(filter, "Asia/Shanghai", false)).not.toThrow();
    expect(toSelection({ ...filter, to: "9998-12-31" }, "UTC", false).created_before).toBe("9999-01-01T00:00:00.000Z");
  });
});
