// The rules under the bulk page: which comparisons a field offers, how typed text becomes a filter value, what
// params a form makes (or none while incomplete), how the preview's answer and keys are read, and when an update
// may be rolled back.
import { describe, expect, it } from "vitest";
import {
  keyText,
  opsFor,
  paramsOf,
  readPreview,
  rollbackOffered,
  signed,
  typedValue,
  type BulkForm,
} from "@/components/bulk/bulk";
import { CUSTOMERS, job, PREVIEW, PRODUCTS } from "./support";

const field = (name: string) => PRODUCTS.fields.find((f) => f.name === name)!;

function form(over: Partial<BulkForm> = {}): BulkForm {
  return { resource: "products", filter: [], kind: "set", set: [{ id: 1, field: "price", expression: " price * 2 " }], transform: "", apply: "chunked", ...over };
}

describe("filter comparisons and values", () => {
  it("offers text comparisons only for text, order not for booleans, emptiness only where a field may be empty", () => {
    expect(opsFor(field("name"))).toEqual(["eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "startswith"]);
    expect(opsFor(field("launched"))).toEqual(["eq", "ne", "lt", "le", "gt", "ge", "in", "is_null", "not_null"]);
    expect(opsFor(CUSTOMERS.fields[1]!)).toEqual(["eq", "ne"]);
  });

  it("types a value by its field's kind and names what is wrong", () => {
    expect(typedValue("integer", " 10 ")).toEqual({ value: 10 });
    expect(typedValue("integer", "2.5")).toEqual({ problem: "integer" });
    expect(typedValue("decimal", "19.99")).toEqual({ value: 19.99 });
    expect(typedValue("float", "abc")).toEqual({ problem: "number" });
    expect(typedValue("boolean", "true")).toEqual({ value: true });
    expect(typedValue("boolean", "yes")).toEqual({ problem: "boolean" });
    expect(typedValue("date", " 2025-01-31 ")).toEqual({ value: "2025-01-31" });
    expect(typedValue("text", " a b ")).toEqual({ value: " a b " });
    expect(typedValue("text", "  ")).toEqual({ problem: "value" });
  });
});

describe("params", () => {
  it("sends set as field → trimmed expression, or the transform instead", () => {
    expect(paramsOf(form(), PRODUCTS)).toEqual({ resource: "products", filter: [], apply: "chunked", set: { price: "price * 2" } });
    expect(paramsOf(form({ kind: "transform", transform: " vip_level ", apply: "atomic" }), PRODUCTS)).toEqual({
      resource: "products", filter: [], apply: "atomic", transform: "vip_level",
    });
  });

  it("makes none while a row is incomplete, a key field is written or nothing is", () => {
    expect(paramsOf(form({ filter: [{ id: 2, field: "stock", op: "gt", value: "" }] }), PRODUCTS)).toBeNull();
    expect(paramsOf(form({ set: [{ id: 1, field: "sku", expression: '"X"' }] }), PRODUCTS)).toBeNull();
    expect(paramsOf(form({ set: [] }), PRODUCTS)).toBeNull();
    expect(paramsOf(form({ kind: "transform" }), PRODUCTS)).toBeNull();
    expect(paramsOf(form({ resource: "customers" }), PRODUCTS)).toBeNull();
  });
});

describe("reading answers", () => {
  it("reads the preview, keys joined and missing parts empty", () => {
    const read = readPreview(PREVIEW);
    expect(read.samples[0]).toEqual({ key: "SKU000001", field: "price", before: "199.00", after: "208.95" });
    expect(read.totals).toEqual([{ field: "price", rows: 1230, before: "61500.00", after: "64575.00", delta: "3075.00" }]);
    expect(readPreview({})).toEqual({ matched: 0, changed: 0, unchanged: 0, failing: 0, samples: [], totals: [], failures: [] });
  });

  it("shows keys of one or more fields, as lists or as the images' JSON text", () => {
    expect(keyText(["SKU000001"])).toBe("SKU000001");
    expect(keyText('["2025",7]')).toBe("2025 · 7");
    expect(keyText("plain")).toBe("plain");
  });

  it("signs a positive delta only", () => {
    expect([signed("3075.00"), signed("-5"), signed("0"), signed("0.00")]).toEqual(["+3075.00", "-5", "0", "0.00"]);
  });

  it("offers a rollback for a finished update that changed rows, to those who may act", () => {
    expect(rollbackOffered(job(), true)).toBe(true);
    expect(rollbackOffered(job(), false)).toBe(false);
    expect(rollbackOffered(job({ status: "cancelled", succeeded: 10 }), true)).toBe(true);
    expect(rollbackOffered(job({ status: "paused" }), true)).toBe(false);
    expect(rollbackOffered(job({ succeeded: 0 }), true)).toBe(false);
    expect(rollbackOffered(job({ type: "bulk_rollback" }), true)).toBe(false);
  });
});
