// The new-job page end to end over a stubbed service: a viewer is told, typed items go once per intent with an
// Idempotency-Key, image files go through the quota confirmation (before/after, shortfall), the server's
// refusals are shown (409 with the active job, 403 quota, 422 by field), and an import is previewed, tried as
// a dry run (new / updated / skipped / invalid, invalid rows page by page, error report) and run for real.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import axe from "axe-core";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defineComponent, h } from "vue";
import { createMemoryHistory, createRouter, RouterView, type Router } from "vue-router";
import { configureClient, type Job, type Schemas, type User } from "@/api/client";
import { createSubmitter } from "@/components/submit/submitter";
import { i18n, missingKeys } from "@/i18n";
import type { LiveOptions } from "@/live/events";
import NewJobPage from "@/pages/NewJobPage.vue";
import { usePrefs } from "@/stores/prefs";
import { useSession } from "@/stores/session";

// openapi-fetch keeps the fetch it finds when the client is made, so the stub must be in place before imports.
const fetchMock = vi.hoisted(() => {
  const mock = vi.fn<(input: Request | string, init?: RequestInit) => Promise<Response>>();
  vi.stubGlobal("fetch", mock);
  return mock;
});

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

interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}
type Handler = (sent: Sent) => { status?: number; body?: unknown; raw?: string };

let sent: Sent[] = [];

function serve(routes: Record<string, Handler>): void {
  sent = [];
  fetchMock.mockImplementation(async (input: Request | string, init?: RequestInit) => {
    const request = typeof input === "string" ? new Request(new URL(input, "http://localhost"), init) : input;
    const url = new URL(request.url, "http://localhost");
    const text = request.method === "GET" ? "" : await request.clone().text();
    const call: Sent = { method: request.method, path: url.pathname, query: url.searchParams, headers: request.headers, body: text ? JSON.parse(text) : undefined };
    sent.push(call);
    const handler = routes[`${request.method} ${url.pathname}`];
    if (!handler) return new Response(JSON.stringify({ error: { code: "not_found", message: "no route" } }), { status: 404 });
    const { status = 200, body, raw } = handler(call);
    if (raw !== undefined) return new Response(raw, { status, headers: { "Content-Type": "text/csv" } });
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
}

function calls(method: string, path: string): Sent[] {
  return sent.filter((s) => s.method === method && s.path === path);
}

// ---- the service's data, shaped like the demo's answers ----

const JOB_TYPES: Schemas["JobTypeOut"][] = [
  {
    name: "demo_slow", title: "Count slowly (demo)", unit_cost: 0, jobs_per_hour: null, jobs_per_day: null, max_active_jobs: null,
    params_schema: null, takes_items: true, chunk_size: 5, max_items: null, max_concurrency: null, priority: 0, exclusive: null,
    accepts: null, max_file_bytes: 100_000_000,
  },
  {
    name: "export", title: "Export a table", unit_cost: 0, jobs_per_hour: null, jobs_per_day: null, max_active_jobs: null,
    params_schema: {
      properties: {
        resource: { minLength: 1, title: "Resource", type: "string" },
        format: { default: "csv", enum: ["csv", "xlsx", "jsonl"], title: "Format", type: "string" },
      },
      required: ["resource"], title: "ExportParams", type: "object",
    },
    takes_items: false, chunk_size: 500, max_items: null, max_concurrency: null, priority: 0, exclusive: null,
    accepts: null, max_file_bytes: 100_000_000,
  },
  {
    name: "images", title: "Images: clean up and enhance", unit_cost: 1, jobs_per_hour: 5, jobs_per_day: 20, max_active_jobs: null,
    params_schema: {
      properties: {
        brightness: { default: 1.0, maximum: 3.0, minimum: 0.2, title: "Brightness", title_zh: "亮度", type: "number" },
        format: { default: "jpeg", enum: ["jpeg", "png", "webp"], title: "Output format", type: "string" },
      },
      title: "Clean up and enhance", type: "object",
    },
    takes_items: true, chunk_size: 1, max_items: 50, max_concurrency: 5, priority: 0, exclusive: null,
    accepts: ["image/jpeg", "image/png", "image/webp"], max_file_bytes: 10_000_000,
  },
  {
    name: "import", title: "Import a table", unit_cost: 0, jobs_per_hour: null, jobs_per_day: null, max_active_jobs: null,
    params_schema: {
      properties: {
        resource: { description: "The resource (table) the rows go to.", minLength: 1, title: "Resource", type: "string" },
        mode: { default: "insert", enum: ["insert", "upsert", "skip_existing"], title: "Mode", type: "string" },
        dry_run: { default: false, title: "Dry Run", type: "boolean" },
        mapping: { anyOf: [{ additionalProperties: { type: "string" }, type: "object" }, { type: "null" }], default: null, title: "Mapping" },
        upload_ids: { items: { type: "integer" }, title: "Upload Ids", type: "array" },
      },
      required: ["resource"], title: "ImportParams", type: "object",
    },
    takes_items: false, chunk_size: 500, max_items: null, max_concurrency: null, priority: 0, exclusive: null,
    accepts: ["text/plain", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"], max_file_bytes: 100_000_000,
  },
];

const RESOURCES: Schemas["ResourceOut"][] = [
  {
    name: "products",
    key: ["sku"],
    fields: [
      { name: "sku", kind: "text", required: true, nullable: false, max_length: 32, decimal_places: null, titles: { "zh-CN": "商品编码" } },
      { name: "stock", kind: "integer", required: true, nullable: false, max_length: null, decimal_places: null, titles: { "zh-CN": "库存" } },
    ],
  } as Schemas["ResourceOut"],
];

const PREVIEW = {
  format: "csv",
  encoding: "gb18030",
  header: ["商品编码", "库存"],
  columns: [{ column: "商品编码", field: "sku" }, { column: "库存", field: "stock" }],
  unmapped: [],
  missing: [],
  repeated: [],
  ready: true,
  rows: [
    { line: 2, cells: ["SKU000950", "332"], valid: true, reasons: [] },
    { line: 3, cells: ["SKU000951", "-1"], valid: false, reasons: [{ field: "stock", en: 'stock: "-1" must be at least 0', zh: 'stock："-1" 必须大于或等于 0' }] },
  ],
};

const ALICE: User = { id: 2, name: "alice", role: "operator", quota: 100, created_at: "2026-12-01T02:00:26Z", email: null };
const VICTOR: User = { id: 3, name: "victor", role: "viewer", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };

function job(over: Partial<Job> = {}): Job {
  return {
    id: 41, type: "demo_slow", owner: "alice", status: "pending", params: {}, total: 0, processed: 0, succeeded: 0, failed: 0,
    skipped: 0, progress: 0, eta_seconds: null, current: null, round: 1, rounds: [], error: null,
    quota: { charged: 0, refunded: 0 }, created_at: "2026-12-01T02:01:47Z", started_at: null, finished_at: null, ...over,
  };
}

// ---- uploads go through XMLHttpRequest; this one answers each file as kept, with the next id ----

class FakeXhr {
  static next = 5;
  static all: FakeXhr[] = [];
  url = "";
  status = 0;
  responseText = "";
  responseType = "";
  upload = { onprogress: null as ((event: ProgressEvent) => void) | null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXhr.all.push(this);
  }
  open(_method: string, url: string): void {
    this.url = url;
  }
  setRequestHeader(): void {}
  abort(): void {}
  send(body: FormData): void {
    const file = body.get("files") as File;
    const id = FakeXhr.next++;
    queueMicrotask(() => {
      this.status = 201;
      this.responseText = JSON.stringify({
        uploads: [{ id, filename: file.name, size: file.size, content_type: file.type || "text/plain", sha256: "x", expires_at: "2026-12-02T02:00:00Z" }],
        rejected: [],
      });
      this.onload?.();
    });
  }
}

// ---- mounting ----

let router: Router;

async function mountPage(user: User, query: Record<string, string> = {}, locale: "en" | "zh-CN" = "en"): Promise<VueWrapper> {
  const pinia = createPinia();
  setActivePinia(pinia);
  const session = useSession();
  session.token = "by_test";
  session.user = user;
  const prefs = usePrefs();
  prefs.locale = locale;
  prefs.timeZone = "UTC";
  i18n.global.locale.value = locale;
  configureClient({ token: () => "by_test", language: () => locale, signedOut: () => undefined });
  const blank = { render: () => h("p", { "data-test": "job-page" }, "job") };
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/jobs/new", name: "new-job", component: NewJobPage },
      { path: "/jobs/:id(\\d+)", name: "job", component: blank },
    ],
  });
  await router.push({ path: "/jobs/new", query });
  await router.isReady();
  const host = defineComponent({ render: () => h(RouterView) });
  const mounted = mount(host, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body });
  await flushPromises();
  return mounted;
}

function baseRoutes(extra: Record<string, Handler> = {}, me: User = ALICE): Record<string, Handler> {
  return {
    "GET /api/v1/job-types": () => ({ body: JOB_TYPES }),
    "GET /api/v1/resources": () => ({ body: RESOURCES }),
    "GET /api/v1/me": () => ({ body: me }),
    ...extra,
  };
}

async function addFiles(wrapper: VueWrapper, files: File[]): Promise<void> {
  const input = wrapper.find('[data-test="file-input"]');
  Object.defineProperty(input.element, "files", { value: files, configurable: true });
  await input.trigger("change");
  await flushPromises();
  await flushPromises();
}

async function chooseResource(wrapper: VueWrapper, value: string): Promise<void> {
  wrapper.find('[data-test="field-resource"]').findComponent({ name: "Select" }).vm.$emit("update:value", value);
  await flushPromises();
}

function jpeg(name: string): File {
  return new File([new Uint8Array(64)], name, { type: "image/jpeg" });
}

const dialog = (): HTMLElement | null => document.querySelector('[data-test="quota-dialog"]');
const inDialog = (test: string): HTMLElement | null => dialog()?.querySelector(`[data-test="${test}"]`) ?? null;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let wrapper: VueWrapper | undefined;
beforeEach(() => {
  document.body.innerHTML = "";
  FakeXhr.all = [];
  FakeXhr.next = 5;
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
  live.options = null;
  live.stop.mockClear();
  missingKeys.length = 0;
});
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  vi.stubGlobal("XMLHttpRequest", undefined);
  i18n.global.locale.value = "zh-CN";
  expect(missingKeys).toEqual([]);
});

describe("who may submit", () => {
  it("tells a viewer they cannot start jobs, and shows no form", async () => {
    serve(baseRoutes({}, VICTOR));
    wrapper = await mountPage(VICTOR);
    expect(wrapper.find('[data-test="viewer-notice"]').text()).toContain("Your role lets you look at jobs but not start them");
    expect(wrapper.find('[data-test="type-picker"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="submit-button"]').exists()).toBe(false);
  });
});

describe("typed items", () => {
  it("picks the type named in the address and lists every type with its title and name", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(ALICE, { type: "demo_slow" });
    const picker = wrapper.find('[data-test="type-picker"]');
    expect(picker.text()).toContain("Images: clean up and enhance");
    expect(picker.text()).toContain("images");
    expect(picker.find('[data-test="type-images"]').text()).toContain("1 quota per item");
    expect((wrapper.find('[data-test="type-demo_slow"] input').element as HTMLInputElement).checked).toBe(true);
    expect(wrapper.find('[data-test="items-text"]').exists()).toBe(true);
  });

  it("changes the address when another type is picked", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(ALICE);
    await wrapper.find('[data-test="type-export"] input').trigger("change");
    await flushPromises();
    expect(router.currentRoute.value.query.type).toBe("export");
    expect(wrapper.find('[data-test="schema-field-resource"]').exists()).toBe(true);
  });

  it("sends one job with one Idempotency-Key however often Submit is clicked, then opens it", async () => {
    let answer: (() => void) | null = null;
    serve(baseRoutes({ "POST /api/v1/jobs": () => ({ status: 202, body: job({ id: 41 }) }) }));
    const real = fetchMock.getMockImplementation()!;
    fetchMock.mockImplementation(async (input, init) => {
      const response = real(input, init);
      const request = input as Request;
      if (request.method === "POST") await new Promise<void>((resolve) => (answer = resolve));
      return response;
    });
    wrapper = await mountPage(ALICE, { type: "demo_slow" });
    await wrapper.find('[data-test="items-text"] textarea').setValue("1\n2\n3");
    const button = wrapper.find('[data-test="submit-button"]');
    await button.trigger("click");
    await button.trigger("click");
    await button.trigger("click");
    await flushPromises();
    answer!();
    await flushPromises();
    await flushPromises();
    const posts = calls("POST", "/api/v1/jobs");
    expect(posts).toHaveLength(1);
    expect(posts[0]!.body).toEqual({ type: "demo_slow", params: {}, items: [1, 2, 3] });
    expect(posts[0]!.headers.get("Idempotency-Key")).toMatch(/^[0-9a-f]{32}$/);
    expect(router.currentRoute.value.fullPath).toBe("/jobs/41");
  });

  it("checks required params before sending anything", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(ALICE, { type: "export" });
    await wrapper.find('[data-test="submit-button"]').trigger("click");
    await flushPromises();
    expect(calls("POST", "/api/v1/jobs")).toHaveLength(0);
    expect(wrapper.find('[data-test="schema-field-resource"] [data-test="field-error"]').text()).toContain("Required.");
  });

  it("says so when no item is given", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(ALICE, { type: "demo_slow" });
    await wrapper.find('[data-test="submit-button"]').trigger("click");
    await flushPromises();
    expect(wrapper.find('[data-test="input-error"]').text()).toContain("Give at least one item.");
    expect(calls("POST", "/api/v1/jobs")).toHaveLength(0);
  });

  it("shows a 409 with a link to the active job", async () => {
    serve(
      baseRoutes({
        "POST /api/v1/jobs": () => ({
          status: 409,
          body: { error: { code: "conflict", message: "'products' already has an active job 12; wait or cancel it.", details: { key: "products", job_id: 12 } } },
        }),
      }),
    );
    wrapper = await mountPage(ALICE, { type: "export" });
    await chooseResource(wrapper, "products");
    await wrapper.find('[data-test="submit-button"]').trigger("click");
    await flushPromises();
    expect(wrapper.find('[data-test="submit-error"]').text()).toContain("already has an active job 12");
    const link = wrapper.find('[data-test="conflict-job"]');
    expect(link.attributes("href")).toBe("/jobs/12");
    expect(link.text()).toBe("Open job #12");
  });

  it("shows a 422's reasons beside the fields they are about, and a 429's message", async () => {
    let status = 422;
    serve(
      baseRoutes({
        "POST /api/v1/jobs": () =>
          status === 422
            ? { status, body: { error: { code: "invalid_params", message: "Invalid params: resource: no such resource", details: { errors: [{ loc: ["resource"], msg: "no such resource" }] } } } }
            : { status, body: { error: { code: "rate_limited", message: "At most 5 'export' jobs an hour; try again in 60 s.", details: { retry_after: 60 } } } },
      }),
    );
    wrapper = await mountPage(ALICE, { type: "export" });
    await chooseResource(wrapper, "nope");
    await wrapper.find('[data-test="submit-button"]').trigger("click");
    await flushPromises();
    expect(wrapper.find('[data-test="submit-error"]').text()).toContain("Invalid params: resource: no such resource");
    expect(wrapper.find('[data-test="schema-field-resource"] [data-test="field-error"]').text()).toContain("no such resource");
    status = 429;
    await wrapper.find('[data-test="submit-button"]').trigger("click");
    await flushPromises();
    expect(wrapper.find('[data-test="submit-error"]').text()).toContain("At most 5 'export' jobs an hour");
  });
});

describe("image files and quota", () => {
  it("previews 3 张 × 1 配额 = 3 配额, confirms with the balance before and after, then submits the upload ids", async () => {
    serve(baseRoutes({ "POST /api/v1/jobs": () => ({ status: 202, body: job({ id: 50, type: "images" }) }) }, { ...ALICE, quota: 20 }));
    wrapper = await mountPage(ALICE, { type: "images" }, "zh-CN");
    await addFiles(wrapper, [jpeg("a.jpg"), jpeg("b.jpg"), jpeg("c.jpg")]);
    expect(FakeXhr.all.map((x) => x.url)).toEqual(Array(3).fill("/api/v1/uploads?job_type=images"));
    expect(wrapper.find('[data-test="quota-preview"]').text()).toContain("3 张 × 1 配额 = 3 配额");

    await wrapper.find('[data-test="submit-button"]').trigger("click");
    await flushPromises();
    expect(calls("GET", "/api/v1/me")).toHaveLength(1); // the balance is read afresh
    expect(inDialog("quota-sum")?.textContent?.trim()).toBe("3 张 × 1 配额 = 3 配额");
    expect(inDialog("quota-before")?.textContent?.trim()).toBe("20 配额");
    expect(inDialog("quota-after")?.textContent?.trim()).toBe("17 配额");
    expect(calls("POST", "/api/v1/jobs")).toHaveLength(0);

    (inDialog("quota-confirm") as HTMLButtonElement).click();
    await flushPromises();
    await flushPromises();
    const posts = calls("POST", "/api/v1/jobs");
    expect(posts).toHaveLength(1);
    expect(posts[0]!.body).toEqual({ type: "images", params: { brightness: 1, format: "jpeg" }, upload_ids: [5, 6, 7] });
    expect(router.currentRoute.value.fullPath).toBe("/jobs/50");
  });

  it("keeps the files when items are typed for a while, and sends what is chosen", async () => {
    serve(baseRoutes({ "POST /api/v1/jobs": () => ({ status: 202, body: job({ id: 51 }) }) }));
    wrapper = await mountPage(ALICE, { type: "images" });
    await addFiles(wrapper, [jpeg("a.jpg")]);
    await wrapper.find('[data-test="item-source-typed"] input').trigger("change");
    await flushPromises();
    expect(wrapper.find('[data-test="quota-preview"]').text()).toContain("0 × 1 quota = 0 quota");
    await wrapper.find('[data-test="item-source-files"] input').trigger("change");
    await flushPromises();
    expect(wrapper.find('[data-test="file-kept"]').text()).toContain("a.jpg");
    expect(wrapper.find('[data-test="quota-preview"]').text()).toContain("1 × 1 quota = 1 quota");
  });

  it("refuses to confirm when the balance falls short, saying by how much", async () => {
    serve(baseRoutes({}, { ...ALICE, quota: 2 }));
    wrapper = await mountPage(ALICE, { type: "images" });
    await addFiles(wrapper, [jpeg("a.jpg"), jpeg("b.jpg"), jpeg("c.jpg")]);
    await wrapper.find('[data-test="submit-button"]').trigger("click");
    await flushPromises();
    expect(inDialog("quota-shortfall")?.textContent).toContain("Not enough quota: 1 short.");
    expect((inDialog("quota-confirm") as HTMLButtonElement).disabled).toBe(true);
  });

  it("shows the server's quota refusal when the balance moved meanwhile", async () => {
    serve(
      baseRoutes({
        "POST /api/v1/jobs": () => ({
          status: 403,
          body: { error: { code: "quota_insufficient", message: "需要 3 配额，您的余额为 1（还差 2）。", details: { cost: 3, balance: 1, shortfall: 2 } } },
        }),
      }),
    );
    wrapper = await mountPage(ALICE, { type: "images" }, "zh-CN");
    await addFiles(wrapper, [jpeg("a.jpg"), jpeg("b.jpg"), jpeg("c.jpg")]);
    await wrapper.find('[data-test="submit-button"]').trigger("click");
    await flushPromises();
    (inDialog("quota-confirm") as HTMLButtonElement).click();
    await flushPromises();
    await flushPromises();
    expect(wrapper.find('[data-test="submit-error"]').text()).toContain("需要 3 配额，您的余额为 1（还差 2）。");
  });

  it("refuses a GIF in the page at once, in Chinese", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(ALICE, { type: "images" }, "zh-CN");
    await addFiles(wrapper, [new File([new Uint8Array(8)], "动图.gif", { type: "image/gif" })]);
    expect(FakeXhr.all).toHaveLength(0);
    expect(wrapper.find('[data-test="file-rejected"] [data-test="file-reason"]').text()).toBe("不支持此文件类型；支持：JPEG, PNG, WebP。");
  });
});

describe("an import: preview, dry run, for real", () => {
  it("previews the file, tries it as a dry run, shows the outcome and invalid rows, then imports for real", async () => {
    let dryRunStatus = "running";
    serve(
      baseRoutes({
        "POST /api/v1/job-types/import/preview": () => ({ body: PREVIEW }),
        "POST /api/v1/jobs": (call) =>
          (call.body as { params: { dry_run: boolean } }).params.dry_run
            ? { status: 202, body: job({ id: 6, type: "import" }) }
            : { status: 202, body: job({ id: 7, type: "import" }) },
        "GET /api/v1/jobs/6": () => ({ body: job({ id: 6, type: "import", status: dryRunStatus, total: 200, processed: dryRunStatus === "running" ? 80 : 200, progress: dryRunStatus === "running" ? 40 : 100 }) }),
        "GET /api/v1/jobs/6/tally": () => ({ body: { job_id: 6, succeeded: 149, failed: 51, skipped: 0, outputs: { inserted: 140, updated: 9 }, other_outputs: 0 } }),
        "GET /api/v1/jobs/6/items": (call) => ({
          body: call.query.get("cursor")
            ? { items: [{ index: 60, key: null, status: "failed", input: { 商品编码: "SKU000960" }, output: null, error: "second page", attempts: 1 }], next_cursor: null }
            : { items: [{ index: 7, key: null, status: "failed", input: { 商品编码: "SKU000957", 价格: "-12.00" }, output: null, error: 'price："-12.00" 必须大于或等于 0', attempts: 1 }], next_cursor: "7" },
        }),
        "GET /api/v1/jobs/6/errors.csv": () => ({ raw: "\ufeff商品编码,错误原因\n" }),
      }),
    );
    // the download hands the browser a blob link and clicks it; here the click is only counted
    const created: Blob[] = [];
    const made = vi.spyOn(URL, "createObjectURL").mockImplementation((blob) => (created.push(blob as Blob), "blob:x"));
    const clicked = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => undefined);
    wrapper = await mountPage(ALICE, { type: "import" });

    expect(wrapper.find('[data-test="schema-field-upload_ids"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="schema-field-dry_run"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="preview-waiting"]').exists()).toBe(true);

    await addFiles(wrapper, [new File(["商品编码,库存\n"], "products.csv", { type: "text/csv" })]);
    const select = wrapper.find('[data-test="field-resource"]');
    expect(select.classes()).toContain("n-select"); // the resources are offered
    select.findComponent({ name: "Select" }).vm.$emit("update:value", "products");
    await flushPromises();
    await wait(450);
    await flushPromises();

    const previews = calls("POST", "/api/v1/job-types/import/preview");
    expect(previews).toHaveLength(1);
    expect(previews[0]!.body).toEqual({ params: { resource: "products", mode: "insert", mapping: null, dry_run: false }, upload_ids: [5] });
    expect(wrapper.find('[data-test="preview-encoding"]').text()).toBe("gb18030");
    expect(wrapper.find('[data-test="preview-row-invalid"]').text()).toContain('stock: "-1" must be at least 0');

    await wrapper.find('[data-test="dry-run-button"]').trigger("click");
    await flushPromises();
    const dry = calls("POST", "/api/v1/jobs")[0]!;
    expect(dry.body).toEqual({ type: "import", params: { resource: "products", mode: "insert", mapping: null, dry_run: true }, upload_ids: [5] });
    expect(live.options!.path).toBe("/jobs/6/events");
    expect(wrapper.find('[data-test="dry-run-status"]').text()).toBe("Running");

    dryRunStatus = "partially_succeeded";
    live.options!.onEvent({ id: 9, job_id: 6, kind: "finished", at: 1, data: {} });
    await wait(350);
    await flushPromises();
    expect(live.stop).toHaveBeenCalled();
    expect(wrapper.find('[data-test="count-new"]').text()).toBe("New140");
    expect(wrapper.find('[data-test="count-updated"]').text()).toBe("Updated9");
    expect(wrapper.find('[data-test="count-skipped"]').text()).toBe("Skipped0");
    expect(wrapper.find('[data-test="count-invalid"]').text()).toBe("Invalid51");
    expect(wrapper.findAll('[data-test="invalid-row"]').map((r) => r.text())).toEqual([
      '8商品编码: SKU000957 · 价格: -12.00price："-12.00" 必须大于或等于 0',
    ]);
    const firstPage = calls("GET", "/api/v1/jobs/6/items")[0]!;
    expect([firstPage.query.get("status"), firstPage.query.get("limit")]).toEqual(["failed", "50"]);

    await wrapper.find('[data-test="invalid-more"]').trigger("click");
    await flushPromises();
    expect(calls("GET", "/api/v1/jobs/6/items").at(-1)!.query.get("cursor")).toBe("7");
    expect(wrapper.findAll('[data-test="invalid-row"]')).toHaveLength(2);
    expect(wrapper.find('[data-test="invalid-more"]').exists()).toBe(false);

    await wrapper.find('[data-test="error-report"]').trigger("click");
    await flushPromises();
    expect(calls("GET", "/api/v1/jobs/6/errors.csv")).toHaveLength(1);
    expect(created).toHaveLength(1);
    expect(clicked).toHaveBeenCalledTimes(1);
    made.mockRestore();
    clicked.mockRestore();

    // a changed setting makes the trial's outcome out of date, until it is set back
    const mode = () => wrapper!.find('[data-test="field-mode"]').findComponent({ name: "Select" });
    mode().vm.$emit("update:value", "upsert");
    await flushPromises();
    expect(wrapper.find('[data-test="dry-run-stale"]').exists()).toBe(true);
    expect(wrapper.find('[data-test="submit-button"]').text()).toBe("Import");
    mode().vm.$emit("update:value", "insert");
    await flushPromises();
    expect(wrapper.find('[data-test="dry-run-stale"]').exists()).toBe(false);

    const forReal = wrapper.find('[data-test="submit-button"]');
    expect(forReal.text()).toBe("Import for real");
    await forReal.trigger("click");
    await flushPromises();
    await flushPromises();
    const real = calls("POST", "/api/v1/jobs")[1]!;
    expect(real.body).toEqual({ type: "import", params: { resource: "products", mode: "insert", mapping: null, dry_run: false }, upload_ids: [5] });
    expect(real.headers.get("Idempotency-Key")).not.toBe(dry.headers.get("Idempotency-Key"));
    expect(router.currentRoute.value.fullPath).toBe("/jobs/7");
  });

  it("maps a column to a field from the preview and previews again", async () => {
    serve(baseRoutes({ "POST /api/v1/job-types/import/preview": () => ({ body: PREVIEW }) }));
    wrapper = await mountPage(ALICE, { type: "import" });
    await addFiles(wrapper, [new File(["x"], "products.csv", { type: "text/csv" })]);
    wrapper.find('[data-test="field-resource"]').findComponent({ name: "Select" }).vm.$emit("update:value", "products");
    await wait(450);
    await flushPromises();
    wrapper.find('[data-test="map-1"]').findComponent({ name: "Select" }).vm.$emit("update:value", "sku");
    await wait(450);
    await flushPromises();
    const last = calls("POST", "/api/v1/job-types/import/preview").at(-1)!;
    expect((last.body as { params: { mapping: unknown } }).params.mapping).toEqual({ 库存: "sku" });
  });
});

describe("the submitter", () => {
  it("keeps the key for a retry of the same job and makes a new one for a different job or a new intent", async () => {
    const keys: string[] = [];
    let fail = true;
    let n = 0;
    const submitter = createSubmitter(
      async (_body, key) => {
        keys.push(key);
        if (fail) throw new Error("lost");
        return job();
      },
      () => `key-${++n}`,
    );
    await expect(submitter.submit({ type: "demo_slow", items: [1] })).rejects.toThrow("lost");
    fail = false;
    await submitter.submit({ type: "demo_slow", items: [1] });
    await submitter.submit({ type: "demo_slow", items: [1, 2] });
    submitter.reset();
    await submitter.submit({ type: "demo_slow", items: [1, 2] });
    expect(keys).toEqual(["key-1", "key-1", "key-2", "key-3"]);
  });

  it("gives a second call while the first is on its way the same answer, without sending again", async () => {
    let sends = 0;
    const submitter = createSubmitter(async () => {
      sends += 1;
      await Promise.resolve();
      return job({ id: 99 });
    });
    const [a, b] = await Promise.all([submitter.submit({ type: "t" }), submitter.submit({ type: "t" })]);
    expect(sends).toBe(1);
    expect(a.id).toBe(99);
    expect(b.id).toBe(99);
  });
});

describe("accessibility", () => {
  for (const theme of ["light", "dark"] as const) {
    it(`has no structural problems with an import previewed (${theme})`, async () => {
      serve(baseRoutes({ "POST /api/v1/job-types/import/preview": () => ({ body: PREVIEW }) }));
      wrapper = await mountPage(ALICE, { type: "import" });
      usePrefs().theme = theme;
      await addFiles(wrapper, [new File(["x"], "products.csv", { type: "text/csv" }), new File(["y"], "second.csv", { type: "text/csv" })]);
      wrapper.find('[data-test="field-resource"]').findComponent({ name: "Select" }).vm.$emit("update:value", "products");
      await wait(450);
      await flushPromises();
      expect(wrapper.find('[data-test="import-preview"]').exists()).toBe(true);
      const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
      expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 160)).join(" | ")}`)).toEqual([]);
    });
  }

  it("has no structural problems in the images and export forms, with a filter entry added", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(ALICE, { type: "images" });
    await addFiles(wrapper, [jpeg("a.jpg"), new File([new Uint8Array(8)], "b.gif", { type: "image/gif" })]);
    const rules = { "color-contrast": { enabled: false }, region: { enabled: false } };
    let result = await axe.run(document.body, { rules });
    expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 160)).join(" | ")}`)).toEqual([]);
    wrapper.unmount();
    document.body.innerHTML = "";
    const withFilter = JOB_TYPES.map((type) =>
      type.name === "export"
        ? {
            ...type,
            params_schema: {
              ...type.params_schema,
              $defs: { F: { properties: { field: { type: "string", title: "Field" }, value: { title: "Value" } }, type: "object", title: "F" } },
              properties: {
                ...(type.params_schema!.properties as object),
                filter: { items: { $ref: "#/$defs/F" }, title: "Filter", type: "array" },
                extra: { anyOf: [{ type: "string" }, { type: "integer" }], title: "Extra" },
                bom: { default: false, title: "Bom", type: "boolean", description: "CSV: start with a BOM." },
              },
            },
          }
        : type,
    );
    serve(baseRoutes({ "GET /api/v1/job-types": () => ({ body: withFilter }) }));
    wrapper = await mountPage(ALICE, { type: "export" });
    await wrapper.find('[data-test="add-filter"]').trigger("click");
    await wrapper.find('[data-test="submit-button"]').trigger("click");
    await flushPromises();
    expect(wrapper.find('[data-test="field-error"]').exists()).toBe(true);
    result = await axe.run(document.body, { rules });
    expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 160)).join(" | ")}`)).toEqual([]);
  });

  it("has no structural problems in the quota dialog", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(ALICE, { type: "images" });
    await addFiles(wrapper, [jpeg("a.jpg")]);
    await wrapper.find('[data-test="submit-button"]').trigger("click");
    await flushPromises();
    const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
    expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 160)).join(" | ")}`)).toEqual([]);
  });
});

describe("the idempotency key on a page that is not a secure context", () => {
  it("is made without crypto.randomUUID, which plain-HTTP pages on a host name lack", async () => {
    const { randomKey, createSubmitter } = await import("@/components/submit/submitter");
    const original = crypto.randomUUID;
    Object.defineProperty(crypto, "randomUUID", { value: undefined, configurable: true });
    try {
      const keys: string[] = [];
      const submitter = createSubmitter(async (_body, key) => {
        keys.push(key);
        return { id: 1 } as never;
      });
      await submitter.submit({ type: "demo_slow", params: {}, items: [1] });
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
      expect(randomKey()).not.toBe(randomKey());
    } finally {
      Object.defineProperty(crypto, "randomUUID", { value: original, configurable: true });
    }
  });
});
