// The import preview: format and encoding found, the column → field table (and changing it), unmapped, missing
// and repeated, whether it is ready, and each first row with every reason it would fail, in the reader's
// language.
import { mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import ImportPreview from "@/components/submit/ImportPreview.vue";
import { failingColumns, readPreview, type ImportPreview as Preview } from "@/components/submit/preview";
import { i18n } from "@/i18n";

// Shaped like the demo's answer for a file whose columns do not all match (POST /job-types/import/preview).
const ANSWER = {
  format: "csv",
  encoding: "gb18030",
  header: ["商品编码", "名称", "价格", "价格", "备注"],
  columns: [
    { column: "商品编码", field: "sku" },
    { column: "名称", field: "name" },
    { column: "价格", field: "price" },
    { column: "价格", field: null },
    { column: "备注", field: null },
  ],
  unmapped: ["备注"],
  missing: ["stock"],
  repeated: ["价格"],
  ready: false,
  rows: [
    { line: 2, cells: ["SKU000950", "灰色半身裙 0950", "633.49", "633.49", ""], valid: true, reasons: [] },
    {
      line: 9,
      cells: ["SKU000957", "", "-12.00", "-12.00", "x"],
      valid: false,
      reasons: [
        { field: "name", en: "name: a value is required", zh: "name：必须填写" },
        { field: "price", en: 'price: "-12.00" must be at least 0', zh: 'price："-12.00" 必须大于或等于 0' },
      ],
    },
  ],
};

describe("reading the preview", () => {
  it("reads the demo's answer", () => {
    const preview = readPreview(ANSWER)!;
    expect(preview).toMatchObject({ format: "csv", encoding: "gb18030", ready: false, missing: ["stock"] });
    expect(preview.rows[1]!.reasons[1]!.zh).toBe('price："-12.00" 必须大于或等于 0');
  });

  it("is no preview for an answer of another shape", () => {
    expect(readPreview({ something: "else" })).toBeNull();
    expect(readPreview(null)).toBeNull();
  });

  it("points each reason at the column that feeds its field", () => {
    const preview = readPreview(ANSWER)!;
    expect([...failingColumns(preview, preview.rows[1]!)]).toEqual([1, 2]);
    expect([...failingColumns(preview, preview.rows[0]!)]).toEqual([]);
  });
});

let wrapper: VueWrapper | null = null;
afterEach(() => {
  wrapper?.unmount();
  wrapper = null;
  i18n.global.locale.value = "zh-CN";
});

function show(preview: Preview, locale: "en" | "zh-CN", fields?: { label: string; value: string }[]): VueWrapper {
  i18n.global.locale.value = locale;
  wrapper = mount(ImportPreview, { props: { preview, fields, mapping: null }, global: { plugins: [i18n] } });
  return wrapper;
}

describe("ImportPreview", () => {
  it("shows the format, encoding and that it is not ready, with what is missing, repeated and unmapped", () => {
    const view = show(readPreview(ANSWER)!, "zh-CN");
    expect(view.find('[data-test="preview-format"]').text()).toBe("csv");
    expect(view.find('[data-test="preview-encoding"]').text()).toBe("gb18030");
    expect(view.find('[data-test="preview-ready"]').text()).toBe("✕ 尚不能导入");
    expect(view.find('[data-test="preview-missing"]').text()).toContain("没有列对应的必填字段：stock");
    expect(view.find('[data-test="preview-repeated"]').text()).toContain("重复出现的列：价格");
    expect(view.find('[data-test="preview-unmapped"]').text()).toContain("未对应任何字段的列（将被忽略）：备注");
  });

  it("lists each column with the field it feeds", () => {
    const view = show(readPreview(ANSWER)!, "en");
    const rows = view.findAll('[data-test="preview-mapping"] tbody tr').map((tr) => tr.findAll("th, td").map((c) => c.text()));
    expect(rows).toEqual([
      ["商品编码", "sku"],
      ["名称", "name"],
      ["价格", "price"],
      ["价格", "not imported"],
      ["备注", "not imported"],
    ]);
  });

  it("gives every reason a row would fail, in Chinese or English", () => {
    const zh = show(readPreview(ANSWER)!, "zh-CN");
    const bad = zh.find('[data-test="preview-row-invalid"]');
    expect(bad.findAll('[data-test="preview-reasons"] li').map((li) => li.text())).toEqual([
      "name：必须填写",
      'price："-12.00" 必须大于或等于 0',
    ]);
    expect(zh.find('[data-test="preview-row-valid"]').text()).toContain("正常");
    zh.unmount();
    const en = show(readPreview(ANSWER)!, "en");
    expect(en.find('[data-test="preview-row-invalid"] [data-test="preview-reasons"]').text()).toContain(
      'price: "-12.00" must be at least 0',
    );
    // the failing cells are marked by more than colour
    expect(en.findAll('[data-test="preview-row-invalid"] td.failing').map((td) => td.text())).toEqual(["⚠", "⚠ -12.00"]);
  });

  it("says a clean file is ready", () => {
    const view = show(readPreview({ ...ANSWER, ready: true, missing: [], repeated: [], unmapped: [], rows: [ANSWER.rows[0]] })!, "en");
    expect(view.find('[data-test="preview-ready"]').text()).toBe("✓ Yes");
    expect(view.find('[data-test="preview-missing"]').exists()).toBe(false);
    expect(view.find('[data-test="preview-row-invalid"]').exists()).toBe(false);
  });

  it("offers the resource's fields to map a column, when given them", () => {
    const view = show(readPreview(ANSWER)!, "en", [
      { label: "sku", value: "sku" },
      { label: "stock", value: "stock" },
    ]);
    const select = view.find('[data-test="map-4"]');
    expect(select.attributes("aria-label")).toBe("Field for column 备注");
    select.findComponent({ name: "Select" }).vm.$emit("update:value", "stock");
    expect(view.emitted("map")).toEqual([["备注", "stock"]]);
  });
});
