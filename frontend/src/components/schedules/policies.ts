// What the schedule pages share besides cron: the policies as the editor holds them and as the service takes
// them, the body of a create or an edit, the time zones offered, times shown in a zone, and which field a
// refusal is about.
import type { ApiError, Schemas } from "@/api/client";

export type Schedule = Schemas["ScheduleOut"];
export type Slot = Schemas["SlotOut"];
export type Overlap = Schedule["overlap"];
export type MissedKind = "skip" | "latest_once" | "catch_up_all";

export const OVERLAPS: Overlap[] = ["allow", "skip", "buffer_one", "cancel_previous"];
export const MISSED_KINDS: MissedKind[] = ["skip", "latest_once", "catch_up_all"];
/** The parameter a run gets its slot's time in: filled by each run, so never asked for in the editor. */
export const SCHEDULED_FOR = "scheduled_for";
export const DEFAULT_ZONE = "Asia/Shanghai";
export const MAX_WINDOW_HOURS = 366 * 24;
export const MAX_CATCH_UP = 1000;

/** The missed-run policy as the editor holds it: the window in hours, as people think of it. */
export interface MissedForm {
  kind: MissedKind;
  windowHours: number | null;
  max: number | null;
}

export type MissedBody = "skip" | "latest_once" | { kind: "catch_up_all"; window_seconds: number; max: number };

export function missedFormOf(missed: Record<string, unknown> | string | null | undefined): MissedForm {
  const value = typeof missed === "string" ? { kind: missed } : (missed ?? {});
  const kind = MISSED_KINDS.includes(value.kind as MissedKind) ? (value.kind as MissedKind) : "latest_once";
  const seconds = typeof value.window_seconds === "number" ? value.window_seconds : null;
  const max = typeof value.max === "number" ? value.max : null;
  return { kind, windowHours: seconds === null ? 24 : seconds / 3600, max: max ?? 10 };
}

/** Whether a catch-up's window and count are usable (the other kinds need neither). */
export function missedProblem(form: MissedForm): boolean {
  if (form.kind !== "catch_up_all") return false;
  const { windowHours, max } = form;
  const windowOk = windowHours !== null && windowHours > 0 && windowHours <= MAX_WINDOW_HOURS;
  const maxOk = max !== null && Number.isInteger(max) && max >= 1 && max <= MAX_CATCH_UP;
  return !(windowOk && maxOk);
}

/** `"skip"`, `"latest_once"` or `{"kind": "catch_up_all", "window_seconds": 21600, "max": 4}`. */
export function missedBody(form: MissedForm): MissedBody {
  if (form.kind !== "catch_up_all") return form.kind;
  return { kind: "catch_up_all", window_seconds: Math.round((form.windowHours ?? 0) * 3600), max: form.max ?? 0 };
}

/** The same policy whatever its form ("skip" or {"kind": "skip"}). */
export function sameMissed(a: MissedBody | Record<string, unknown>, b: MissedBody | Record<string, unknown>): boolean {
  const plain = (value: MissedBody | Record<string, unknown>) => (typeof value === "string" ? { kind: value } : value);
  return JSON.stringify(sortKeys(plain(a))) === JSON.stringify(sortKeys(plain(b)));
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([x], [y]) => x.localeCompare(y)));
}

/** Everything the editor sends on create. */
export interface ScheduleBody {
  name: string;
  type: string;
  cron: string;
  timezone: string;
  params: Record<string, unknown>;
  overlap: Overlap;
  missed: MissedBody;
  pause_on_failure: boolean;
}

export type ScheduleChanges = Partial<Omit<ScheduleBody, "type">>;

/** What an edit changes (a PATCH changes what it is given; an unchanged cron keeps the slots as they are). */
export function changesOf(current: Schedule, next: ScheduleBody): ScheduleChanges {
  const changes: ScheduleChanges = {};
  if (next.name !== current.name) changes.name = next.name;
  if (next.cron !== current.cron) changes.cron = next.cron;
  if (next.timezone !== current.timezone) changes.timezone = next.timezone;
  const { [SCHEDULED_FOR]: _filled, ...params } = current.params; // each run's own, never edited
  if (JSON.stringify(sortKeys(next.params)) !== JSON.stringify(sortKeys(params))) changes.params = next.params;
  if (next.overlap !== current.overlap) changes.overlap = next.overlap;
  if (!sameMissed(next.missed, current.missed)) changes.missed = next.missed;
  if (next.pause_on_failure !== current.pause_on_failure) changes.pause_on_failure = next.pause_on_failure;
  return changes;
}

/** IANA zones for the select: Asia/Shanghai first, then UTC, then the rest the browser knows; `also` kept. */
export function timeZones(also: readonly string[] = []): string[] {
  const known = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  return [...new Set([DEFAULT_ZONE, "UTC", ...also.filter(Boolean), ...known])];
}

/** "2026/03/29 03:30 GMT+2": an instant in a zone, with the zone's offset then (so a clock change shows). */
export function formatZoned(iso: string, zone: string, locale: string, withOffset = true): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  try {
    return new Intl.DateTimeFormat(locale, {
      timeZone: zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      ...(withOffset ? { timeZoneName: "shortOffset" as const } : {}),
    }).format(date);
  } catch {
    return iso; // a zone this browser does not know
  }
}

/** The zone's UTC offset at an instant ("GMT+1"), to tell a clock change between two fire times. */
export function offsetAt(iso: string, zone: string): string {
  try {
    const parts = new Intl.DateTimeFormat("en", { timeZone: zone, timeZoneName: "shortOffset" }).formatToParts(new Date(iso));
    return parts.find((part) => part.type === "timeZoneName")?.value ?? "";
  } catch {
    return "";
  }
}

export type ErrorField = "name" | "type" | "cron" | "timezone" | "missed" | "params" | "form";

/** The field a refusal of a save is about, so that it is shown beside it. The English reason in the details
 * says which part of an invalid_schedule is wrong whatever the language of the message. */
export function fieldOfError(error: ApiError): ErrorField {
  if (error.status === 409 && error.code === "schedule_exists") return "name";
  if (error.code === "invalid_params") return "params";
  if (error.code === "unknown_job_type") return "type";
  if (error.code !== "invalid_schedule") return "form";
  const reason = String(error.details.reason ?? "").toLowerCase();
  if (/missed|window_seconds|catch_up|\bmax\b/.test(reason)) return "missed";
  if (/zone/.test(reason)) return "timezone";
  if (/\bname\b/.test(reason)) return "name";
  if (/cron|field|expression/.test(reason)) return "cron";
  return "type";
}
