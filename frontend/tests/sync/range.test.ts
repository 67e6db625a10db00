// The range of a date-range sync: counted by the calendar (month ends, leap days, daylight saving), limited to
// 90 days in the picker, read from the picker as the day the person clicked whatever the browser's time zone,
// and the two date fields found in any job type's params schema.
import { afterEach, describe, expect, it } from "vitest";
import type { JsonSchema } from "@/components/submit/schema";
import {
  addDays,
  dateRangeFields,
  disabledDate,
  isIsoDay,
  MAX_DAYS,
  outOfReach,
  pickerDay,
  rangeDays,
  rangeProblem,
} from "@/components/sync/range";

const originalZone = process.env.TZ;

/** Runs `body` with the process (the "browser") in `zone`; Node reads TZ afresh when it is set. */
function inZone(zone: string, body: () => void): void {
  process.env.TZ = zone;
  try {
    body();
  } finally {
    if (originalZone === undefined) delete process.env.TZ;
    else process.env.TZ = originalZone;
  }
}

/** What Naive UI's calendar gives for a day cell: the instant the day starts on the browser's own clock. */
function cell(year: number, month: number, day: number): number {
  return new Date(year, month - 1, day).getTime();
}

afterEach(() => {
  if (originalZone === undefined) delete process.env.TZ;
  else process.env.TZ = originalZone;
});

describe("counting days", () => {
  it("counts both ends: one day, and 90 days from 1 October across two month ends", () => {
    expect(rangeDays("2025-10-01", "2025-10-01")).toBe(1);
    expect(rangeDays("2025-10-01", "2025-12-28")).toBe(89);
    expect(rangeDays("2025-10-01", "2025-12-29")).toBe(90);
    expect(rangeDays("2025-10-01", "2025-12-30")).toBe(91);
  });

  it("counts across February in a leap year and across a year end", () => {
    expect(rangeDays("2024-02-01", "2024-04-30")).toBe(90);
    expect(rangeDays("2025-02-01", "2025-04-30")).toBe(89);
    expect(rangeDays("2025-12-15", "2026-03-14")).toBe(90);
  });

  it("is zero or less for a reversed range", () => {
    expect(rangeDays("2025-10-02", "2025-10-01")).toBe(0);
    expect(rangeDays("2025-10-09", "2025-10-01")).toBe(-7);
  });

  it("adds days across month and year ends", () => {
    expect(addDays("2025-10-31", 1)).toBe("2025-11-01");
    expect(addDays("2025-12-31", 1)).toBe("2026-01-01");
    expect(addDays("2024-03-01", -1)).toBe("2024-02-29");
    expect(addDays("2025-10-01", MAX_DAYS - 1)).toBe("2025-12-29");
  });

  it("knows a real day from a malformed or impossible one", () => {
    expect(isIsoDay("2025-10-01")).toBe(true);
    expect(isIsoDay("2024-02-29")).toBe(true);
    expect(isIsoDay("2025-02-29")).toBe(false);
    expect(isIsoDay("2025-10-1")).toBe(false);
    expect(isIsoDay("2025-10-01T00:00:00Z")).toBe(false);
    expect(isIsoDay(20251001)).toBe(false);
    expect(() => rangeDays("2025-02-30", "2025-03-01")).toThrow(RangeError);
  });
});

describe("checking a range before it is sent", () => {
  it("accepts 89 and 90 days and refuses 91 with the count and the limit", () => {
    expect(rangeProblem("2025-10-01", "2025-12-28")).toBeNull();
    expect(rangeProblem("2025-10-01", "2025-12-29")).toBeNull();
    expect(rangeProblem("2025-10-01", "2025-12-30")).toEqual({ key: "tooLong", days: 91, max: 90 });
  });

  it("refuses a missing end, an impossible day and a reversed range, naming the days", () => {
    expect(rangeProblem(null, null)).toEqual({ key: "missing" });
    expect(rangeProblem("2025-10-01", "")).toEqual({ key: "missing" });
    expect(rangeProblem("2025-02-30", "2025-03-01")).toEqual({ key: "invalid" });
    expect(rangeProblem("2025-10-09", "2025-10-01")).toEqual({ key: "reversed", start: "2025-10-09", end: "2025-10-01" });
  });

  it("takes a smaller limit when a type has one", () => {
    expect(rangeProblem("2025-10-01", "2025-10-07", 7)).toBeNull();
    expect(rangeProblem("2025-10-01", "2025-10-08", 7)).toEqual({ key: "tooLong", days: 8, max: 7 });
  });
});

describe("the picker's day, whatever the browser's time zone", () => {
  for (const zone of ["UTC", "Asia/Shanghai", "Pacific/Kiritimati", "America/Los_Angeles", "Pacific/Pago_Pago"]) {
    it(`reads 2025-10-01 clicked in ${zone} as 2025-10-01`, () => {
      inZone(zone, () => {
        expect(pickerDay(cell(2025, 10, 1))).toBe("2025-10-01");
        expect(pickerDay(cell(2025, 12, 31))).toBe("2025-12-31");
        expect(pickerDay(cell(2024, 2, 29))).toBe("2024-02-29");
      });
    });
  }

  it("does not go through UTC, which would turn Shanghai's 1 October into 30 September", () => {
    inZone("Asia/Shanghai", () => {
      const start = cell(2025, 10, 1);
      expect(new Date(start).toISOString().slice(0, 10)).toBe("2025-09-30"); // the shift this guards against
      expect(pickerDay(start)).toBe("2025-10-01");
    });
  });
});

describe("days out of reach once the first end is picked", () => {
  it("keeps 89 and 90 days within reach and puts the 91st out, forwards and backwards", () => {
    expect(outOfReach("2025-12-28", "2025-10-01")).toBe(false);
    expect(outOfReach("2025-12-29", "2025-10-01")).toBe(false);
    expect(outOfReach("2025-12-30", "2025-10-01")).toBe(true);
    expect(outOfReach("2025-10-01", "2025-12-29")).toBe(false);
    expect(outOfReach("2025-09-30", "2025-12-29")).toBe(true);
  });

  it("disables nothing before a first day is picked", () => {
    expect(outOfReach("2030-01-01", null)).toBe(false);
    expect(disabledDate()(cell(2030, 1, 1), "start", null)).toBe(false);
  });

  for (const zone of ["Asia/Shanghai", "America/Los_Angeles", "UTC"]) {
    it(`disables the picker's cells past 90 days in ${zone}, across the daylight-saving change`, () => {
      inZone(zone, () => {
        const disabled = disabledDate(MAX_DAYS);
        const first = cell(2025, 10, 1);
        const picked: [number, number] = [first, first];
        expect(disabled(cell(2025, 12, 28), "end", picked)).toBe(false);
        expect(disabled(cell(2025, 12, 29), "end", picked)).toBe(false);
        expect(disabled(cell(2025, 12, 30), "end", picked)).toBe(true);
        expect(disabled(cell(2025, 9, 30), "start", picked)).toBe(false);
        const last = cell(2025, 12, 29);
        expect(disabled(cell(2025, 10, 1), "start", [last, last])).toBe(false);
        expect(disabled(cell(2025, 9, 30), "start", [last, last])).toBe(true);
      });
    });
  }
});

describe("the range's fields in a params schema", () => {
  const quotes: JsonSchema = {
    type: "object",
    properties: {
      start: { type: "string", format: "date", title: "First day" } as JsonSchema,
      end: { type: "string", format: "date", title: "Last day" } as JsonSchema,
      symbol: { type: "string", default: "*" },
    },
    required: ["start", "end"],
  };

  it("finds start and end by name", () => {
    expect(dateRangeFields(quotes)).toEqual({ start: "start", end: "end" });
  });

  it("takes the first two date fields when they have other names, a nullable one included", () => {
    const schema = {
      type: "object",
      properties: {
        region: { type: "string" },
        from_day: { type: "string", format: "date" },
        until: { anyOf: [{ type: "string", format: "date" }, { type: "null" }] },
        stamp: { type: "string", format: "date-time" },
      },
    } as JsonSchema;
    expect(dateRangeFields(schema)).toEqual({ start: "from_day", end: "until" });
  });

  it("finds none in a schema with one date, a date-time, or no schema at all", () => {
    const one = { type: "object", properties: { day: { type: "string", format: "date" }, at: { type: "string", format: "date-time" } } } as JsonSchema;
    expect(dateRangeFields(one)).toBeNull();
    expect(dateRangeFields(null)).toBeNull();
    expect(dateRangeFields({ type: "object", properties: {} })).toBeNull();
  });
});
