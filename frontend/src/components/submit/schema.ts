// The small part of JSON Schema a job type's params use (what Pydantic writes): resolving $ref, telling which
// kind of input a property needs, its starting value, checking a value before submit, and the params to send.

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  title_zh?: string;
  description?: string;
  description_zh?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
}

export type FieldKind =
  | "enum"
  | "boolean"
  | "integer"
  | "number"
  | "string"
  | "array"
  | "object"
  | "dict"
  | "any"
  | "json";

/** A property made ready for a form: its schema with $ref followed and a nullable union unwrapped. */
export interface Field {
  kind: FieldKind;
  schema: JsonSchema;
  nullable: boolean;
}

/** A value the person typed into a JSON field that does not parse; kept so the text is not lost. */
export class InvalidJson {
  constructor(readonly text: string) {}
}

export interface FieldError {
  path: string;
  key: string;
  values?: Record<string, string | number>;
}

const PRIMITIVES = new Set(["string", "number", "integer", "boolean"]);

/** The schema `schema` stands for: its $ref followed (#/$defs/… or any local pointer), one-entry allOf merged. */
export function resolve(schema: JsonSchema | undefined, root: JsonSchema, seen = 0): JsonSchema {
  if (!schema) return {};
  if (seen > 32) return {};
  if (schema.$ref) {
    const target = pointer(root, schema.$ref);
    const { $ref, ...siblings } = schema;
    return resolve({ ...target, ...siblings }, root, seen + 1);
  }
  if (schema.allOf && schema.allOf.length === 1) {
    const { allOf, ...rest } = schema;
    return resolve({ ...resolve(allOf[0], root, seen + 1), ...rest }, root, seen + 1);
  }
  return schema;
}

function pointer(root: JsonSchema, ref: string): JsonSchema {
  if (!ref.startsWith("#")) return {};
  const parts = ref
    .slice(1)
    .split("/")
    .filter((part) => part !== "")
    .map((part) => decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~"));
  let node: unknown = root;
  for (const part of parts) {
    if (node === null || typeof node !== "object") return {};
    node = (node as Record<string, unknown>)[part];
  }
  return node !== null && typeof node === "object" ? (node as JsonSchema) : {};
}

function isNullSchema(schema: JsonSchema): boolean {
  return schema.type === "null" || (schema.enum?.length === 1 && schema.enum[0] === null);
}

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type ? [schema.type] : [];
}

/** Which input a property needs; a union other than "X or null" becomes a JSON text field. */
export function fieldOf(raw: JsonSchema | undefined, root: JsonSchema): Field {
  let schema = resolve(raw, root);
  let nullable = false;
  const union = schema.anyOf ?? schema.oneOf;
  if (union) {
    const options = union.map((option) => resolve(option, root));
    const real = options.filter((option) => !isNullSchema(option));
    nullable = real.length < options.length;
    if (real.length !== 1) return { kind: "json", schema, nullable };
    const { anyOf, oneOf, ...outer } = schema;
    schema = { ...real[0], ...outer };
  }
  const types = typesOf(schema);
  if (types.includes("null")) nullable = true;
  const real = types.filter((type) => type !== "null");
  if (schema.enum && schema.enum.length > 0) {
    const values = schema.enum.filter((value) => value !== null);
    if (schema.enum.includes(null)) nullable = true;
    if (values.every((value) => ["string", "number", "boolean"].includes(typeof value))) {
      return { kind: "enum", schema, nullable };
    }
    return { kind: "json", schema, nullable };
  }
  if (real.length > 1) return { kind: "json", schema, nullable };
  const type = real[0];
  if (type === undefined) {
    if (schema.properties) return { kind: "object", schema, nullable };
    return { kind: "any", schema, nullable };
  }
  if (PRIMITIVES.has(type)) return { kind: type as FieldKind, schema, nullable };
  if (type === "array") return { kind: "array", schema, nullable };
  if (type === "object") {
    if (schema.properties && Object.keys(schema.properties).length > 0) return { kind: "object", schema, nullable };
    const values = schema.additionalProperties;
    if (typeof values === "object") {
      const inner = fieldOf(values, root);
      if (["string", "number", "integer", "boolean", "enum"].includes(inner.kind)) {
        return { kind: "dict", schema, nullable };
      }
    }
    return { kind: "json", schema, nullable };
  }
  return { kind: "json", schema, nullable };
}

/** The words to show: the Chinese title and description where the schema has them and the reader wants them. */
export function labelOf(schema: JsonSchema, name: string, locale: string): string {
  if (locale.startsWith("zh") && schema.title_zh) return schema.title_zh;
  return schema.title ?? name;
}

export function helpOf(schema: JsonSchema, locale: string): string | undefined {
  if (locale.startsWith("zh") && schema.description_zh) return schema.description_zh;
  return schema.description;
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** The value a new form starts with: each property's default; a required object or list is started empty. */
export function initialValue(raw: JsonSchema | undefined, root: JsonSchema, required = true): unknown {
  const field = fieldOf(raw, root);
  if (field.schema.default !== undefined) return clone(field.schema.default);
  switch (field.kind) {
    case "object": {
      if (!required) return undefined;
      const value: Record<string, unknown> = {};
      const needed = new Set(field.schema.required ?? []);
      for (const [name, property] of Object.entries(field.schema.properties ?? {})) {
        const start = initialValue(property, root, needed.has(name));
        if (start !== undefined) value[name] = start;
      }
      return value;
    }
    case "boolean":
      return required ? false : undefined;
    case "array":
      return required ? [] : undefined;
    case "enum":
      return required && field.schema.enum?.length === 1 ? field.schema.enum[0] : undefined;
    default:
      return undefined;
  }
}

/** An object's properties in the order the schema gives them, without the ones the page fills itself. */
export function propertiesOf(schema: JsonSchema, hidden: readonly string[] = []): [string, JsonSchema][] {
  return Object.entries(schema.properties ?? {}).filter(([name]) => !hidden.includes(name));
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === "";
}

function join(path: string, part: string | number): string {
  return path === "" ? String(part) : `${path}.${part}`;
}

/** Every reason the value does not fit the schema, each at its path ("filter.0.field"); `hidden` are skipped. */
export function validate(
  raw: JsonSchema | undefined,
  value: unknown,
  root: JsonSchema,
  path = "",
  hidden: readonly string[] = [],
): FieldError[] {
  const field = fieldOf(raw, root);
  const { schema } = field;
  const errors: FieldError[] = [];
  const fail = (key: string, values?: Record<string, string | number>): void => {
    errors.push({ path, key, values });
  };
  if (value instanceof InvalidJson) {
    fail("json");
    return errors;
  }
  if (isEmpty(value)) return errors;
  switch (field.kind) {
    case "integer":
    case "number": {
      if (typeof value !== "number" || Number.isNaN(value)) {
        fail("number");
        break;
      }
      if (field.kind === "integer" && !Number.isInteger(value)) fail("integer");
      if (schema.minimum !== undefined && value < schema.minimum) fail("min", { min: schema.minimum });
      if (schema.maximum !== undefined && value > schema.maximum) fail("max", { max: schema.maximum });
      if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
        fail("above", { min: schema.exclusiveMinimum });
      }
      if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) {
        fail("below", { max: schema.exclusiveMaximum });
      }
      break;
    }
    case "string": {
      const text = String(value);
      if (schema.minLength !== undefined && text.length < schema.minLength) fail("minLength", { n: schema.minLength });
      if (schema.maxLength !== undefined && text.length > schema.maxLength) fail("maxLength", { n: schema.maxLength });
      if (schema.pattern !== undefined) {
        try {
          if (!new RegExp(schema.pattern, "u").test(text)) fail("pattern");
        } catch {
          // a pattern this browser cannot read is left to the server
        }
      }
      break;
    }
    case "enum":
      if (!(schema.enum ?? []).includes(value)) fail("enum");
      break;
    case "array": {
      if (!Array.isArray(value)) {
        fail("json");
        break;
      }
      if (schema.minItems !== undefined && value.length < schema.minItems) fail("minItems", { n: schema.minItems });
      if (schema.maxItems !== undefined && value.length > schema.maxItems) fail("maxItems", { n: schema.maxItems });
      value.forEach((item, index) => {
        if (isEmpty(item) && !fieldOf(schema.items, root).nullable) fail("itemRequired");
        else errors.push(...validate(schema.items, item, root, join(path, index)));
      });
      break;
    }
    case "object": {
      if (typeof value !== "object" || Array.isArray(value)) {
        fail("json");
        break;
      }
      const record = value as Record<string, unknown>;
      const needed = new Set(schema.required ?? []);
      for (const [name, property] of propertiesOf(schema, hidden)) {
        const inner = record[name];
        const at = join(path, name);
        if (isEmpty(inner) && needed.has(name) && !(inner === null && fieldOf(property, root).nullable)) {
          errors.push({ path: at, key: "required" });
        } else {
          errors.push(...validate(property, inner, root, at));
        }
      }
      break;
    }
    case "dict": {
      const values = typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        if (key.trim() === "") fail("dictKey");
        errors.push(...validate(values, inner, root, join(path, key)));
      }
      break;
    }
    default:
      break;
  }
  return errors;
}

/** The params to send: empty optional inputs left out (the server applies its defaults), JSON text parsed. */
export function cleanValue(raw: JsonSchema | undefined, value: unknown, root: JsonSchema): unknown {
  const field = fieldOf(raw, root);
  if (value === "" || value === undefined) return undefined;
  if (value === null) return field.nullable || field.kind === "any" || field.kind === "json" ? null : undefined;
  switch (field.kind) {
    case "object": {
      const record = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const known = field.schema.properties ?? {};
      for (const [name, inner] of Object.entries(record)) {
        const cleaned = name in known ? cleanValue(known[name], inner, root) : inner;
        if (cleaned !== undefined) out[name] = cleaned;
      }
      return out;
    }
    case "array":
      return Array.isArray(value) ? value.map((item) => cleanValue(field.schema.items, item, root) ?? null) : value;
    default:
      return value;
  }
}

/** The params object a form's value sends, `hidden` properties (filled by the page) dropped. */
export function paramsFrom(
  schema: JsonSchema | null,
  value: Record<string, unknown>,
  hidden: readonly string[] = [],
): Record<string, unknown> {
  const visible = Object.fromEntries(Object.entries(value).filter(([name]) => !hidden.includes(name)));
  if (!schema) return visible;
  const cleaned = cleanValue({ ...schema, type: "object" }, visible, schema);
  return (cleaned ?? {}) as Record<string, unknown>;
}

/** The text a JSON field shows for a value. */
export function jsonText(value: unknown): string {
  if (value instanceof InvalidJson) return value.text;
  if (value === undefined) return "";
  return JSON.stringify(value, null, 2);
}

/** A JSON field's text read back: blank is no value, text that does not parse is kept as InvalidJson. */
export function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return new InvalidJson(text);
  }
}

/** A field of any type: JSON when it parses as JSON, otherwise the text as it is. */
export function parseLoose(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function looseText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") {
    // a string that would read back as something else (a number, true, null) is shown quoted
    try {
      JSON.parse(value);
      return JSON.stringify(value);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value);
}
