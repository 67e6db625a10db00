// The job page's sections on their own: failures grouped by cause (sorted, opening onto a sample read on
// demand), the downloads offered for what the job has, and an import's tally.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { NDialogProvider, NMessageProvider } from "naive-ui";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defineComponent, h, type Component } from "vue";
import { configureClient, type Job, type Schemas } from "@/api/client";
import JobDownloads from "@/components/job/JobDownloads.vue";
import JobFailures from "@/components/job/JobFailures.vue";
import JobTally from "@/components/job/JobTally.vue";
import { i18n, missingKeys } from "@/i18n";
import { usePrefs } from "@/stores/prefs";

const fetchMock = vi.hoisted(() => {
  const mock = vi.fn<(input: Request | string, init?: RequestInit) => Promise<Response>>();
  vi.stubGlobal("fetch", mock);
  return mock;
});

interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
}
type Handler = (sent: Sent) => { status?: number; body?: unknown; file?: string };
let sent: Sent[] = [];

function serve(routes: Record<string, Handler>): void {
  sent = [];
  fetchMock.mockImplementation(async (input: Request | string) => {
    const request = typeof input === "string" ? new Request(new URL(input, "http://localhost")) : input;
    const url = new URL(request.url, "http://localhost");
    const call = { method: request.method, path: url.pathname, query: url.searchParams };
    sent.push(call);
    const handler = routes[`${request.method} ${url.pathname}`];
    if (!handler) return new Response(JSON.stringify({ error: { code: "not_found", message: "no route" } }), { status: 404 });
    const { status = 200, body, file } = handler(call);
    if (file !== undefined) return new Response(file, { status, headers: { "Content-Disposition": `attachment; filename="${file}"` } });
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
}

function job(over: Partial<Job> = {}): Job {
  return {
    id: 8,
    type: "import",
    owner: "alice",
    status: "partially_succeeded",
    params: { resource: "products", mode: "upsert", dry_run: true },
    total: 200,
    processed: 200,
    succeeded: 198,
    failed: 2,
    skipped: 0,
    progress: 100,
    eta_seconds: null,
    current: null,
    round: 1,
    rounds: [{ number: 1, started_at: "2026-12-01T02:03:19.096584Z", items: 200, finished_at: "2026-12-01T02:03:19.107761Z" }],
    error: null,
    quota: { charged: 0, refunded: 0 },
    created_at: "2026-12-01T02:03:19Z",
    started_at: "2026-12-01T02:03:19Z",
    finished_at: "2026-12-01T02:03:19.107761Z",
    ...over,
  };
}

async function mountIn(component: Component, props: Record<string, unknown>, locale: "en" | "zh-CN" = "en"): Promise<VueWrapper> {
  const pinia = createPinia();
  setActivePinia(pinia);
  const prefs = usePrefs();
  prefs.locale = locale;
  prefs.timeZone = "UTC";
  i18n.global.locale.value = locale;
  configureClient({ token: () => "by_test", language: () => locale, signedOut: () => undefined });
  const host = defineComponent({
    render: () => h(NMessageProvider, null, () => h(NDialogProvider, null, () => h(component, props))),
  });
  const mounted = mount(host, { global: { plugins: [pinia, i18n] }, attachTo: document.body });
  await flushPromises();
  return mounted;
}

let wrapper: VueWrapper | undefined;
/** The names of the files the browser was handed. */
let saved: string[] = [];
beforeEach(() => {
  document.body.innerHTML = "";
  missingKeys.length = 0;
  globalThis.URL.createObjectURL = vi.fn(() => "blob:x");
  globalThis.URL.revokeObjectURL = vi.fn();
  saved = [];
  // A download ends in a click on a blob link, which would send happy-dom's window away: record it instead.
  vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
    saved.push(this.download);
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  wrapper?.unmount();
  wrapper = undefined;
  expect(missingKeys).toEqual([]);
});

const cause = (text: string, count: number, index: number, error: string): Schemas["CauseOut"] => ({
  cause: text,
  count,
  sample: { index, error, at: "2026-12-01T02:03:19.106546Z" },
  indices: [index, index + 40],
  first_seen: "2026-12-01T02:03:19.106546Z",
  last_seen: "2026-12-01T02:05:00Z",
});

describe("failures by cause", () => {
  const failures = {
    job_id: 8,
    failed: 1_501,
    causes: [
      cause("stock：'…' 不是整数", 1, 120, 'stock："很多" 不是整数'),
      cause("price：'…' 必须大于或等于 <n>", 1_500, 7, 'price："-12.00" 必须大于或等于 0'),
    ],
  };
  const sampleItem = {
    index: 7,
    key: "SKU000957",
    status: "failed",
    input: { 商品编码: "SKU000957", 价格: "-12.00" },
    output: null,
    error: 'price："-12.00" 必须大于或等于 0',
    attempts: 1,
  };

  it("lists the causes most frequent first, with counts", async () => {
    serve({ "GET /api/v1/jobs/8/failures": () => ({ body: failures }) });
    wrapper = await mountIn(JobFailures, { jobId: 8, refresh: 0 }, "zh-CN");
    expect(wrapper.find('[data-test="failures-summary"]').text()).toBe("1,501 项失败，共 2 种原因");
    const causes = wrapper.findAll('[data-test="failure-cause"]').map((c) => [
      c.find('[data-test="failure-count"]').text(),
      c.find('[data-test="failure-text"]').text(),
    ]);
    expect(causes).toEqual([
      ["1,500 项", "price：'…' 必须大于或等于 <n>"],
      ["1 项", "stock：'…' 不是整数"],
    ]);
    expect(wrapper.find('[data-test="failure-sample"]').exists()).toBe(false);
  });

  it("opens a cause onto its sample, reading the sample item's key and input by cursor", async () => {
    serve({
      "GET /api/v1/jobs/8/failures": () => ({ body: failures }),
      "GET /api/v1/jobs/8/items": () => ({ body: { items: [sampleItem], next_cursor: "7" } }),
    });
    wrapper = await mountIn(JobFailures, { jobId: 8, refresh: 0 });
    expect(wrapper.findAll('[data-test="failure-count"]').map((c) => c.text())).toEqual(["1,500 items", "1 item"]);
    const toggle = wrapper.find('[data-test="failure-cause-toggle"]');
    expect(toggle.attributes("aria-expanded")).toBe("false");
    await toggle.trigger("click");
    await flushPromises();
    expect(toggle.attributes("aria-expanded")).toBe("true");
    const read = sent.filter((s) => s.path === "/api/v1/jobs/8/items");
    expect(read).toHaveLength(1);
    expect(read[0]!.query.get("cursor")).toBe("6");
    expect(read[0]!.query.get("limit")).toBe("1");
    const sample = wrapper.find('[data-test="failure-sample"]');
    expect(sample.find('[data-test="sample-index"]').text()).toBe("#7");
    expect(sample.find('[data-test="sample-key"]').text()).toBe("SKU000957");
    expect(sample.find('[data-test="sample-error"]').text()).toBe('price："-12.00" 必须大于或等于 0');
    expect(sample.find('[data-test="sample-input"]').text()).toContain('"价格": "-12.00"');
    expect(sample.find('[data-test="sample-indices"]').text()).toBe("#7, #47");
    await toggle.trigger("click");
    expect(wrapper.find('[data-test="failure-sample"]').exists()).toBe(false);
  });

  it("says when nothing failed, and reads again when told to", async () => {
    serve({ "GET /api/v1/jobs/8/failures": () => ({ body: { job_id: 8, failed: 0, causes: [] } }) });
    wrapper = await mountIn(JobFailures, { jobId: 8, refresh: 0 });
    expect(wrapper.find('[data-test="failures-none"]').text()).toBe("No failed items.");
  });
});

describe("downloads", () => {
  const exportFile = {
    id: 2,
    job_id: 8,
    item_index: null,
    name: "products.csv",
    kind: "export",
    content_type: "text/csv",
    size: 51_776,
    sha256: "67eb",
    created_at: "2026-12-01T02:03:10Z",
    expires_at: "2026-12-08T02:03:10Z",
  };
  const output = (i: number) => ({ ...exportFile, id: 100 + i, item_index: i, name: `${i}.webp`, kind: "output", size: 2048 });

  it("lists the job's files with size and expiry; no ZIP without item files; error reports when items failed", async () => {
    serve({
      "GET /api/v1/jobs/8/artifacts": () => ({ body: [exportFile] }),
      "GET /api/v1/artifacts/2": () => ({ file: "products.csv" }),
    });
    wrapper = await mountIn(JobDownloads, { job: job(), refresh: 0 });
    const file = wrapper.find('[data-test="artifact"]');
    expect(file.text()).toContain("products.csv");
    expect(file.text()).toContain("50.6 KB");
    expect(file.text()).toContain("expires");
    expect(file.text()).toContain("12/08/2026");
    expect(wrapper.find('[data-test="download-zip-all"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="download-errors-csv"]').exists()).toBe(true);
    await wrapper.find('[data-test="artifact-2"]').trigger("click");
    await flushPromises();
    expect(sent.at(-1)!.path).toBe("/api/v1/artifacts/2");
    expect(saved).toEqual(["products.csv"]);
  });

  it("offers ZIP of all and of successes when items have files, and none of the error reports without failures", async () => {
    serve({
      "GET /api/v1/jobs/8/artifacts": () => ({ body: Array.from({ length: 25 }, (_, i) => output(i)) }),
      "GET /api/v1/jobs/8/download.zip": () => ({ file: "batch_8.zip" }),
    });
    wrapper = await mountIn(JobDownloads, { job: job({ type: "images", failed: 0 }), refresh: 0 });
    expect(wrapper.find('[data-test="download-errors-csv"]').exists()).toBe(false);
    expect(wrapper.findAll('[data-test="artifact"]')).toHaveLength(20);
    expect(wrapper.find('[data-test="artifacts-more"]').text()).toContain("5 more item files");
    await wrapper.find('[data-test="download-zip-all"]').trigger("click");
    await flushPromises();
    expect(sent.at(-1)!.path).toBe("/api/v1/jobs/8/download.zip");
    expect(sent.at(-1)!.query.get("success_only")).toBe("false");
    await wrapper.find('[data-test="download-zip-success"]').trigger("click");
    await flushPromises();
    expect(sent.at(-1)!.query.get("success_only")).toBe("true");
    expect(saved).toEqual(["batch_8.zip", "batch_8.zip"]);
  });

  it("fetches the error report and shows the service's refusal", async () => {
    serve({
      "GET /api/v1/jobs/8/artifacts": () => ({ body: [] }),
      "GET /api/v1/jobs/8/errors.xlsx": () => ({
        status: 503,
        body: { error: { code: "blob_storage_error", message: "The file storage failed.", details: {} } },
      }),
    });
    wrapper = await mountIn(JobDownloads, { job: job(), refresh: 0 });
    expect(wrapper.find('[data-test="artifacts-none"]').exists()).toBe(true);
    await wrapper.find('[data-test="download-errors-xlsx"]').trigger("click");
    await flushPromises();
    expect(sent.at(-1)!.path).toBe("/api/v1/jobs/8/errors.xlsx");
    expect(document.body.textContent).toContain("The file storage failed.");
  });
});

describe("tally", () => {
  it("counts an import's rows, with the words it knows translated and others as given", async () => {
    serve({
      "GET /api/v1/jobs/8/tally": () => ({
        body: { job_id: 8, succeeded: 198, failed: 2, skipped: 0, outputs: { updated: 49, inserted: 149, merged: 3 }, other_outputs: 0 },
      }),
    });
    wrapper = await mountIn(JobTally, { job: job(), refresh: 0 }, "zh-CN");
    expect(wrapper.find('[data-test="tally-dry-run"]').exists()).toBe(true);
    const cells = (key: string) =>
      wrapper!.find(`[data-test="tally-${key}"]`).findAll("th, td").map((c) => c.text()).join(" ");
    expect(cells("output-inserted")).toBe("新增 149");
    expect(cells("output-updated")).toBe("更新 49");
    expect(cells("output-merged")).toBe("merged 3");
    expect(cells("failed")).toBe("失败 2");
    expect(wrapper.find('[data-test="tally-other"]').exists()).toBe(false);
  });
});
