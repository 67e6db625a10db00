// The bulk-update pages as a test sees them: the demo's products table and a bulk_update's preview as the service
// sends them, jobs of both bulk types, and a page mounted signed in (English, UTC) inside naive-ui's providers,
// with a router that knows /bulk and the job page, over the stubbed service of ../support.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { NDialogProvider, NMessageProvider } from "naive-ui";
import { createPinia, setActivePinia } from "pinia";
import { defineComponent, h, type Component } from "vue";
import { createMemoryHistory, createRouter, type Router } from "vue-router";
import { configureClient, type Job, type Schemas, type User } from "@/api/client";
import { i18n } from "@/i18n";
import { usePrefs } from "@/stores/prefs";
import { useSession } from "@/stores/session";
import { sent } from "../support/fakeService";

export const VICTOR: User = { id: 3, name: "victor", role: "viewer", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };

const field = (name: string, kind: string, over: Partial<Schemas["ResourceFieldOut"]> = {}): Schemas["ResourceFieldOut"] => ({
  name, kind, required: true, nullable: false, max_length: null, decimal_places: null, titles: {}, ...over,
});

// what GET /resources answers for the demo shop's products
export const PRODUCTS: Schemas["ResourceOut"] = {
  name: "products",
  key: ["sku"],
  fields: [
    field("sku", "text", { max_length: 32, titles: { "zh-CN": "商品编码" } }),
    field("name", "text", { max_length: 200, titles: { "zh-CN": "名称" } }),
    field("price", "decimal", { decimal_places: 2, titles: { "zh-CN": "价格" } }),
    field("stock", "integer", { titles: { "zh-CN": "库存" } }),
    field("launched", "date", { required: false, nullable: true, titles: { "zh-CN": "上架日期" } }),
  ],
};
export const CUSTOMERS: Schemas["ResourceOut"] = {
  name: "customers",
  key: ["code"],
  fields: [field("code", "text"), field("vip", "boolean")],
};

// what POST /job-types/bulk_update/preview answers (previewing.py), for "+5% on every price in stock"
export const PREVIEW = {
  resource: "products",
  set: { price: "round(price * 1.05, 2)" },
  matched: 1234,
  changed: 1230,
  unchanged: 4,
  failing: 0,
  failures: [],
  samples: [
    { key: ["SKU000001"], field: "price", before: "199.00", after: "208.95" },
    { key: ["SKU000002"], field: "price", before: "20.00", after: "21.00" },
  ],
  totals: { price: { rows: 1230, before: "61500.00", after: "64575.00", delta: "3075.00" } },
};

export function job(over: Partial<Job> = {}): Job {
  return {
    id: 61, type: "bulk_update", owner: "alice", status: "succeeded",
    params: { resource: "products", filter: [], set: { price: "round(price * 1.05, 2)" }, apply: "chunked" },
    total: 1234, processed: 1234, succeeded: 1230, failed: 0, skipped: 4, progress: 100, eta_seconds: null, current: null,
    round: 1, rounds: [], error: null, quota: { charged: 0, refunded: 0 },
    created_at: "2026-12-01T02:01:47Z", started_at: "2026-12-01T02:01:47Z", finished_at: "2026-12-01T02:02:10Z",
    ...over,
  };
}

export function envelope(code: string, message: string, details: Record<string, unknown> = {}) {
  return { error: { code, message, details } };
}

export function calls(method: string, path: string) {
  return sent.filter((s) => s.method === method && s.path === path);
}

export let router: Router;

export async function mountAt(path: string, page: Component, user: User, props: Record<string, unknown> = {}): Promise<VueWrapper> {
  const pinia = createPinia();
  setActivePinia(pinia);
  const session = useSession();
  session.token = "by_test";
  session.user = user;
  const prefs = usePrefs();
  prefs.locale = "en";
  prefs.timeZone = "UTC";
  i18n.global.locale.value = "en";
  configureClient({ token: () => "by_test", language: () => "en", signedOut: () => undefined });
  const blank = { render: () => null };
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/bulk", name: "bulk", component: blank },
      { path: "/jobs", name: "jobs", component: blank },
      { path: "/jobs/:id", name: "job", component: blank },
    ],
  });
  await router.push(path);
  await router.isReady();
  const host = defineComponent({
    render: () => h(NMessageProvider, null, () => h(NDialogProvider, null, () => h(page, props))),
  });
  const wrapper = mount(host, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body });
  await flushPromises();
  return wrapper;
}

/** Choose in the select marked `test` (the `index`th of them). */
export async function choose(w: VueWrapper, test: string, value: unknown, index = 0): Promise<void> {
  w.findAll(`[data-test="${test}"]`)[index]!.findComponent({ name: "Select" }).vm.$emit("update:value", value);
  await flushPromises();
}

/** Type into the input marked `test` (the `index`th of them). */
export async function type(w: VueWrapper, test: string, value: string, index = 0): Promise<void> {
  await w.findAll(`[data-test="${test}"]`)[index]!.find("input").setValue(value);
  await flushPromises();
}

export async function click(w: VueWrapper, test: string): Promise<void> {
  await w.find(`[data-test="${test}"]`).trigger("click");
  await flushPromises();
}

export const text = (w: VueWrapper, test: string): string => w.find(`[data-test="${test}"]`).text();
