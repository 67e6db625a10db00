// The cron describer in both languages (and the raw expression when a shape is not a common one), the
// editor's presets, and the policies as the service takes them.
import { describe, expect, it } from "vitest";
import { ApiError } from "@/api/client";
import { cronOf, DEFAULT_PRESET, describeCron, presetOf } from "@/components/schedules/cron";
import { changesOf, fieldOfError, missedBody, missedFormOf, missedProblem, timeZones } from "@/components/schedules/policies";
import { schedule } from "./support";

describe("describeCron", () => {
  it.each([
    ["30 2 * * *", "每天 02:30", "Every day at 02:30"],
    ["0 2 1 * *", "每月 1 日 02:00", "Monthly on day 1 at 02:00"],
    ["*/5 * * * *", "每 5 分钟", "Every 5 minutes"],
    ["0 9 * * 1", "每周一 09:00", "Every Monday at 09:00"],
    ["* * * * *", "每分钟", "Every minute"],
    ["*/1 * * * *", "每分钟", "Every minute"],
    ["0 * * * *", "每小时整点", "Every hour, on the hour"],
    ["15 * * * *", "每小时第 15 分钟", "Every hour at minute 15"],
    ["0 */6 * * *", "每 6 小时整点", "Every 6 hours, on the hour"],
    ["30 */2 * * *", "每 2 小时的第 30 分钟", "Every 2 hours at minute 30"],
    ["0 18 * * 1-5", "每个工作日（周一至周五）18:00", "Weekdays (Monday to Friday) at 18:00"],
    ["0 10 * * 7", "每周日 10:00", "Every Sunday at 10:00"],
    ["0 10 * * sat", "每周六 10:00", "Every Saturday at 10:00"],
    ["5 0 25 12 *", "每年 12 月 25 日 00:05", "Every year on December 25 at 00:05"],
    ["@daily", "每天 00:00", "Every day at 00:00"],
    ["@monthly", "每月 1 日 00:00", "Monthly on day 1 at 00:00"],
    ["@weekly", "每周日 00:00", "Every Sunday at 00:00"],
    ["  0   2 1 * *  ", "每月 1 日 02:00", "Monthly on day 1 at 02:00"],
  ])("%s reads %s / %s", (cron, zh, en) => {
    expect(describeCron(cron, "zh-CN")).toBe(zh);
    expect(describeCron(cron, "en")).toBe(en);
  });

  it.each([
    "0 9,18 * * *", // two hours
    "*/7 9-17 * * 1-5", // a step within office hours
    "0 2 1 * 1", // a day of month and a weekday
    "0 2 L * *",
    "60 2 * * *", // no such minute
    "0 24 * * *",
    "0 2 32 * *",
    "0 2 * * 8",
    "0 0 1 1 * 2026", // six fields
    "every day",
    "@reboot",
  ])("falls back to the expression itself for %s", (cron) => {
    expect(describeCron(cron, "zh-CN")).toBe(cron);
    expect(describeCron(cron, "en")).toBe(cron);
  });

  it("reads any zh locale as Chinese and anything else as English", () => {
    expect(describeCron("30 2 * * *", "zh")).toBe("每天 02:30");
    expect(describeCron("30 2 * * *", "de")).toBe("Every day at 02:30");
  });
});

describe("cron presets", () => {
  it("recognises the presets an expression is, keeping the numbers", () => {
    expect(presetOf("30 9 * * 1")).toEqual({ ...DEFAULT_PRESET, kind: "weekly", minute: 30, hour: 9, weekday: 1 });
    expect(presetOf("0 2 15 * *")).toEqual({ ...DEFAULT_PRESET, kind: "monthly", minute: 0, hour: 2, day: 15 });
    expect(presetOf("5 * * * *").kind).toBe("hourly");
    expect(presetOf("* * * * *").kind).toBe("everyMinute");
  });

  it("takes shapes the presets cannot write as custom", () => {
    expect(presetOf("*/5 * * * *").kind).toBe("custom");
    expect(presetOf("0 18 * * 1-5").kind).toBe("custom");
    expect(presetOf("@daily").kind).toBe("custom");
    expect(presetOf("0 2 * * 7").kind).toBe("custom"); // Sunday written as 7 stays as typed
    expect(presetOf("0 9,18 * * *").kind).toBe("custom");
  });

  it("writes each preset's expression, and none for custom", () => {
    const base = { kind: "daily" as const, minute: 30, hour: 2, weekday: 1, day: 1 };
    expect(cronOf({ ...base, kind: "everyMinute" })).toBe("* * * * *");
    expect(cronOf({ ...base, kind: "hourly" })).toBe("30 * * * *");
    expect(cronOf(base)).toBe("30 2 * * *");
    expect(cronOf({ ...base, kind: "weekly", weekday: 5 })).toBe("30 2 * * 5");
    expect(cronOf({ ...base, kind: "monthly", day: 28 })).toBe("30 2 28 * *");
    expect(cronOf({ ...base, kind: "custom" })).toBeNull();
  });
});

describe("policies", () => {
  it("sends a catch-up's window in seconds, and the other kinds by name", () => {
    expect(missedBody({ kind: "catch_up_all", windowHours: 6, max: 4 })).toEqual({ kind: "catch_up_all", window_seconds: 21600, max: 4 });
    expect(missedBody({ kind: "skip", windowHours: 6, max: 4 })).toBe("skip");
    expect(missedBody({ kind: "latest_once", windowHours: null, max: null })).toBe("latest_once");
  });

  it("reads back what the service sends", () => {
    expect(missedFormOf({ kind: "catch_up_all", window_seconds: 86400, max: 10 })).toEqual({ kind: "catch_up_all", windowHours: 24, max: 10 });
    expect(missedFormOf({ kind: "skip" }).kind).toBe("skip");
    expect(missedFormOf("odd").kind).toBe("latest_once");
  });

  it("wants a catch-up's window within 366 days and its count within 1000", () => {
    expect(missedProblem({ kind: "catch_up_all", windowHours: 6, max: 4 })).toBe(false);
    expect(missedProblem({ kind: "catch_up_all", windowHours: null, max: 4 })).toBe(true);
    expect(missedProblem({ kind: "catch_up_all", windowHours: 8785, max: 4 })).toBe(true);
    expect(missedProblem({ kind: "catch_up_all", windowHours: 6, max: 1001 })).toBe(true);
    expect(missedProblem({ kind: "catch_up_all", windowHours: 6, max: 0 })).toBe(true);
    expect(missedProblem({ kind: "skip", windowHours: null, max: null })).toBe(false);
  });

  it("changes only what differs in an edit", () => {
    const current = schedule();
    const same = {
      name: current.name, type: current.type, cron: current.cron, timezone: current.timezone, params: { region: "east" },
      overlap: current.overlap, missed: "latest_once" as const, pause_on_failure: current.pause_on_failure,
    };
    expect(changesOf(current, same)).toEqual({});
    expect(changesOf(current, { ...same, cron: "0 3 1 * *", missed: "skip" })).toEqual({ cron: "0 3 1 * *", missed: "skip" });
  });

  it("offers Asia/Shanghai first, then UTC, and keeps a zone the browser may not list", () => {
    const zones = timeZones(["Etc/GMT+5"]);
    expect(zones.slice(0, 3)).toEqual(["Asia/Shanghai", "UTC", "Etc/GMT+5"]);
    expect(zones).toContain("Europe/Berlin");
    expect(new Set(zones).size).toBe(zones.length);
  });

  it("places a refusal beside the field it is about", () => {
    const invalid = (reason: string) => new ApiError(422, "invalid_schedule", "x", { reason });
    expect(fieldOfError(new ApiError(409, "schedule_exists", "x"))).toBe("name");
    expect(fieldOfError(invalid("the minute field '61' is not valid"))).toBe("cron");
    expect(fieldOfError(invalid("'Mars/Base' is not a known time zone"))).toBe("timezone");
    expect(fieldOfError(invalid("catch_up_all needs window_seconds and max"))).toBe("missed");
    expect(fieldOfError(invalid("a job of type 'enhance' needs its items from whoever submits it"))).toBe("type");
    expect(fieldOfError(new ApiError(422, "invalid_params", "x"))).toBe("params");
    expect(fieldOfError(new ApiError(429, "rate_limited", "x"))).toBe("form");
  });
});
