// Small readings of a job shared by the list's cells and dialogs: the words for an error, a status's colour.
import { ApiError } from "@/api/client";

type Translate = (key: string, named?: Record<string, unknown>) => string;

/** The service's own (already localized) message, or the network one when it could not be reached. */
export function describeError(error: unknown, t: Translate): string {
  if (error instanceof ApiError) return error.message;
  return t("common.networkError");
}

export type TagType = "default" | "info" | "success" | "warning" | "error";

/** The tag colour of a job status (always shown with its text, never alone). */
export function statusTagType(status: string): TagType {
  switch (status) {
    case "running":
      return "info";
    case "succeeded":
      return "success";
    case "partially_succeeded":
    case "paused":
    case "cancelling":
      return "warning";
    case "failed":
      return "error";
    default:
      return "default";
  }
}

/** Tag colours with AA contrast (≥ 4.5:1) in both themes; naive-ui's own warning tag is too faint on light. */
const TAG_COLORS: Record<"light" | "dark", Record<TagType, { color: string; textColor: string; borderColor: string }>> = {
  light: {
    default: { color: "#f0f0f2", textColor: "#374151", borderColor: "#d1d5db" },
    info: { color: "#e8f0fe", textColor: "#1d4ed8", borderColor: "#bfd3fb" },
    success: { color: "#e7f6ec", textColor: "#166534", borderColor: "#b7e2c4" },
    warning: { color: "#fdf1de", textColor: "#8a3c0c", borderColor: "#f3d19c" },
    error: { color: "#fdecea", textColor: "#b42318", borderColor: "#f5c2bc" },
  },
  dark: {
    default: { color: "rgba(255,255,255,0.08)", textColor: "#d1d5db", borderColor: "rgba(255,255,255,0.2)" },
    info: { color: "rgba(59,130,246,0.18)", textColor: "#93c5fd", borderColor: "rgba(147,197,253,0.35)" },
    success: { color: "rgba(34,197,94,0.16)", textColor: "#86efac", borderColor: "rgba(134,239,172,0.35)" },
    warning: { color: "rgba(245,158,11,0.16)", textColor: "#fcd34d", borderColor: "rgba(252,211,77,0.35)" },
    error: { color: "rgba(239,68,68,0.16)", textColor: "#fca5a5", borderColor: "rgba(252,165,165,0.35)" },
  },
};

export function statusTagColor(status: string, theme: "light" | "dark") {
  return TAG_COLORS[theme][statusTagType(status)];
}

/** "45/50 (90%)": the percent is floored, so a job shows 100% only when it is done. */
export function progressNumbers(job: { processed: number; total: number; progress: number }): {
  done: number;
  total: number;
  percent: number;
} {
  const percent = Math.max(0, Math.min(100, Math.floor(job.progress)));
  return { done: job.processed, total: job.total, percent };
}
