// What a SchemaForm hands to every field below it, however deep: the root schema ($ref targets), the errors
// found so far, and the choices the page knows for some property names (e.g. the resources for `resource`).
import type { ComputedRef, InjectionKey } from "vue";
import type { FieldError, JsonSchema } from "./schema";

export type Choice = {
  label: string;
  value: string;
};

export interface FormContext {
  root: ComputedRef<JsonSchema>;
  errors: ComputedRef<Map<string, FieldError[]>>;
  choices: ComputedRef<Record<string, Choice[]>>;
  idPrefix: string;
}

export const FORM_CONTEXT: InjectionKey<FormContext> = Symbol("schema-form");

let counter = 0;
/** A prefix for element ids unique to one form on the page. */
export function nextFormId(): string {
  counter += 1;
  return `sf${counter}`;
}

/** An element id for a field path ("filter.0.field"), safe in any selector. */
export function fieldId(prefix: string, path: string): string {
  return `${prefix}-${[...path].map((c) => (/[A-Za-z0-9_-]/.test(c) ? c : `_${c.codePointAt(0)}`)).join("")}`;
}
