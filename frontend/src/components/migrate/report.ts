// A migration's report (GET /jobs/{id}/report) and its dry run (POST /job-types/migrate/preview), read
// defensively: the OpenAPI document types both only as objects, so each part is checked before it is shown.

export type VerifyStatus = "passed" | "failed" | "pending" | "off";

export interface RangeRow {
  range: number;
  lo: unknown;
  hi: unknown;
  read: number;
  written: number;
  rejected: number;
  skipped: number;
  /** true: both sides agree; false: they differ; null: not verified (yet). */
  verified: boolean | null;
}

export interface Mismatch {
  range: number;
  lo: unknown;
  hi: unknown;
  /** How many rows differ — may be more than the keys listed (a range keeps at most 1,000). */
  rows: number;
  keys: unknown[];
}

export interface ReportTable {
  source: string;
  resource: string;
  key: string;
  mode: string;
  /** Ranges planned, or null while planning has not finished. */
  ranges: number | null;
  rangesDone: number;
  read: number;
  written: number;
  rejected: number;
  skipped: number;
  durationSeconds: number;
  rowsPerSecond: number | null;
  largestRange: number;
  meanRange: number;
  verify: { status: VerifyStatus; rangesVerified: number; mismatchedRows: number; mismatches: Mismatch[] };
  rangeDetails: RangeRow[];
}

export interface RejectSample {
  range: number;
  key: unknown;
  reason: string;
  row: unknown;
}

export interface MigrationReport {
  jobId: number;
  status: string | null;
  dryRun: boolean;
  tables: ReportTable[];
  rejects: { count: number; maxRejects: number | null; sample: RejectSample[] };
}

type Raw = Record<string, unknown>;

function obj(value: unknown): Raw {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Raw) : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function numOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function str(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

const STATUSES: readonly VerifyStatus[] = ["passed", "failed", "pending", "off"];

function verifyStatus(value: unknown): VerifyStatus {
  return STATUSES.find((status) => status === value) ?? "pending";
}

function readRange(value: unknown): RangeRow {
  const r = obj(value);
  const verified = r.verified === true ? true : r.verified === false ? false : null;
  return {
    range: num(r.range),
    lo: r.lo ?? null,
    hi: r.hi ?? null,
    read: num(r.read),
    written: num(r.written),
    rejected: num(r.rejected),
    skipped: num(r.skipped),
    verified,
  };
}

function readMismatch(value: unknown): Mismatch {
  const m = obj(value);
  return { range: num(m.range), lo: m.lo ?? null, hi: m.hi ?? null, rows: num(m.rows), keys: list(m.keys) };
}

function readTable(value: unknown): ReportTable {
  const t = obj(value);
  const v = obj(t.verify);
  return {
    source: str(t.source),
    resource: str(t.resource),
    key: str(t.key),
    mode: str(t.mode),
    ranges: numOrNull(t.ranges),
    rangesDone: num(t.ranges_done),
    read: num(t.read),
    written: num(t.written),
    rejected: num(t.rejected),
    skipped: num(t.skipped),
    durationSeconds: num(t.duration_seconds),
    rowsPerSecond: numOrNull(t.rows_per_second),
    largestRange: num(t.largest_range),
    meanRange: num(t.mean_range),
    verify: {
      status: verifyStatus(v.status),
      rangesVerified: num(v.ranges_verified),
      mismatchedRows: num(v.mismatched_rows),
      mismatches: list(v.mismatches).map(readMismatch),
    },
    rangeDetails: list(t.range_details).map(readRange),
  };
}

function readReject(value: unknown): RejectSample {
  const r = obj(value);
  return { range: num(r.range), key: r.key ?? null, reason: str(r.reason), row: r.row ?? null };
}

/** The report, or null when the answer is not a migration's report. */
export function readReport(data: unknown): MigrationReport | null {
  const raw = obj(data);
  if (!Array.isArray(raw.tables)) return null;
  const rejects = obj(raw.rejects);
  return {
    jobId: num(raw.job_id),
    status: typeof raw.status === "string" ? raw.status : null,
    dryRun: raw.dry_run === true,
    tables: raw.tables.map(readTable),
    rejects: { count: num(rejects.count), maxRejects: numOrNull(rejects.max_rejects), sample: list(rejects.sample).map(readReject) },
  };
}

/** A range's own verification: what its row says, or "off" when the migration does not verify. */
export function rangeStatus(row: RangeRow, tableStatus: VerifyStatus): VerifyStatus {
  if (tableStatus === "off") return "off";
  if (row.verified === null) return "pending";
  return row.verified ? "passed" : "failed";
}

/** A key, a bound or a cell as text: strings as they are, anything else as JSON; nothing as "—". */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

// ---- the dry run ----

export interface DryRunRow {
  key: unknown;
  before: Raw;
  /** The row as the target would get it, or null when it would be rejected. */
  after: Raw | null;
  reasons: string[];
}

export interface DryRun {
  sourceColumns: string[];
  /** The target's fields, in the order the rows give them. */
  fields: string[];
  dropped: string[];
  checked: number;
  valid: number;
  rejected: number;
  rows: DryRunRow[];
}

function readDryRow(value: unknown): DryRunRow {
  const r = obj(value);
  const after = r.after !== null && typeof r.after === "object" && !Array.isArray(r.after) ? (r.after as Raw) : null;
  return { key: r.key ?? null, before: obj(r.before), after, reasons: list(r.reasons).map(str) };
}

/** The dry run, or null when the answer is not a migration's dry run. */
export function readDryRun(data: unknown): DryRun | null {
  const raw = obj(data);
  if (!Array.isArray(raw.rows) || !Array.isArray(raw.source_columns)) return null;
  const rows = raw.rows.map(readDryRow);
  const fields: string[] = [];
  for (const row of rows) for (const name of Object.keys(row.after ?? {})) if (!fields.includes(name)) fields.push(name);
  return {
    sourceColumns: raw.source_columns.map(str),
    fields,
    dropped: list(raw.dropped).map(str),
    checked: num(raw.checked),
    valid: num(raw.valid),
    rejected: num(raw.rejected),
    rows,
  };
}

/** The name a refusal such as "mapping: 'emial' is not a field of users (…)" is about: its first quoted word. */
export function namedInReason(reason: string): string | null {
  const found = /'([^']+)'/.exec(reason) ?? /"([^"]+)"/.exec(reason);
  return found ? found[1]! : null;
}

/** Page `page` (from 0) of `size` entries. */
export function pageOf<T>(entries: readonly T[], page: number, size: number): T[] {
  return entries.slice(page * size, (page + 1) * size);
}

export function pageCount(total: number, size: number): number {
  return Math.max(1, Math.ceil(total / size));
}
