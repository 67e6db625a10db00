// The params form as a person uses it: labels and help from the schema, each shape drawn as its input, the
// checks shown beside the fields before submit, and the value the page gets back.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { defineComponent, h, ref, type Ref } from "vue";
import SchemaForm from "@/components/submit/SchemaForm.vue";
import { initialValue, InvalidJson, type JsonSchema } from "@/components/submit/schema";
import { i18n } from "@/i18n";

const EXPORT: JsonSchema = {
  $defs: {
    ExportFilter: {
      properties: {
        field: { minLength: 1, title: "Field", type: "string" },
        op: { default: "eq", enum: ["eq", "ne", "in"], title: "Op", type: "string" },
        value: { default: null, title: "Value" },
      },
      required: ["field"],
      title: "ExportFilter",
      type: "object",
    },
  },
  description: "What to export.",
  properties: {
    resource: { minLength: 1, title: "Resource", type: "string" },
    format: { default: "csv", enum: ["csv", "xlsx", "jsonl"], title: "Format", type: "string" },
    filter: { description: "Terms that must all hold.", items: { $ref: "#/$defs/ExportFilter" }, title: "Filter", type: "array" },
    gzip: { default: false, description: "Compress the file with gzip.", title: "Gzip", type: "boolean" },
    extra: { anyOf: [{ type: "string" }, { type: "integer" }], title: "Extra" },
  },
  required: ["resource"],
  title: "ExportParams",
  type: "object",
};

const IMAGES: JsonSchema = {
  properties: {
    brightness: {
      default: 1.0,
      description: "1.0 keeps the image as it is.",
      description_zh: "1.0 为原图。",
      maximum: 3.0,
      minimum: 0.2,
      title: "Brightness",
      title_zh: "亮度",
      type: "number",
    },
    max_side: { anyOf: [{ maximum: 8000, minimum: 16, type: "integer" }, { type: "null" }], default: null, title: "Longest side" },
  },
  type: "object",
};

const IMPORT: JsonSchema = {
  properties: {
    resource: { minLength: 1, title: "Resource", type: "string" },
    mapping: { anyOf: [{ additionalProperties: { type: "string" }, type: "object" }, { type: "null" }], default: null, title: "Mapping" },
    upload_ids: { items: { type: "integer" }, title: "Upload Ids", type: "array" },
  },
  required: ["resource"],
  type: "object",
};

interface Mounted {
  wrapper: VueWrapper;
  value: Ref<Record<string, unknown>>;
  validate(): boolean;
}

let mounted: VueWrapper | null = null;
afterEach(() => {
  mounted?.unmount();
  mounted = null;
  i18n.global.locale.value = "zh-CN";
});

function mountForm(schema: JsonSchema | null, options: { hidden?: string[]; locale?: "en" | "zh-CN"; choices?: Record<string, { label: string; value: string }[]> } = {}): Mounted {
  i18n.global.locale.value = options.locale ?? "en";
  const value = ref<Record<string, unknown>>(
    schema ? ((initialValue(schema, schema) ?? {}) as Record<string, unknown>) : {},
  );
  const form = ref<{ validate(): boolean } | null>(null);
  const Host = defineComponent({
    setup: () => () =>
      h(SchemaForm, {
        ref: form,
        schema,
        hidden: options.hidden ?? [],
        choices: options.choices ?? {},
        modelValue: value.value,
        "onUpdate:modelValue": (next: Record<string, unknown>) => (value.value = next),
      }),
  });
  const wrapper = mount(Host, { global: { plugins: [i18n] }, attachTo: document.body });
  mounted = wrapper;
  return { wrapper, value, validate: () => form.value!.validate() };
}

function errorsAt(wrapper: VueWrapper, path: string): string[] {
  return wrapper.find(`[data-test="schema-field-${path}"]`).findAll(":scope > [data-test=field-error]").map((e) => e.text());
}

describe("SchemaForm", () => {
  it("labels fields by their titles, explains them by their descriptions, marks the required", () => {
    const { wrapper } = mountForm(EXPORT);
    const resource = wrapper.find('[data-test="schema-field-resource"]');
    const label = resource.find("label");
    expect(label.text()).toContain("Resource");
    expect(label.text()).toContain("*");
    // the label names the input
    expect(resource.find(`#${label.attributes("for")}`).element.tagName).toBe("INPUT");
    expect(wrapper.text()).toContain("What to export.");
    expect(wrapper.find('[data-test="schema-field-gzip"]').text()).toContain("Compress the file with gzip.");
  });

  it("shows the Chinese titles and the range of a bounded number", () => {
    const { wrapper } = mountForm(IMAGES, { locale: "zh-CN" });
    const brightness = wrapper.find('[data-test="schema-field-brightness"]');
    expect(brightness.text()).toContain("亮度");
    expect(brightness.text()).toContain("1.0 为原图。");
    expect(brightness.text()).toContain("取值 0.2 至 3。");
  });

  it("says what is required before submit, and clears it once filled", async () => {
    const { wrapper, validate } = mountForm(EXPORT);
    expect(errorsAt(wrapper, "resource")).toEqual([]);
    expect(validate()).toBe(false);
    await flushPromises();
    expect(errorsAt(wrapper, "resource")).toEqual(["⚠ Required."]);
    const input = wrapper.find('[data-test="schema-field-resource"] input');
    expect(input.attributes("aria-invalid")).toBe("true");
    await input.setValue("products");
    await flushPromises();
    expect(errorsAt(wrapper, "resource")).toEqual([]);
    expect(validate()).toBe(true);
  });

  it("refuses a number out of its bounds and sends a number in them", async () => {
    const { wrapper, value, validate } = mountForm(IMAGES);
    const input = wrapper.find('[data-test="schema-field-brightness"] input');
    await input.setValue("0.1");
    await flushPromises();
    expect(value.value.brightness).toBe(0.1);
    expect(validate()).toBe(false);
    await flushPromises();
    expect(errorsAt(wrapper, "brightness")).toEqual(["⚠ Must be at least 0.2."]);
    await input.setValue("3.5");
    await flushPromises();
    expect(errorsAt(wrapper, "brightness")).toEqual(["⚠ Must be at most 3."]);
    await input.setValue("2");
    await flushPromises();
    expect(errorsAt(wrapper, "brightness")).toEqual([]);
  });

  it("adds an entry to a list of $ref'd objects, with its own fields and checks", async () => {
    const { wrapper, value, validate } = mountForm({ ...EXPORT, required: [] });
    await wrapper.find('[data-test="add-filter"]').trigger("click");
    await flushPromises();
    expect(value.value.filter).toEqual([{ op: "eq", value: null }]);
    const entry = wrapper.find('[data-test="entry-filter-0"]');
    expect(entry.text()).toContain("Field");
    expect(entry.text()).toContain("Op");
    expect(entry.text()).toContain("Value");
    expect(validate()).toBe(false);
    await flushPromises();
    expect(errorsAt(wrapper, "filter.0.field")).toEqual(["⚠ Required."]);
    await entry.find('[data-test="schema-field-filter.0.field"] input').setValue("status");
    await entry.find('[data-test="schema-field-filter.0.value"] input').setValue("paid");
    await flushPromises();
    expect(value.value.filter).toEqual([{ field: "status", op: "eq", value: "paid" }]);
    expect(validate()).toBe(true);
    await wrapper.find('[data-test="remove-filter-0"]').trigger("click");
    expect(value.value.filter).toEqual([]);
  });

  it("draws an enum as a choice showing its default, and a boolean as a checkbox", async () => {
    const { wrapper, value } = mountForm(EXPORT);
    expect(wrapper.find('[data-test="field-format"]').text()).toContain("csv");
    expect(wrapper.find('[data-test="field-format"]').attributes("aria-label")).toBe("Format");
    const gzip = wrapper.find('[data-test="field-gzip"]');
    expect(gzip.attributes("role")).toBe("checkbox");
    expect(gzip.text()).toContain("Gzip");
    await gzip.trigger("click");
    expect(value.value.gzip).toBe(true);
  });

  it("falls back to JSON text for a shape it does not draw, and checks it parses", async () => {
    const { wrapper, value, validate } = mountForm({ ...EXPORT, required: [] });
    const extra = wrapper.find('[data-test="schema-field-extra"] textarea');
    await extra.setValue("{oops");
    expect(value.value.extra).toBeInstanceOf(InvalidJson);
    expect(validate()).toBe(false);
    await flushPromises();
    expect(errorsAt(wrapper, "extra")).toEqual(["⚠ Not valid JSON."]);
    await extra.setValue("12");
    expect(value.value.extra).toBe(12);
    expect(validate()).toBe(true);
  });

  it("takes any params as a JSON object when the type has no schema", async () => {
    const { wrapper, value } = mountForm(null);
    expect(wrapper.text()).toContain("Params (a JSON object)");
    await wrapper.find("textarea").setValue('{"count": 3}');
    expect(value.value).toEqual({ count: 3 });
  });

  it("edits a dictionary as key / value rows and hides what the page fills", async () => {
    const { wrapper, value } = mountForm(IMPORT, { hidden: ["upload_ids"] });
    expect(wrapper.find('[data-test="schema-field-upload_ids"]').exists()).toBe(false);
    await wrapper.find('[data-test="add-mapping"]').trigger("click");
    await flushPromises();
    await wrapper.find('[data-test="dict-key-mapping-0"] input').setValue("商品编码");
    await flushPromises();
    await wrapper.find('[data-test="schema-field-mapping.商品编码"] input').setValue("sku");
    await flushPromises();
    expect(value.value.mapping).toEqual({ 商品编码: "sku" });
  });

  it("offers the known values of a property by its name", () => {
    const { wrapper } = mountForm(IMPORT, {
      hidden: ["upload_ids"],
      choices: { resource: [{ label: "products", value: "products" }] },
    });
    const select = wrapper.find('[data-test="field-resource"]');
    expect(select.classes()).toContain("n-select");
    expect(select.attributes("aria-label")).toBe("Resource");
  });

  it("shows errors the server found beside their fields", async () => {
    i18n.global.locale.value = "en";
    const value = ref<Record<string, unknown>>({ resource: "x" });
    const wrapper = mount(
      defineComponent({
        setup: () => () =>
          h(SchemaForm, {
            schema: IMPORT,
            modelValue: value.value,
            serverErrors: [{ path: "resource", key: "server", values: { message: "no such resource" } }],
          }),
      }),
      { global: { plugins: [i18n] } },
    );
    mounted = wrapper;
    expect(errorsAt(wrapper, "resource")).toEqual(["⚠ no such resource"]);
  });
});
