// What the bulk-update page sends and reads: the form's rows turned into `bulk_update` params (filter values in
// their field's type, `set` as field → expression), the preview's answer read defensively, and when a finished
// update may be rolled back.
import type { Job, Schemas } from "@/api/client";

export type Resource = Schemas["ResourceOut"];
export type ResourceField = Schemas["ResourceFieldOut"];

/** The comparisons the export filter (and so a bulk update's filter) takes. */
export const OPS = ["eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "startswith", "is_null", "not_null"] as const;
export type Op = (typeof OPS)[number];
export const NULL_OPS: ReadonlySet<Op> = new Set(["is_null", "not_null"]);
const TEXT_OPS: ReadonlySet<Op> = new Set(["contains", "startswith"]);
const ORDER_OPS: ReadonlySet<Op> = new Set(["lt", "le", "gt", "ge", "in"]);
const NUMERIC = new Set(["integer", "decimal", "float"]);

export const APPLY_MODES = ["chunked", "atomic"] as const;
export type ApplyMode = (typeof APPLY_MODES)[number];
export type ChangeKind = "set" | "transform";

/** Written as examples next to the expression inputs; code, so the same in every language. */
export const EXPRESSION_EXAMPLES = ["round(price * 1.05, 2)", "coalesce(stock, 0) + 10", '"text in quotes"'];

export interface FilterRow {
  id: number;
  field: string | null;
  op: Op;
  value: string;
}

export interface SetRow {
  id: number;
  field: string | null;
  expression: string;
}

export interface BulkForm {
  resource: string | null;
  filter: FilterRow[];
  kind: ChangeKind;
  set: SetRow[];
  transform: string;
  apply: ApplyMode;
}

export interface FilterTerm {
  field: string;
  op: Op;
  value?: unknown;
}

export interface BulkParams {
  resource: string;
  filter: FilterTerm[];
  apply: ApplyMode;
  set?: Record<string, string>;
  transform?: string;
}

/** Why a row of the form cannot be sent yet; the page words it. */
export type RowProblem = "field" | "value" | "number" | "integer" | "boolean" | "expression";

export function fieldOf(resource: Resource | null, name: string | null): ResourceField | null {
  return resource?.fields.find((field) => field.name === name) ?? null;
}

/** The comparisons that make sense for a field: text ones for text, order for what can be ordered, emptiness
 * for fields that may be empty. */
export function opsFor(field: ResourceField | null): Op[] {
  if (!field) return ["eq"];
  return OPS.filter((op) => {
    if (TEXT_OPS.has(op)) return field.kind === "text";
    if (ORDER_OPS.has(op)) return field.kind !== "boolean";
    if (NULL_OPS.has(op)) return field.nullable;
    return true;
  });
}

/** The fields a `set` row may write: every one but the key, which a bulk update cannot change. */
export function settableFields(resource: Resource | null): ResourceField[] {
  return resource ? resource.fields.filter((field) => !resource.key.includes(field.name)) : [];
}

/** One value typed as its field's kind; a problem instead when the text cannot be one. */
export function typedValue(kind: string, text: string): { value: unknown } | { problem: RowProblem } {
  const trimmed = text.trim();
  if (trimmed === "") return { problem: "value" };
  if (NUMERIC.has(kind)) {
    const n = Number(trimmed);
    if (!Number.isFinite(n)) return { problem: "number" };
    if (kind === "integer" && !Number.isInteger(n)) return { problem: "integer" };
    return { value: n };
  }
  if (kind === "boolean") {
    if (trimmed === "true" || trimmed === "false") return { value: trimmed === "true" };
    return { problem: "boolean" };
  }
  return { value: kind === "text" ? text : trimmed };
}

/** A filter row as the service takes it, or why it cannot be: `in` takes values separated by commas. */
export function filterTerm(row: FilterRow, resource: Resource | null): FilterTerm | { problem: RowProblem } {
  const field = fieldOf(resource, row.field);
  if (!field) return { problem: "field" };
  if (NULL_OPS.has(row.op)) return { field: field.name, op: row.op };
  if (row.op === "in") {
    const parts = row.value.split(",").filter((part) => part.trim() !== "");
    if (parts.length === 0) return { problem: "value" };
    const typed = parts.map((part) => typedValue(field.kind, field.kind === "text" ? part.trim() : part));
    const bad = typed.find((one) => "problem" in one);
    if (bad && "problem" in bad) return bad;
    return { field: field.name, op: "in", value: typed.map((one) => ("value" in one ? one.value : null)) };
  }
  const typed = typedValue(TEXT_OPS.has(row.op) ? "text" : field.kind, row.value);
  return "problem" in typed ? typed : { field: field.name, op: row.op, value: typed.value };
}

export function setProblem(row: SetRow, resource: Resource | null): RowProblem | null {
  if (!settableFields(resource).some((field) => field.name === row.field)) return "field";
  return row.expression.trim() === "" ? "expression" : null;
}

/** Each row's problem by its id (filter and set rows alike); empty when the form can be sent. */
export function formProblems(form: BulkForm, resource: Resource | null): Map<number, RowProblem> {
  const found = new Map<number, RowProblem>();
  for (const row of form.filter) {
    const term = filterTerm(row, resource);
    if ("problem" in term) found.set(row.id, term.problem);
  }
  if (form.kind === "set") {
    for (const row of form.set) {
      const problem = setProblem(row, resource);
      if (problem) found.set(row.id, problem);
    }
  }
  return found;
}

/** The params, or null while the form is incomplete (no resource, no change, a row with a problem). */
export function paramsOf(form: BulkForm, resource: Resource | null): BulkParams | null {
  if (!resource || form.resource !== resource.name || formProblems(form, resource).size > 0) return null;
  const filter = form.filter.map((row) => filterTerm(row, resource) as FilterTerm);
  const params: BulkParams = { resource: resource.name, filter, apply: form.apply };
  if (form.kind === "transform") {
    if (form.transform.trim() === "") return null;
    return { ...params, transform: form.transform.trim() };
  }
  if (form.set.length === 0) return null;
  return { ...params, set: Object.fromEntries(form.set.map((row) => [row.field as string, row.expression.trim()])) };
}

// ---- the preview ----

export interface Diff {
  key: string;
  field: string;
  before: string;
  after: string;
}
export interface Total {
  field: string;
  rows: number;
  before: string;
  after: string;
  delta: string;
}
export interface Failure {
  key: string;
  reason: string;
}
export interface Preview {
  matched: number;
  changed: number;
  unchanged: number;
  failing: number;
  samples: Diff[];
  totals: Total[];
  failures: Failure[];
}

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0);
const record = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** A value as a cell shows it: text as is, empty as "null", anything else as JSON. */
export function shown(value: unknown): string {
  if (value === null || value === undefined) return "null";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A row's key as the preview lists it: its values, joined ("SKU000001", or "2025 · A" for two fields). The
 * rollback's items carry the same key as JSON text. */
export function keyText(key: unknown): string {
  let value = key;
  if (typeof value === "string" && value.startsWith("[")) {
    try {
      value = JSON.parse(value);
    } catch {
      return String(key);
    }
  }
  return Array.isArray(value) ? value.map(shown).join(" · ") : shown(value);
}

export function readPreview(answer: Record<string, unknown>): Preview {
  const samples = list(answer.samples).map((one) => {
    const diff = record(one);
    return { key: keyText(diff.key), field: String(diff.field ?? ""), before: shown(diff.before), after: shown(diff.after) };
  });
  const totals = Object.entries(record(answer.totals)).map(([field, one]) => {
    const total = record(one);
    return { field, rows: count(total.rows), before: shown(total.before), after: shown(total.after), delta: shown(total.delta) };
  });
  const failures = list(answer.failures).map((one) => {
    const failure = record(one);
    return { key: keyText(failure.key), reason: shown(failure.reason) };
  });
  return {
    matched: count(answer.matched),
    changed: count(answer.changed),
    unchanged: count(answer.unchanged),
    failing: count(answer.failing),
    samples,
    totals,
    failures,
  };
}

/** A delta with its sign: "+52.50", "-3", "0". */
export function signed(delta: string): string {
  if (delta.startsWith("-") || /^0+(\.0+)?$/.test(delta)) return delta;
  return `+${delta}`;
}

// ---- rolling back ----

const FINISHED = new Set(["succeeded", "partially_succeeded", "failed", "cancelled"]);

export function isFinished(job: Pick<Job, "status">): boolean {
  return FINISHED.has(job.status);
}

/** A finished bulk update that changed rows may be rolled back, by whoever may act (the service has the last
 * word: a second rollback is refused with its reason). */
export function rollbackOffered(job: Pick<Job, "type" | "status" | "succeeded">, canAct: boolean): boolean {
  return canAct && job.type === "bulk_update" && isFinished(job) && job.succeeded > 0;
}
