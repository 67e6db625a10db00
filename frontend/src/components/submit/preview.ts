// The answer of POST /job-types/{type}/preview for a table import, read defensively: the OpenAPI document types
// it only as an object, so each part is checked before it is shown.

export interface PreviewReason {
  field: string | null;
  en: string;
  zh: string;
}

export interface PreviewRow {
  line: number;
  cells: string[];
  valid: boolean;
  reasons: PreviewReason[];
}

export interface ImportPreview {
  format: string | null;
  encoding: string | null;
  header: string[];
  columns: { column: string; field: string | null }[];
  unmapped: string[];
  missing: string[];
  repeated: string[];
  ready: boolean;
  rows: PreviewRow[];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => (v === null || v === undefined ? "" : String(v))) : [];
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** The preview, or null when the answer is not an import's preview (another type's, or none). */
export function readPreview(data: unknown): ImportPreview | null {
  if (data === null || typeof data !== "object") return null;
  const raw = data as Record<string, unknown>;
  if (!Array.isArray(raw.columns) || !Array.isArray(raw.rows)) return null;
  return {
    format: text(raw.format),
    encoding: text(raw.encoding),
    header: strings(raw.header),
    columns: raw.columns.map((entry) => {
      const column = (entry ?? {}) as Record<string, unknown>;
      return { column: String(column.column ?? ""), field: text(column.field) };
    }),
    unmapped: strings(raw.unmapped),
    missing: strings(raw.missing),
    repeated: strings(raw.repeated),
    ready: raw.ready === true,
    rows: raw.rows.map((entry) => {
      const row = (entry ?? {}) as Record<string, unknown>;
      const reasons = Array.isArray(row.reasons) ? row.reasons : [];
      return {
        line: typeof row.line === "number" ? row.line : 0,
        cells: strings(row.cells),
        valid: row.valid === true,
        reasons: reasons.map((reason) => {
          const r = (reason ?? {}) as Record<string, unknown>;
          const en = typeof r.en === "string" ? r.en : String(r.message ?? "");
          return { field: text(r.field), en, zh: typeof r.zh === "string" ? r.zh : en };
        }),
      };
    }),
  };
}

/** A reason in the reader's language. */
export function reasonText(reason: PreviewReason, locale: string): string {
  return locale.startsWith("zh") ? reason.zh : reason.en;
}

/** The column indexes a row's reasons point at (through the field each column feeds). */
export function failingColumns(preview: ImportPreview, row: PreviewRow): Set<number> {
  const fields = new Set(row.reasons.map((reason) => reason.field).filter((field): field is string => field !== null));
  const found = new Set<number>();
  preview.columns.forEach((column, index) => {
    if (column.field !== null && fields.has(column.field)) found.add(index);
  });
  return found;
}
