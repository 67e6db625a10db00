// What a job type's files must be (types, size, how many) and the checks made in the browser before a byte is
// sent, so a GIF, an oversized file or the 51st file is refused at once, each with its reason. The rules are the
// service's own (GET /job-types: `accepts`, `max_file_bytes`, `max_items`); the server checks every file again.
import type { Schemas } from "@/api/client";
import type { JsonSchema } from "./schema";

export type JobType = Schemas["JobTypeOut"];

export const TEXT_TYPE = "text/plain";
export const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

export interface UploadRules {
  /** Content types the server takes (found from the bytes), or null for any. */
  accepts: string[] | null;
  /** The largest file the server takes for this type, or null when it keeps no files. */
  maxBytes: number | null;
  /** The most files one job takes, or null for no limit. */
  maxFiles: number | null;
}

/** How a job type gets its input: files it reads itself (an import), items (files or typed), or neither. */
export type InputMode = "source-files" | "items" | "none";

function schemaOf(type: JobType): JsonSchema | null {
  return (type.params_schema as JsonSchema | null) ?? null;
}

/** A type with a source reads the files named by an `upload_ids` param (given beside the params at submit). */
export function inputModeOf(type: JobType): InputMode {
  if (type.takes_items) return "items";
  return schemaOf(type)?.properties?.upload_ids ? "source-files" : "none";
}

/** Whether the type's items are best given as files (rather than typed) when the form opens. */
export function filesByDefault(type: JobType): boolean {
  return inputModeOf(type) === "source-files" || type.accepts !== null;
}

export function rulesFor(type: JobType): UploadRules {
  let maxFiles = type.max_items ?? null;
  if (inputModeOf(type) === "source-files") {
    // a source reads the one file it is given unless its schema says it takes more
    maxFiles = schemaOf(type)?.properties?.upload_ids?.maxItems ?? 1;
  }
  return { accepts: type.accepts, maxBytes: type.max_file_bytes, maxFiles };
}

/** The file names and browser types that stand for each content type the server finds from the bytes. */
const SIGNS: Record<string, { extensions: string[]; mimes: string[]; label: string }> = {
  "image/jpeg": { extensions: ["jpg", "jpeg", "jfif", "jpe"], mimes: ["image/jpeg", "image/pjpeg"], label: "JPEG" },
  "image/png": { extensions: ["png"], mimes: ["image/png"], label: "PNG" },
  "image/webp": { extensions: ["webp"], mimes: ["image/webp"], label: "WebP" },
  [TEXT_TYPE]: {
    extensions: ["csv", "tsv", "txt"],
    mimes: ["text/plain", "text/csv", "text/tab-separated-values", "application/csv", "application/vnd.ms-excel"],
    label: "CSV / TXT",
  },
  [XLSX_TYPE]: { extensions: ["xlsx"], mimes: [XLSX_TYPE], label: "Excel (.xlsx)" },
};

/** Extensions of types a browser names reliably, so a file with one of them is judged by it. */
const RECOGNISED = new Set([
  ...Object.values(SIGNS).flatMap((sign) => sign.extensions),
  "gif", "bmp", "tif", "tiff", "heic", "heif", "avif", "svg", "pdf", "zip", "gz", "doc", "docx", "xls", "ppt",
  "pptx", "mp4", "mov", "mp3", "html", "htm", "json", "xml", "exe",
]);

export function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

export function acceptedLabel(rules: UploadRules): string {
  return (rules.accepts ?? []).map((type) => SIGNS[type]?.label ?? type).join(", ");
}

/** The picker's `accept` attribute (a hint only: every file is checked anyway). */
export function acceptAttribute(rules: UploadRules): string | undefined {
  if (!rules.accepts) return undefined;
  const parts = rules.accepts.flatMap((type) => {
    const sign = SIGNS[type];
    return sign ? [...sign.extensions.map((ext) => `.${ext}`), ...sign.mimes] : [type];
  });
  return [...new Set(parts)].join(",");
}

/** Whether the file is of an accepted type, as far as its name and browser type tell; unknown ones pass on. */
export function typeAccepted(file: { name: string; type: string }, accepts: string[] | null): boolean {
  if (!accepts) return true;
  const ext = extensionOf(file.name);
  const mime = file.type.toLowerCase();
  const signs = accepts.map((type) => SIGNS[type] ?? { extensions: [], mimes: [type], label: type });
  if (ext && signs.some((sign) => sign.extensions.includes(ext))) return true;
  if (mime && signs.some((sign) => sign.mimes.includes(mime))) return true;
  if (ext && RECOGNISED.has(ext)) return false;
  if (mime && mime !== "application/octet-stream") return false;
  return true; // nothing to judge by: the server finds the type from the bytes
}

export type ClientRejection =
  | { code: "empty" }
  | { code: "tooLarge"; limit: number }
  | { code: "type"; accepted: string }
  | { code: "tooMany"; limit: number };

/**
 * Why the file cannot be sent, or null. `taken` is how many files are already kept or on their way for this
 * job; the file past `maxFiles` is refused.
 */
export function checkFile(
  file: { name: string; size: number; type: string },
  rules: UploadRules,
  taken: number,
): ClientRejection | null {
  if (!typeAccepted(file, rules.accepts)) return { code: "type", accepted: acceptedLabel(rules) };
  if (file.size === 0) return { code: "empty" };
  if (rules.maxBytes !== null && file.size > rules.maxBytes) return { code: "tooLarge", limit: rules.maxBytes };
  if (rules.maxFiles !== null && taken >= rules.maxFiles) return { code: "tooMany", limit: rules.maxFiles };
  return null;
}

/** A size in the units the service states its limits in (1 MB = 1,000,000 bytes), so "10 MB" matches it. */
export function formatSize(bytes: number): string {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  if (unit === 0) return `${value} B`;
  const text = value.toFixed(value >= 100 || Number.isInteger(value) ? 0 : 1);
  return `${text} ${units[unit]}`;
}
