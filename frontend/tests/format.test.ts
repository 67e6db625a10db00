import { describe, expect, it } from "vitest";
import { fileName } from "@/api/download";
import { formatDuration, formatTime } from "@/format";

describe("formatTime", () => {
  it("shows a UTC instant in the chosen time zone", () => {
    expect(formatTime("2026-03-01T16:30:00Z", "Asia/Shanghai", "en")).toContain("00:30:00");
    expect(formatTime("2026-03-01T16:30:00Z", "UTC", "en")).toContain("16:30:00");
  });

  it("shows a dash for no time or a malformed one", () => {
    expect(formatTime(null, "UTC", "en")).toBe("—");
    expect(formatTime("yesterday", "UTC", "en")).toBe("—");
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0 s"],
    [42.4, "42 s"],
    [185, "3 min 05 s"],
    [3720, "1 h 02 min"],
  ])("%s seconds reads %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it("has no value for an unknown ETA", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe("—");
  });
});

describe("fileName", () => {
  it("prefers the UTF-8 name", () => {
    expect(fileName(`attachment; filename="a.csv"; filename*=UTF-8''%E9%94%99%E8%AF%AF.csv`)).toBe("错误.csv");
  });

  it("takes a plain name, or none", () => {
    expect(fileName('attachment; filename="batch_7.zip"')).toBe("batch_7.zip");
    expect(fileName(null)).toBeNull();
  });
});
