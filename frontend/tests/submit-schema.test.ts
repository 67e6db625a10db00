// The params schema reader behind the new-job form: each shape the job types use ($defs/$ref, enums, defaults,
// numbers with bounds, booleans, strings, lists of objects, "X or null"), the checks made before submit, and
// the params that are sent.
import { describe, expect, it } from "vitest";
import {
  cleanValue,
  fieldOf,
  initialValue,
  InvalidJson,
  labelOf,
  paramsFrom,
  parseJson,
  parseLoose,
  resolve,
  validate,
  type JsonSchema,
} from "@/components/submit/schema";

// The export type's params schema as the demo serves it (GET /api/v1/job-types).
const EXPORT: JsonSchema = {
  $defs: {
    ExportFilter: {
      additionalProperties: false,
      properties: {
        field: { minLength: 1, title: "Field", type: "string" },
        op: { default: "eq", enum: ["eq", "ne", "lt", "in", "is_null"], title: "Op", type: "string" },
        value: { default: null, title: "Value" },
      },
      required: ["field"],
      title: "ExportFilter",
      type: "object",
    },
  },
  properties: {
    resource: { minLength: 1, title: "Resource", type: "string" },
    format: { default: "csv", enum: ["csv", "xlsx", "jsonl"], title: "Format", type: "string" },
    columns: { anyOf: [{ items: { type: "string" }, type: "array" }, { type: "null" }], default: null, title: "Columns" },
    filter: { items: { $ref: "#/$defs/ExportFilter" }, title: "Filter", type: "array" },
    order_by: { anyOf: [{ type: "string" }, { type: "null" }], default: null, title: "Order By" },
    bom: { default: false, title: "Bom", type: "boolean" },
  },
  required: ["resource"],
  title: "ExportParams",
  type: "object",
};

const IMAGES: JsonSchema = {
  properties: {
    brightness: { default: 1.0, maximum: 3.0, minimum: 0.2, title: "Brightness", title_zh: "亮度", type: "number" },
    max_side: {
      anyOf: [{ maximum: 8000, minimum: 16, type: "integer" }, { type: "null" }],
      default: null,
      title: "Longest side (pixels)",
    },
    quality: { default: 90, maximum: 100, minimum: 1, title: "Quality", type: "integer" },
    auto_orient: { default: true, title: "Auto-rotate", type: "boolean" },
  },
  type: "object",
};

const IMPORT: JsonSchema = {
  properties: {
    resource: { minLength: 1, title: "Resource", type: "string" },
    mapping: {
      anyOf: [{ additionalProperties: { type: "string" }, type: "object" }, { type: "null" }],
      default: null,
      title: "Mapping",
    },
    upload_ids: { items: { type: "integer" }, title: "Upload Ids", type: "array" },
  },
  required: ["resource"],
  type: "object",
};

describe("reading a property", () => {
  it("follows a $ref into $defs", () => {
    const filter = resolve(EXPORT.properties!.filter!.items, EXPORT);
    expect(filter.title).toBe("ExportFilter");
    expect(filter.required).toEqual(["field"]);
    expect(fieldOf(EXPORT.properties!.filter!.items, EXPORT).kind).toBe("object");
  });

  it.each([
    ["resource", "string", false],
    ["format", "enum", false],
    ["columns", "array", true],
    ["filter", "array", false],
    ["order_by", "string", true],
    ["bom", "boolean", false],
  ])("export %s is a %s field (nullable %s)", (name, kind, nullable) => {
    const field = fieldOf(EXPORT.properties![name], EXPORT);
    expect(field.kind).toBe(kind);
    expect(field.nullable).toBe(nullable);
  });

  it("unwraps 'integer or null' keeping its bounds", () => {
    const field = fieldOf(IMAGES.properties!.max_side, IMAGES);
    expect(field).toMatchObject({ kind: "integer", nullable: true });
    expect(field.schema.minimum).toBe(16);
    expect(field.schema.title).toBe("Longest side (pixels)");
  });

  it("reads a string-valued dictionary as one, an untyped value as free, other unions as JSON", () => {
    expect(fieldOf(IMPORT.properties!.mapping, IMPORT).kind).toBe("dict");
    expect(fieldOf({ default: null, title: "Value" }, EXPORT).kind).toBe("any");
    expect(fieldOf({ anyOf: [{ type: "string" }, { type: "integer" }] }, EXPORT).kind).toBe("json");
    expect(fieldOf({ type: "object", additionalProperties: true }, EXPORT).kind).toBe("json");
  });

  it("uses the Chinese title where the schema has one and the reader reads Chinese", () => {
    const brightness = IMAGES.properties!.brightness!;
    expect(labelOf(brightness, "brightness", "zh-CN")).toBe("亮度");
    expect(labelOf(brightness, "brightness", "en")).toBe("Brightness");
    expect(labelOf({}, "quality", "en")).toBe("quality");
  });
});

describe("starting values", () => {
  it("takes each default and starts a required list empty", () => {
    expect(initialValue(EXPORT, EXPORT)).toEqual({ format: "csv", columns: null, order_by: null, bom: false });
    expect(initialValue(IMAGES, IMAGES)).toEqual({ brightness: 1, max_side: null, quality: 90, auto_orient: true });
  });

  it("starts a new filter entry from its $ref'd defaults", () => {
    expect(initialValue(EXPORT.properties!.filter!.items, EXPORT)).toEqual({ op: "eq", value: null });
  });

  it("gives each form its own copy of an object default", () => {
    const schema: JsonSchema = { type: "object", properties: { tags: { type: "array", default: ["a"] } } };
    const first = initialValue(schema, schema) as { tags: string[] };
    first.tags.push("b");
    expect(initialValue(schema, schema)).toEqual({ tags: ["a"] });
  });
});

describe("checks before submit", () => {
  it("finds a missing required field", () => {
    const errors = validate(EXPORT, { format: "csv" }, EXPORT);
    expect(errors).toEqual([{ path: "resource", key: "required" }]);
  });

  it("treats an empty string as missing", () => {
    expect(validate(EXPORT, { resource: "" }, EXPORT)).toEqual([{ path: "resource", key: "required" }]);
  });

  it("finds numbers out of bounds, and a fraction where a whole number is wanted", () => {
    const errors = validate(IMAGES, { brightness: 0.1, quality: 101, max_side: 100.5 }, IMAGES);
    expect(errors).toEqual([
      { path: "brightness", key: "min", values: { min: 0.2 } },
      { path: "max_side", key: "integer", values: undefined },
      { path: "quality", key: "max", values: { max: 100 } },
    ]);
    expect(validate(IMAGES, { brightness: 3, quality: 1, max_side: null }, IMAGES)).toEqual([]);
  });

  it("checks each entry of a list of $ref'd objects at its own path", () => {
    const errors = validate(EXPORT, { resource: "products", filter: [{ field: "sku" }, { op: "eq" }, { field: "" }] }, EXPORT);
    expect(errors.map((e) => `${e.path}:${e.key}`)).toEqual(["filter.1.field:required", "filter.2.field:required"]);
  });

  it("refuses a value not among the enum, and JSON that does not parse", () => {
    const schema: JsonSchema = { type: "object", properties: { f: EXPORT.properties!.format!, j: { anyOf: [{ type: "string" }, { type: "integer" }] } } };
    const errors = validate(schema, { f: "pdf", j: new InvalidJson("{oops") }, schema);
    expect(errors.map((e) => `${e.path}:${e.key}`)).toEqual(["f:enum", "j:json"]);
  });

  it("skips the properties the page fills itself", () => {
    const errors = validate(IMPORT, { resource: "products" }, IMPORT, "", ["upload_ids"]);
    expect(errors).toEqual([]);
  });
});

describe("the params sent", () => {
  it("leaves out blank optional inputs and hidden properties, keeps chosen nulls", () => {
    const value = { resource: "products", format: "csv", order_by: "", columns: null, bom: false, upload_ids: [3] };
    expect(paramsFrom(EXPORT, value, ["upload_ids"])).toEqual({ resource: "products", format: "csv", columns: null, bom: false });
  });

  it("sends a list of objects as given", () => {
    const sent = cleanValue(EXPORT, { resource: "orders", filter: [{ field: "status", op: "in", value: ["paid"] }] }, EXPORT);
    expect(sent).toEqual({ resource: "orders", filter: [{ field: "status", op: "in", value: ["paid"] }] });
  });

  it("reads JSON text strictly and free text loosely", () => {
    expect(parseJson('{"a": 1}')).toEqual({ a: 1 });
    expect(parseJson("{a: 1}")).toBeInstanceOf(InvalidJson);
    expect(parseJson("  ")).toBeUndefined();
    expect(parseLoose("12")).toBe(12);
    expect(parseLoose("paid")).toBe("paid");
  });
});
