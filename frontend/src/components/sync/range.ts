// A date-range sync's range: plain calendar days ("2025-10-01", what the params carry), never instants, so no
// time zone can move a day; the picker's limit (at most 90 days, both ends included) and the checks before
// submit; which params of a job type's schema are the range's two ends.
import { fieldOf, type JsonSchema } from "@/components/submit/schema";

/** The most days one sync may span, both ends included (the service refuses more: date_range_too_long). */
export const MAX_DAYS = 90;

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;

/** A real calendar day written yyyy-mm-dd (not 2025-02-30). */
export function isIsoDay(value: unknown): value is string {
  if (typeof value !== "string") return false;
  const match = DAY.exec(value);
  if (!match) return false;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** The day's number counted from 1970-01-01, by the calendar alone (UTC arithmetic: no offset, no DST). */
function ordinal(day: string): number {
  if (!isIsoDay(day)) throw new RangeError(`not a day: ${day}`);
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return Math.round(Date.UTC(y, m - 1, d) / MS_PER_DAY);
}

/** How many days the range covers, both ends included: 2025-10-01 to 2025-10-01 is 1; 0 or less when reversed. */
export function rangeDays(start: string, end: string): number {
  return ordinal(end) - ordinal(start) + 1;
}

/** The day `n` days after `day` (before it when negative). */
export function addDays(day: string, n: number): string {
  return new Date((ordinal(day) + n) * MS_PER_DAY).toISOString().slice(0, 10);
}

/**
 * The calendar day a date picker's cell stands for. Naive UI's calendar is drawn in the browser's own time
 * zone and gives each cell as the instant its day starts there, so the day is read back with the local clock —
 * never through UTC or the app's chosen zone, which would turn 2025-10-01 in Shanghai into 2025-09-30.
 */
export function pickerDay(timestamp: number): string {
  const date = new Date(timestamp);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${String(date.getFullYear()).padStart(4, "0")}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Whether `day` may not be picked once `anchor` (the first end picked) is: it would make the range too long. */
export function outOfReach(day: string, anchor: string | null, maxDays = MAX_DAYS): boolean {
  if (anchor === null) return false;
  const span = Math.abs(ordinal(day) - ordinal(anchor)) + 1;
  return span > maxDays;
}

/**
 * Naive UI's `is-date-disabled` for a daterange picker: while a range is being picked the panel passes the first
 * day picked as `[first, first]`, and every day that would make the range longer than `maxDays` is disabled.
 */
export function disabledDate(maxDays = MAX_DAYS): (ts: number, position: "start" | "end", value: [number, number] | null) => boolean {
  return (ts, _position, value) => {
    if (value === null) return false;
    return outOfReach(pickerDay(ts), pickerDay(value[0]), maxDays);
  };
}

export type RangeProblem =
  | { key: "missing" }
  | { key: "invalid" }
  | { key: "reversed"; start: string; end: string }
  | { key: "tooLong"; days: number; max: number };

/** Why the range cannot be sent, or null: both days given, real, in order, at most `maxDays` of them. */
export function rangeProblem(start: unknown, end: unknown, maxDays = MAX_DAYS): RangeProblem | null {
  if (start === null || start === undefined || start === "" || end === null || end === undefined || end === "") {
    return { key: "missing" };
  }
  if (!isIsoDay(start) || !isIsoDay(end)) return { key: "invalid" };
  const days = rangeDays(start, end);
  if (days < 1) return { key: "reversed", start, end };
  if (days > maxDays) return { key: "tooLong", days, max: maxDays };
  return null;
}

/** The names of a params schema's two date fields (`format: date`): "start"/"end" when so named, else the first
 * two in the schema's order; null when the schema has fewer than two. */
export function dateRangeFields(schema: JsonSchema | null | undefined): { start: string; end: string } | null {
  if (!schema) return null;
  const root = fieldOf(schema, schema);
  if (root.kind !== "object") return null;
  const dates = Object.entries(root.schema.properties ?? {})
    .filter(([, property]) => {
      const field = fieldOf(property, schema);
      return field.kind === "string" && (field.schema as JsonSchema & { format?: string }).format === "date";
    })
    .map(([name]) => name);
  if (dates.length < 2) return null;
  if (dates.includes("start") && dates.includes("end")) return { start: "start", end: "end" };
  return { start: dates[0]!, end: dates[1]! };
}
