// The bulk-update page over a stubbed service: choosing a table, filter rows sent typed, the preview's counts,
// sample diffs and sums in both languages, a preview made stale by a change of settings, the service's
// invalid_expression shown at its field, apply confirmed with the matched count and mode and its exact body, the
// update followed live, and a viewer who sees the form but no button.
import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { i18n, missingKeys } from "@/i18n";
import type { LiveOptions } from "@/live/events";
import BulkUpdatePage from "@/pages/BulkUpdatePage.vue";
import { ALICE, serve, type Handler } from "../support/fakeService";
import { calls, choose, click, CUSTOMERS, envelope, job, mountAt, PREVIEW, PRODUCTS, router, text, type, VICTOR } from "./support";

// The live stream is the one thing replaced: the test plays the service's polls.
const live = vi.hoisted(() => ({ options: null as LiveOptions | null, stop: vi.fn() }));
vi.mock("@/live/events", async () => {
  const { ref } = await import("vue");
  return {
    follow(options: LiveOptions) {
      live.options = options;
      return { connected: ref(true), updatedAt: ref(Date.now()), stop: live.stop };
    },
  };
});

function routes(extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    "GET /api/v1/resources": () => ({ body: [CUSTOMERS, PRODUCTS] }),
    "POST /api/v1/job-types/bulk_update/preview": () => ({ body: PREVIEW }),
    ...extra,
  };
}

/** "+5% on every price in stock": products, stock > 0, price = round(price * 1.05, 2). */
async function fillPriceRise(w: VueWrapper): Promise<void> {
  await choose(w, "bulk-resource", "products");
  await click(w, "bulk-filter-add");
  await choose(w, "bulk-filter-field", "stock");
  await choose(w, "bulk-filter-op", "gt");
  await type(w, "bulk-filter-value", "0");
  await choose(w, "bulk-set-field", "price");
  await type(w, "bulk-set-expr", "round(price * 1.05, 2)");
}

const PRICE_RISE = {
  resource: "products",
  filter: [{ field: "stock", op: "gt", value: 0 }],
  apply: "chunked",
  set: { price: "round(price * 1.05, 2)" },
};

const applyButton = (w: VueWrapper) => w.find('[data-test="bulk-apply"]');

let wrapper: VueWrapper | undefined;
beforeEach(() => {
  document.body.innerHTML = "";
  live.options = null;
  live.stop.mockClear();
  missingKeys.length = 0;
});
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  expect(missingKeys).toEqual([]);
});

describe("bulk page: preview", () => {
  it("previews exactly the params the form says, filter values typed, and shows counts, diffs and sums", async () => {
    serve(routes());
    wrapper = await mountAt("/bulk", BulkUpdatePage, ALICE);
    await fillPriceRise(wrapper);
    await click(wrapper, "bulk-preview");

    expect(calls("POST", "/api/v1/job-types/bulk_update/preview").map((c) => c.body)).toEqual([{ params: PRICE_RISE }]);
    expect(text(wrapper, "bulk-count-matched")).toBe("Matched1,234");
    expect(text(wrapper, "bulk-count-changed")).toBe("Would change1,230");
    expect(text(wrapper, "bulk-count-unchanged")).toBe("Unchanged4");
    expect(text(wrapper, "bulk-count-failing")).toBe("Would fail0");
    expect(text(wrapper, "bulk-preview-nothing-changed")).toBe("Nothing has been changed: a preview only reads the rows.");
    const diffs = wrapper.findAll('[data-test="bulk-diff"]');
    expect(diffs).toHaveLength(2);
    expect(diffs[0]!.find('[data-test="bulk-diff-key"]').text()).toBe("SKU000001");
    expect(diffs[0]!.find('[data-test="bulk-diff-field"]').text()).toBe("price");
    expect(diffs[0]!.find('[data-test="bulk-diff-change"]').text()).toBe("199.00 → 208.95");
    expect(text(wrapper, "bulk-total-price")).toContain("61500.00 → 64575.00");
    expect(wrapper.find('[data-test="bulk-total-price"] [data-test="bulk-total-delta"]').text()).toBe("+3075.00");
    expect(applyButton(wrapper).attributes("disabled")).toBeUndefined();
  });

  it("shows the same preview in Chinese, fields by their Chinese titles", async () => {
    serve(routes());
    wrapper = await mountAt("/bulk", BulkUpdatePage, ALICE);
    await fillPriceRise(wrapper);
    await click(wrapper, "bulk-preview");
    i18n.global.locale.value = "zh-CN";
    await flushPromises();
    expect(text(wrapper, "bulk-count-matched")).toBe("匹配1,234");
    expect(text(wrapper, "bulk-count-changed")).toBe("将修改1,230");
    expect(text(wrapper, "bulk-preview-nothing-changed")).toBe("没有修改任何数据：预览只读取行。");
    expect(wrapper.find('[data-test="bulk-diff-field"]').text()).toBe("价格 (price)");
    expect(text(wrapper, "bulk-preview-totals")).toContain("差额");
    expect(wrapper.find('[data-test="bulk-total-delta"]').text()).toBe("+3075.00");
  });

  it("lists a preview's failing rows with their reasons and a negative delta as is", async () => {
    const cut = {
      ...PREVIEW, changed: 1, failing: 1, failures: [{ key: ["SKU000009"], reason: "price: Input should be greater than or equal to 0" }],
      samples: [{ key: ["SKU000003"], field: "stock", before: 5, after: 0 }],
      totals: { stock: { rows: 1, before: "5", after: "0", delta: "-5" } },
    };
    serve(routes({ "POST /api/v1/job-types/bulk_update/preview": () => ({ body: cut }) }));
    wrapper = await mountAt("/bulk", BulkUpdatePage, ALICE);
    await fillPriceRise(wrapper);
    await click(wrapper, "bulk-preview");
    expect(text(wrapper, "bulk-failure")).toBe("SKU000009: price: Input should be greater than or equal to 0");
    expect(wrapper.find('[data-test="bulk-diff-change"]').text()).toBe("5 → 0");
    expect(wrapper.find('[data-test="bulk-total-stock"] [data-test="bulk-total-delta"]').text()).toBe("-5");
  });

  it("makes the preview stale, and apply unavailable, when a setting changes; a new preview brings it back", async () => {
    serve(routes());
    wrapper = await mountAt("/bulk", BulkUpdatePage, ALICE);
    await fillPriceRise(wrapper);
    expect(applyButton(wrapper).attributes("disabled")).toBeDefined();
    await click(wrapper, "bulk-preview");
    expect(applyButton(wrapper).attributes("disabled")).toBeUndefined();

    await type(wrapper, "bulk-set-expr", "round(price * 1.10, 2)");
    expect(applyButton(wrapper).attributes("disabled")).toBeDefined();
    expect(text(wrapper, "bulk-preview-stale")).toContain("preview again before applying");

    await type(wrapper, "bulk-set-expr", "round(price * 1.05, 2)");
    expect(applyButton(wrapper).attributes("disabled")).toBeUndefined();
    await wrapper.findAll('[data-test="bulk-apply-mode"] input[type="radio"]')[1]!.setValue(true);
    await flushPromises();
    expect(applyButton(wrapper).attributes("disabled")).toBeDefined();
    await click(wrapper, "bulk-preview");
    expect(calls("POST", "/api/v1/job-types/bulk_update/preview").at(-1)!.body).toEqual({ params: { ...PRICE_RISE, apply: "atomic" } });
    expect(applyButton(wrapper).attributes("disabled")).toBeUndefined();
    expect(wrapper.find('[data-test="bulk-preview-stale"]').exists()).toBe(false);
  });

  it("shows the service's invalid_expression next to the set row of the field it names", async () => {
    const refused = envelope("invalid_expression", "The expression for 'stock' is not valid: unknown name 'stok'", {
      field: "stock", reason: "unknown name 'stok'", reason_zh: "未知的名称 'stok'",
    });
    serve(routes({ "POST /api/v1/job-types/bulk_update/preview": () => ({ status: 422, body: refused }) }));
    wrapper = await mountAt("/bulk", BulkUpdatePage, ALICE);
    await fillPriceRise(wrapper);
    await click(wrapper, "bulk-set-add");
    await choose(wrapper, "bulk-set-field", "stock", 1);
    await type(wrapper, "bulk-set-expr", "coalesce(stok, 0) + 10", 1);
    await click(wrapper, "bulk-preview");

    const rows = wrapper.findAll('[data-test="bulk-set-row"]');
    expect(rows[0]!.find('[data-test="bulk-set-error"]').exists()).toBe(false);
    expect(rows[1]!.attributes("data-field")).toBe("stock");
    expect(rows[1]!.find('[data-test="bulk-set-error"]').text()).toBe("The expression for 'stock' is not valid: unknown name 'stok'");
    expect(wrapper.find('[data-test="bulk-preview-error"]').exists()).toBe(false);
    expect(applyButton(wrapper).attributes("disabled")).toBeDefined();

    await type(wrapper, "bulk-set-expr", "coalesce(stock, 0) + 10", 1);
    expect(wrapper.find('[data-test="bulk-set-error"]').exists()).toBe(false);
  });

  it("shows any other refusal above the preview", async () => {
    const refused = envelope("invalid_params", "Invalid params: filter: 'abc' is not a valid date for launched");
    serve(routes({ "POST /api/v1/job-types/bulk_update/preview": () => ({ status: 422, body: refused }) }));
    wrapper = await mountAt("/bulk", BulkUpdatePage, ALICE);
    await fillPriceRise(wrapper);
    await click(wrapper, "bulk-preview");
    expect(text(wrapper, "bulk-preview-error")).toContain("'abc' is not a valid date for launched");
  });

  it("asks for what is missing instead of sending a half-filled form", async () => {
    serve(routes());
    wrapper = await mountAt("/bulk", BulkUpdatePage, ALICE);
    await choose(wrapper, "bulk-resource", "products");
    await click(wrapper, "bulk-filter-add");
    await choose(wrapper, "bulk-filter-field", "stock");
    await type(wrapper, "bulk-filter-value", "2.5");
    await click(wrapper, "bulk-preview");
    expect(calls("POST", "/api/v1/job-types/bulk_update/preview")).toHaveLength(0);
    expect(text(wrapper, "bulk-filter-problem")).toBe("Give a whole number.");
    expect(text(wrapper, "bulk-set-problem")).toBe("Choose a field.");
  });

  it("offers no key field to write, and typed values for in, text and empty", async () => {
    serve(routes());
    wrapper = await mountAt("/bulk", BulkUpdatePage, ALICE);
    await choose(wrapper, "bulk-resource", "products");
    const offered = wrapper.find('[data-test="bulk-set-field"]').findComponent({ name: "Select" }).props("options") as { value: string }[];
    expect(offered.map((o) => o.value)).toEqual(["name", "price", "stock", "launched"]);

    await click(wrapper, "bulk-filter-add");
    await click(wrapper, "bulk-filter-add");
    await click(wrapper, "bulk-filter-add");
    await choose(wrapper, "bulk-filter-field", "stock", 0);
    await choose(wrapper, "bulk-filter-op", "in", 0);
    await type(wrapper, "bulk-filter-value", "1, 2,3", 0);
    await choose(wrapper, "bulk-filter-field", "name", 1);
    await choose(wrapper, "bulk-filter-op", "startswith", 1);
    await type(wrapper, "bulk-filter-value", "红色", 1);
    await choose(wrapper, "bulk-filter-field", "launched", 2);
    await choose(wrapper, "bulk-filter-op", "is_null", 2);
    await choose(wrapper, "bulk-set-field", "launched");
    await type(wrapper, "bulk-set-expr", '"2025-01-01"');
    await click(wrapper, "bulk-preview");
    expect(calls("POST", "/api/v1/job-types/bulk_update/preview")[0]!.body).toEqual({
      params: {
        resource: "products",
        filter: [
          { field: "stock", op: "in", value: [1, 2, 3] },
          { field: "name", op: "startswith", value: "红色" },
          { field: "launched", op: "is_null" },
        ],
        apply: "chunked",
        set: { launched: '"2025-01-01"' },
      },
    });
  });
});

describe("bulk page: apply", () => {
  it("confirms with the matched count and the mode, then submits exactly the previewed params and follows the job", async () => {
    let current = job({ status: "running", processed: 500, succeeded: 500, skipped: 0, progress: 40.5, finished_at: null });
    serve(routes({
      "POST /api/v1/jobs": () => ({ status: 202, body: current }),
      "GET /api/v1/jobs/61": () => ({ body: current }),
    }));
    wrapper = await mountAt("/bulk", BulkUpdatePage, ALICE);
    await fillPriceRise(wrapper);
    await wrapper.findAll('[data-test="bulk-apply-mode"] input[type="radio"]')[1]!.setValue(true);
    await click(wrapper, "bulk-preview");
    await click(wrapper, "bulk-apply");

    expect(calls("POST", "/api/v1/jobs")).toHaveLength(0);
    expect(text(wrapper, "bulk-confirm-body")).toContain("1,234 matching rows of products");
    expect(text(wrapper, "bulk-confirm-mode")).toContain("Atomic");
    expect(text(wrapper, "bulk-confirm-mode")).toContain("readers see only before or after");
    await click(wrapper, "bulk-confirm");

    const submits = calls("POST", "/api/v1/jobs");
    expect(submits.map((c) => c.body)).toEqual([{ type: "bulk_update", params: { ...PRICE_RISE, apply: "atomic" } }]);
    expect(submits[0]!.path).toBe("/api/v1/jobs");
    expect(router.currentRoute.value.query.job).toBe("61");
    expect(text(wrapper, "bulk-live-count")).toBe("500/1,234 (40.5%)");
    expect(text(wrapper, "bulk-live-succeeded")).toBe("Succeeded 500");
    expect(wrapper.find('[data-test="bulk-job-link"]').attributes("href")).toBe("/jobs/61");
    expect(wrapper.find('[data-test="bulk-live"] [data-test="bulk-rollback"]').exists()).toBe(false);
    expect(applyButton(wrapper).attributes("disabled")).toBeDefined();

    current = job();
    await live.options!.poll();
    await flushPromises();
    expect(text(wrapper, "bulk-live-summary")).toBe("Update finished: 1,230 succeeded, 0 failed, 4 skipped");
    expect(wrapper.find('[data-test="bulk-live"] [data-test="bulk-rollback"]').exists()).toBe(true);
  });

  it("keeps the dialog open with the service's refusal", async () => {
    serve(routes({
      "POST /api/v1/jobs": () => ({ status: 429, body: envelope("too_many_active_jobs", "You have 3 active jobs; the limit is 3.") }),
    }));
    wrapper = await mountAt("/bulk", BulkUpdatePage, ALICE);
    await fillPriceRise(wrapper);
    await click(wrapper, "bulk-preview");
    await click(wrapper, "bulk-apply");
    await click(wrapper, "bulk-confirm");
    expect(text(wrapper, "bulk-apply-error")).toBe("You have 3 active jobs; the limit is 3.");
    expect(router.currentRoute.value.query.job).toBeUndefined();
  });
});

describe("bulk page: a viewer", () => {
  it("sees the form read-only and no button at all", async () => {
    serve(routes());
    wrapper = await mountAt("/bulk", BulkUpdatePage, VICTOR);
    expect(text(wrapper, "bulk-viewer")).toContain("not preview, apply or roll back");
    expect(wrapper.find('[data-test="bulk-resource"]').findComponent({ name: "Select" }).props("disabled")).toBe(true);
    await choose(wrapper, "bulk-resource", "products");
    expect(wrapper.find('[data-test="bulk-set-expr"] input').attributes("disabled")).toBeDefined();
    expect(wrapper.findAll("button")).toHaveLength(0);
    for (const test of ["bulk-preview", "bulk-apply", "bulk-filter-add", "bulk-set-add", "bulk-rollback"]) {
      expect(wrapper.find(`[data-test="${test}"]`).exists()).toBe(false);
    }
  });

  it("follows an update from the address without offering to roll it back", async () => {
    serve(routes({ "GET /api/v1/jobs/61": () => ({ body: job() }) }));
    wrapper = await mountAt("/bulk?job=61", BulkUpdatePage, VICTOR);
    expect(text(wrapper, "bulk-live-summary")).toContain("1,230 succeeded");
    expect(wrapper.find('[data-test="bulk-rollback"]').exists()).toBe(false);
    expect(wrapper.findAll("button")).toHaveLength(0);
  });
});
