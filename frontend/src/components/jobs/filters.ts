// The task list's filter: kept in the address (so a reload or a shared link shows the same list), turned into the
// query of GET /api/v1/jobs and into the `filter` of a bulk action — one shape for both, as the service has it.
import type { LocationQuery, LocationQueryRaw, LocationQueryValue } from "vue-router";
import type { JobStatus, Schemas } from "@/api/client";

export type StatusGroup = Schemas["StatusGroup"];
export type Selection = Schemas["Selection"];
/** What a bulk action acts on: the selected rows, or everything the filter matches. */
export type BulkScope = "selected" | "filter";

export const STATUSES: readonly JobStatus[] = [
  "pending",
  "running",
  "paused",
  "cancelling",
  "cancelled",
  "succeeded",
  "partially_succeeded",
  "failed",
];
export const GROUPS: readonly StatusGroup[] = ["active", "finished", "failed"];
/** The statuses each group stands for (as the service defines them). */
export const GROUP_STATUSES: Record<StatusGroup, readonly JobStatus[]> = {
  active: ["pending", "running", "paused", "cancelling"],
  finished: ["succeeded", "partially_succeeded", "failed", "cancelled"],
  failed: ["failed", "partially_succeeded"],
};

/** What the viewer chose. Days are calendar days ("2026-03-01"), read in the viewer's time zone when sent. */
export interface JobFilter {
  status: JobStatus[];
  group: StatusGroup | null;
  type: string | null;
  resource: string | null;
  owner: string | null;
  from: string | null;
  to: string | null;
  q: string | null;
}

export function emptyFilter(): JobFilter {
  return { status: [], group: null, type: null, resource: null, owner: null, from: null, to: null, q: null };
}

export function isFiltered(filter: JobFilter): boolean {
  return (
    filter.status.length > 0 ||
    [filter.group, filter.type, filter.resource, filter.owner, filter.from, filter.to, filter.q].some((v) => v !== null)
  );
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const TEXT_MAX = 200;

function values(raw: LocationQueryValue | LocationQueryValue[] | undefined): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  return list.filter((v): v is string => typeof v === "string");
}

function text(raw: LocationQueryValue | LocationQueryValue[] | undefined): string | null {
  const value = values(raw)[0]?.trim();
  return value ? value.slice(0, TEXT_MAX) : null;
}

function day(raw: LocationQueryValue | LocationQueryValue[] | undefined): string | null {
  const value = values(raw)[0];
  return value !== undefined && isDay(value) ? value : null;
}

/** A real calendar day written yyyy-mm-dd. */
/** A day a filter may name: a real one in the years a job can have been made in (1970 to 9998: the day after
 * it, where a range ends, must exist too). */
export function isDay(value: string): boolean {
  return isCalendarDay(value) && value >= "1970-01-01" && value <= "9998-12-31";
}

function isCalendarDay(value: string): boolean {
  const match = DAY.exec(value);
  if (!match) return false;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** The filter an address means; anything unknown or malformed in it is left out. */
export function filterFromQuery(query: LocationQuery): JobFilter {
  const status = [...new Set(values(query.status).flatMap((v) => v.split(",")))].filter((v): v is JobStatus =>
    (STATUSES as readonly string[]).includes(v),
  );
  const group = values(query.group)[0];
  let from = day(query.from);
  let to = day(query.to);
  if (from && to && from > to) [from, to] = [to, from];
  return {
    status: STATUSES.filter((s) => status.includes(s)),
    group: group && (GROUPS as readonly string[]).includes(group) ? (group as StatusGroup) : null,
    type: text(query.type),
    resource: text(query.resource),
    owner: text(query.owner),
    from,
    to,
    q: text(query.q),
  };
}

/** The address's query for a filter: only what is set, in a fixed order (so equal filters make equal links). */
export function filterToQuery(filter: JobFilter): LocationQueryRaw {
  const query: LocationQueryRaw = {};
  if (filter.status.length) query.status = STATUSES.filter((s) => filter.status.includes(s));
  if (filter.group) query.group = filter.group;
  if (filter.type) query.type = filter.type;
  if (filter.resource) query.resource = filter.resource;
  if (filter.owner) query.owner = filter.owner;
  if (filter.from) query.from = filter.from;
  if (filter.to) query.to = filter.to;
  if (filter.q?.trim()) query.q = filter.q.trim();
  return query;
}

// ---- days in a time zone -------------------------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClock(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The wall-clock time in `timeZone` at instant `ms`, as if that wall clock were UTC (ms). */
function wallTime(ms: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of wallClock(timeZone).formatToParts(new Date(ms))) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  const get = (name: string): number => parts[name] ?? 0;
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour") % 24, get("minute"), get("second"));
}

function offset(ms: number, timeZone: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  return wallTime(whole, timeZone) - whole;
}

function dayOf(ms: number, timeZone: string): string {
  return new Date(wallTime(ms, timeZone)).toISOString().slice(0, 10);
}

/** The instant a calendar day begins in a time zone, as an ISO string in UTC. */
export function startOfDay(day: string, timeZone: string): string {
  if (!isCalendarDay(day)) throw new RangeError(`not a day: ${day}`);
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const wall = Date.UTC(y, m - 1, d);
  // The offset at the day's start may differ from the one a few hours either side (daylight saving): try both,
  // keep the earliest instant that falls on the day (where midnight is skipped, the day begins at the jump).
  const first = wall - offset(wall, timeZone);
  const candidates = [first, wall - offset(first, timeZone)].sort((a, b) => a - b);
  const start = candidates.find((ms) => dayOf(ms, timeZone) === day) ?? first;
  return new Date(start).toISOString();
}

/** The calendar day after `day`. */
export function nextDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** A range of days as the instants the service filters on: from the first day's start to the start of the day
 * after the last (created_before is exclusive). */
export function dayRangeToInstants(
  from: string | null,
  to: string | null,
  timeZone: string,
): { created_after?: string; created_before?: string } {
  const range: { created_after?: string; created_before?: string } = {};
  if (from) range.created_after = startOfDay(from, timeZone);
  if (to) range.created_before = startOfDay(nextDay(to), timeZone);
  return range;
}

/** The filter as the service takes it (list query and bulk `filter` alike). Only admins filter by owner. */
export function toSelection(filter: JobFilter, timeZone: string, isAdmin: boolean): Selection {
  const selection: Selection = {};
  if (filter.status.length) selection.status = [...filter.status];
  if (filter.group) selection.group = filter.group;
  if (filter.type) selection.type = filter.type;
  if (filter.resource) selection.resource = filter.resource;
  if (filter.owner && isAdmin) selection.owner = filter.owner;
  Object.assign(selection, dayRangeToInstants(filter.from, filter.to, timeZone));
  if (filter.q) selection.q = filter.q;
  return selection;
}

/** Whether a job of this type and owner, just created (pending), could be in the list the selection makes. */
export function newJobMayMatch(selection: Selection, type: unknown, owner: unknown): boolean {
  if (selection.type && typeof type === "string" && type !== selection.type) return false;
  if (selection.owner && typeof owner === "string" && owner !== selection.owner) return false;
  const allowed = new Set([...(selection.status ?? []), ...(selection.group ? GROUP_STATUSES[selection.group] : [])]);
  return allowed.size === 0 || allowed.has("pending");
}
