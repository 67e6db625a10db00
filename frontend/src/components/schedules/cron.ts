// Cron expressions for people: a phrase for the common shapes ("每天 02:30", "Every 5 minutes"), the raw
// expression for the rest, and the editor's presets (which shape an expression has, and the expression of one).
// Pure: the words come straight from the schedules messages, so this runs without an i18n instance.
import messages from "@/i18n/messages/schedules";

export type CronLocale = "en" | "zh-CN";

const MACROS: Record<string, string> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};
const WEEKDAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/** The common shapes, with the numbers that fill them. */
export type CronShape =
  | { kind: "everyMinute" }
  | { kind: "everyMinutes"; n: number }
  | { kind: "hourly"; minute: number }
  | { kind: "everyHours"; n: number; minute: number }
  | { kind: "daily"; hour: number; minute: number }
  | { kind: "weekly"; weekday: number; hour: number; minute: number }
  | { kind: "weekdays"; hour: number; minute: number }
  | { kind: "monthly"; day: number; hour: number; minute: number }
  | { kind: "yearly"; month: number; day: number; hour: number; minute: number };

function number(text: string, low: number, high: number): number | null {
  if (!/^\d{1,2}$/.test(text)) return null;
  const value = Number(text);
  return value >= low && value <= high ? value : null;
}

function named(text: string, names: string[], offset: number): number | null {
  const at = names.indexOf(text.toUpperCase());
  return at < 0 ? null : at + offset;
}

function weekdayOf(text: string): number | null {
  const value = number(text, 0, 7) ?? named(text, WEEKDAY_NAMES, 0);
  return value === null ? null : value % 7; // 7 is Sunday too
}

function monthOf(text: string): number | null {
  return number(text, 1, 12) ?? named(text, MONTH_NAMES, 1);
}

function step(text: string, high: number): number | null {
  const found = /^\*\/(\d{1,2})$/.exec(text);
  if (!found) return null;
  const value = Number(found[1]);
  return value >= 1 && value <= high ? value : null;
}

function isWeekdays(text: string): boolean {
  return ["1-5", "MON-FRI"].includes(text.toUpperCase());
}

type Fields = [string, string, string, string, string];

function fieldsOf(cron: string): Fields | null {
  const text = cron.trim();
  const expanded = MACROS[text.toLowerCase()] ?? text;
  const parts = expanded.split(/\s+/);
  return parts.length === 5 ? (parts as Fields) : null;
}

/** Shapes that fire every some minutes or hours. */
function frequentShape([minute, hour, day, month, weekday]: Fields): CronShape | null {
  if (day !== "*" || month !== "*" || weekday !== "*") return null;
  if (hour === "*" && minute === "*") return { kind: "everyMinute" };
  const every = step(minute, 59);
  if (hour === "*" && every !== null) return every === 1 ? { kind: "everyMinute" } : { kind: "everyMinutes", n: every };
  const at = number(minute, 0, 59);
  if (at === null) return null;
  if (hour === "*") return { kind: "hourly", minute: at };
  const hours = step(hour, 23);
  if (hours === null) return null;
  return hours === 1 ? { kind: "hourly", minute: at } : { kind: "everyHours", n: hours, minute: at };
}

/** Shapes that fire once at a time of day: daily, weekly, on weekdays, monthly, yearly. */
function dailyShape([minuteText, hourText, day, month, weekday]: Fields): CronShape | null {
  const minute = number(minuteText, 0, 59);
  const hour = number(hourText, 0, 23);
  if (minute === null || hour === null) return null;
  const time = { hour, minute };
  if (day === "*" && month === "*") {
    if (weekday === "*") return { kind: "daily", ...time };
    if (isWeekdays(weekday)) return { kind: "weekdays", ...time };
    const one = weekdayOf(weekday);
    return one === null ? null : { kind: "weekly", weekday: one, ...time };
  }
  const dayOfMonth = number(day, 1, 31);
  if (dayOfMonth === null || weekday !== "*") return null;
  if (month === "*") return { kind: "monthly", day: dayOfMonth, ...time };
  const monthNumber = monthOf(month);
  return monthNumber === null ? null : { kind: "yearly", month: monthNumber, day: dayOfMonth, ...time };
}

/** The common shape of a cron expression, or null for anything else. */
export function shapeOf(cron: string): CronShape | null {
  const fields = fieldsOf(cron);
  if (!fields) return null;
  return frequentShape(fields) ?? dailyShape(fields);
}

function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

const pad = (value: number): string => String(value).padStart(2, "0");

function phrase(shape: CronShape, locale: CronLocale): string {
  const words = messages[locale].describe;
  const time = "hour" in shape ? `${pad(shape.hour)}:${pad(shape.minute)}` : "";
  switch (shape.kind) {
    case "everyMinute":
      return words.everyMinute;
    case "everyMinutes":
      return fill(words.everyMinutes, { n: shape.n });
    case "hourly":
      return shape.minute === 0 ? words.hourlyOnTheHour : fill(words.hourly, { minute: shape.minute });
    case "everyHours":
      return fill(shape.minute === 0 ? words.everyHoursOnTheHour : words.everyHours, { n: shape.n, minute: shape.minute });
    case "daily":
      return fill(words.daily, { time });
    case "weekly":
      return fill(words.weekly, { weekday: words.weekday[String(shape.weekday) as keyof typeof words.weekday], time });
    case "weekdays":
      return fill(words.weekdays, { time });
    case "monthly":
      return fill(words.monthly, { day: shape.day, time });
    case "yearly":
      return fill(words.yearly, { month: words.month[String(shape.month) as keyof typeof words.month], day: shape.day, time });
  }
}

/** "每天 02:30", "Monthly on day 1 at 02:00"… or the expression itself when it is not a common shape. */
export function describeCron(cron: string, locale: string): string {
  const shape = shapeOf(cron);
  if (!shape) return cron.trim();
  return phrase(shape, locale.startsWith("zh") ? "zh-CN" : "en");
}

// ---- the editor's presets ----

export type PresetKind = "custom" | "everyMinute" | "hourly" | "daily" | "weekly" | "monthly";
export const PRESET_KINDS: PresetKind[] = ["custom", "everyMinute", "hourly", "daily", "weekly", "monthly"];

export interface Preset {
  kind: PresetKind;
  minute: number;
  hour: number;
  weekday: number;
  day: number;
}

export const DEFAULT_PRESET: Preset = { kind: "daily", minute: 0, hour: 2, weekday: 1, day: 1 };

/** The preset an expression is (keeping `base`'s numbers for the parts it does not set), or custom. */
export function presetOf(cron: string, base: Preset = DEFAULT_PRESET): Preset {
  const shape = shapeOf(cron);
  const text = cron.trim();
  if (shape === null || text.startsWith("@") || text !== text.split(/\s+/).join(" ")) return { ...base, kind: "custom" };
  if (cronOf({ ...base, ...shape, kind: shape.kind as PresetKind }) !== text) return { ...base, kind: "custom" };
  return { ...base, ...shape, kind: shape.kind as PresetKind };
}

/** The expression of a preset; null for custom (the text is the person's own). */
export function cronOf(preset: Preset): string | null {
  const { minute, hour, weekday, day } = preset;
  switch (preset.kind) {
    case "everyMinute":
      return "* * * * *";
    case "hourly":
      return `${minute} * * * *`;
    case "daily":
      return `${minute} ${hour} * * *`;
    case "weekly":
      return `${minute} ${hour} * * ${weekday}`;
    case "monthly":
      return `${minute} ${hour} ${day} * *`;
    default:
      return null;
  }
}
