// The task list page as a user meets it: what it asks the service for (filter, cursor), how live events change
// it (rows in place; new jobs only counted in a banner), bulk actions, and what a viewer does not get.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defineComponent, h, ref } from "vue";
import { createMemoryHistory, createRouter, type Router } from "vue-router";
import { configureClient, type Job, type User } from "@/api/client";
import { i18n, missingKeys } from "@/i18n";
import type { LiveOptions } from "@/live/events";
import JobListPage from "@/pages/JobListPage.vue";
import { usePrefs } from "@/stores/prefs";
import { useSession } from "@/stores/session";

// openapi-fetch keeps the fetch it finds when the client is made, so the stub must be in place before imports.
const fetchMock = vi.hoisted(() => {
  const mock = vi.fn<(request: Request) => Promise<Response>>();
  vi.stubGlobal("fetch", mock);
  return mock;
});

// happy-dom lays nothing out: every observed element reports a fixed size, so the virtual table shows some rows.
vi.hoisted(() => {
  class FixedSizeObserver {
    constructor(private readonly report: (entries: unknown[], observer: unknown) => void) {}
    observe(target: Element): void {
      void Promise.resolve().then(() => this.report([{ target, contentRect: { width: 1200, height: 480 } }], this));
    }
    unobserve(): void {}
    disconnect(): void {}
  }
  vi.stubGlobal("ResizeObserver", FixedSizeObserver);
});

// The live stream is replaced by a handle the test drives: it delivers events and calls poll itself.
const liveHandle = vi.hoisted(() => ({ options: null as LiveOptions | null, stopped: 0 }));
vi.mock("@/live/events", () => ({
  follow(options: LiveOptions) {
    liveHandle.options = options;
    return { connected: ref(true), updatedAt: ref(Date.now()), stop: () => (liveHandle.stopped += 1) };
  },
}));

interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}
type Handler = (sent: Sent) => { status?: number; body?: unknown };

let sent: Sent[] = [];

function serve(table: Record<string, Handler>): void {
  sent = [];
  fetchMock.mockImplementation(async (request: Request) => {
    const url = new URL(request.url);
    const text = await request.clone().text();
    const call: Sent = { method: request.method, path: url.pathname, query: url.searchParams, body: text ? JSON.parse(text) : undefined };
    sent.push(call);
    const route = url.pathname.replace(/\/\d+(?=\/|$)/, "/{id}");
    const handler = table[`${request.method} ${route}`];
    if (!handler) return new Response(JSON.stringify({ error: { code: "not_found", message: "no route" } }), { status: 404 });
    const { status = 200, body } = handler(call);
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
}

const ALICE: User = { id: 2, name: "alice", role: "operator", quota: 78, created_at: "2026-12-01T02:00:26Z", email: null };
const VICTOR: User = { id: 3, name: "victor", role: "viewer", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };
const ADMIN: User = { id: 1, name: "admin", role: "admin", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };

/** A job shaped like the demo's answers. */
function job(id: number, over: Partial<Job> = {}): Job {
  const total = over.total ?? 20;
  const processed = over.processed ?? 15;
  return {
    id,
    type: "demo_slow",
    owner: "alice",
    status: "running",
    params: {},
    total,
    processed,
    succeeded: processed,
    failed: 0,
    skipped: 0,
    progress: total ? (processed / total) * 100 : 0,
    eta_seconds: 6.8,
    current: `item ${processed}`,
    round: 1,
    rounds: [{ number: 1, started_at: "2026-12-01T02:01:47.354299Z", items: total, finished_at: null }],
    error: null,
    quota: { charged: 0, refunded: 0 },
    created_at: "2026-12-01T02:01:47.354299Z",
    started_at: "2026-12-01T02:01:48.371010Z",
    finished_at: null,
    ...over,
  };
}

/** The service's jobs, newest first; GET /jobs pages them by cursor (the last id seen). */
let store: Job[] = [];
function seed(count: number, top = count): void {
  store = Array.from({ length: count }, (_, i) => job(top - i));
}

const TYPES = [
  { name: "demo_slow", title: "Count slowly (demo)" },
  { name: "export", title: "Export a table" },
].map((t) => ({ ...t, unit_cost: 0, jobs_per_hour: null, jobs_per_day: null, max_active_jobs: null, params_schema: null, takes_items: true, chunk_size: 5, max_items: null, max_concurrency: null, priority: 0, exclusive: null, accepts: null, max_file_bytes: null }));

const service: Record<string, Handler> = {
  "GET /api/v1/job-types": () => ({ body: TYPES }),
  "GET /api/v1/me": () => ({ body: ALICE }),
  "GET /api/v1/jobs": ({ query }) => {
    const limit = Number(query.get("limit") ?? 50);
    const cursor = query.get("cursor");
    const type = query.get("type");
    const older = store.filter((j) => (!cursor || j.id < Number(cursor)) && (!type || j.type === type));
    const jobs = older.slice(0, limit);
    const more = older.length > limit;
    return { body: { jobs, next_cursor: more ? String(jobs[jobs.length - 1]!.id) : null } };
  },
  "GET /api/v1/jobs/{id}": ({ path }) => {
    const found = store.find((j) => `/api/v1/jobs/${j.id}` === path);
    return found ? { body: found } : { status: 404, body: { error: { code: "job_not_found", message: "gone" } } };
  },
  "GET /api/v1/jobs/{id}/items": () => ({
    body: {
      items: [
        { index: 0, key: "a.jpg", status: "succeeded", input: "a.jpg", output: {}, error: null, attempts: 1 },
        { index: 1, key: "b.jpg", status: "failed", input: "b.jpg", output: null, error: "图片已损坏", attempts: 3 },
      ],
      next_cursor: null,
    },
  }),
};

let router: Router;
let wrapper: VueWrapper | undefined;

async function mountAt(url: string, user: User, locale: "zh-CN" | "en" = "zh-CN"): Promise<VueWrapper> {
  const pinia = createPinia();
  setActivePinia(pinia);
  const session = useSession();
  session.token = "by_test";
  session.user = user;
  const prefs = usePrefs();
  prefs.locale = locale;
  prefs.timeZone = "Asia/Shanghai";
  i18n.global.locale.value = locale;
  configureClient({ token: () => "by_test", language: () => locale, signedOut: () => undefined });
  const blank = { render: () => null };
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/jobs", name: "jobs", component: JobListPage },
      { path: "/jobs/new", name: "new-job", component: blank },
      { path: "/jobs/:id(\\d+)", name: "job", component: blank },
    ],
  });
  await router.push(url);
  await router.isReady();
  const host = defineComponent({ render: () => h(JobListPage) });
  wrapper = mount(host, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body });
  await flushPromises();
  return wrapper;
}

const listRequests = (): Sent[] => sent.filter((s) => s.method === "GET" && s.path === "/api/v1/jobs");
const text = (selector: string): string => document.querySelector(selector)?.textContent?.trim() ?? "";

beforeEach(() => {
  missingKeys.length = 0;
  liveHandle.options = null;
  seed(250);
  serve(service);
});

afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  vi.useRealTimers();
});

function rowIds(): number[] {
  return [...document.querySelectorAll<HTMLElement>("[data-test=job-row]")].map((row) => Number(row.dataset.jobId));
}

function row(id: number): HTMLElement {
  const found = document.querySelector<HTMLElement>(`[data-test=job-row][data-job-id="${id}"]`);
  if (!found) throw new Error(`row ${id} is not shown`);
  return found;
}

async function click(selector: string | Element): Promise<void> {
  const element = typeof selector === "string" ? document.querySelector<HTMLElement>(selector) : (selector as HTMLElement);
  if (!element) throw new Error(`nothing to click at ${String(selector)}`);
  element.click();
  await flushPromises();
}

async function type(selector: string, value: string): Promise<void> {
  const input = document.querySelector<HTMLInputElement | HTMLTextAreaElement>(selector);
  if (!input) throw new Error(`no input at ${selector}`);
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  await flushPromises();
}

function event(jobId: number, kind: string, data: Record<string, unknown> = {}) {
  return { id: Math.floor(Math.random() * 1e6), job_id: jobId, kind, at: Date.now() / 1000, data };
}

describe("filters in the address", () => {
  it("asks for what the address says, the days as instants in the viewer's time zone", async () => {
    await mountAt("/jobs?status=running&status=failed&type=demo_slow&from=2026-03-01&to=2026-03-05&q=batch", ALICE);
    const [first] = listRequests();
    expect(first!.query.getAll("status")).toEqual(["running", "failed"]);
    expect(first!.query.get("type")).toBe("demo_slow");
    expect(first!.query.get("created_after")).toBe("2026-02-28T16:00:00.000Z");
    expect(first!.query.get("created_before")).toBe("2026-03-05T16:00:00.000Z");
    expect(first!.query.get("q")).toBe("batch");
    expect(first!.query.get("limit")).toBe("100");
    expect(first!.query.has("cursor")).toBe(false);
    expect(first!.query.has("owner")).toBe(false); // not an admin
    expect((document.querySelector("[data-test=filter-q]") as HTMLInputElement).value).toBe("batch");
  });

  it("puts a change into the address by replacing it, and asks again", async () => {
    await mountAt("/jobs?type=demo_slow", ALICE);
    const push = vi.spyOn(router, "push");
    const replace = vi.spyOn(router, "replace");
    await click("[data-test=filter-group-failed] input");
    expect(router.currentRoute.value.query).toEqual({ group: "failed", type: "demo_slow" });
    expect(replace).toHaveBeenCalled();
    expect(push).not.toHaveBeenCalled();
    expect(listRequests().at(-1)!.query.get("group")).toBe("failed");

    await type("[data-test=filter-q]", "  report ");
    expect(router.currentRoute.value.query.q).toBeUndefined(); // still typing
    await new Promise((resolve) => setTimeout(resolve, 400));
    await flushPromises();
    expect(router.currentRoute.value.query).toEqual({ group: "failed", type: "demo_slow", q: "report" });
    expect(listRequests().at(-1)!.query.get("q")).toBe("report");
  });

  it("lets an admin filter by owner, and only an admin", async () => {
    await mountAt("/jobs?owner=bob", ADMIN);
    expect(listRequests()[0]!.query.get("owner")).toBe("bob");
    expect(document.querySelector("[data-test=filter-owner]")).not.toBeNull();
    expect(document.querySelector('[data-col-key="owner"]')).not.toBeNull();
  });
});

describe("paging", () => {
  it("asks for the next page with the cursor when the table is scrolled near its end", async () => {
    await mountAt("/jobs?group=active", ALICE);
    expect(text("[data-test=jobs-loaded]")).toContain("已加载 100 个任务");
    const body = document.querySelector("[data-test=jobs-table] .v-vl");
    expect(body).not.toBeNull();
    body!.dispatchEvent(new Event("scroll"));
    await flushPromises();
    const second = listRequests()[1]!;
    expect(second.query.get("cursor")).toBe("151");
    expect(second.query.get("limit")).toBe("100");
    expect(second.query.get("group")).toBe("active");
    expect(text("[data-test=jobs-loaded]")).toContain("已加载 200 个任务");

    await click("[data-test=load-more]");
    expect(listRequests()[2]!.query.get("cursor")).toBe("51");
    expect(text("[data-test=jobs-loaded]")).toContain("已加载 250 个任务");
    expect(text("[data-test=jobs-loaded]")).toContain("已全部加载");
    expect(document.querySelector("[data-test=load-more]")).toBeNull();
  });
});

describe("live updates", () => {
  it("changes shown rows in place and only counts new jobs in a banner", async () => {
    await mountAt("/jobs", ALICE);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const live = liveHandle.options!;
    expect(live.path).toBe("/events");
    expect(rowIds()[0]).toBe(250);

    store[0] = job(250, { status: "succeeded", processed: 20, eta_seconds: null });
    store.unshift(job(252), job(251));
    live.onEvent(event(250, "status", { status: "succeeded" }));
    live.onEvent(event(251, "created", { type: "demo_slow", owner: "alice" }));
    live.onEvent(event(252, "created", { type: "demo_slow", owner: "alice" }));
    await vi.advanceTimersByTimeAsync(2500);
    await flushPromises();

    expect(sent.some((s) => s.path === "/api/v1/jobs/250")).toBe(true);
    expect(sent.some((s) => s.path === "/api/v1/jobs/251" || s.path === "/api/v1/jobs/252")).toBe(false);
    expect(row(250).dataset.status).toBe("succeeded");
    expect(row(250).querySelector("[data-test=job-status]")!.textContent).toContain("成功");
    expect(text("[data-test=new-jobs-banner]")).toBe("2 个新任务，点击查看");
    expect(rowIds()[0]).toBe(250); // nothing inserted above
    expect(rowIds()).not.toContain(251);
    expect(text("[data-test=jobs-loaded]")).toContain("已加载 100 个任务");

    vi.useRealTimers();
    await click("[data-test=new-jobs-banner]");
    expect(rowIds().slice(0, 3)).toEqual([252, 251, 250]);
    expect(document.querySelector("[data-test=new-jobs-banner]")).toBeNull();
  });

  it("does not look for new jobs a created event says cannot match", async () => {
    await mountAt("/jobs?type=export", ALICE);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    expect(document.querySelector("[data-test=jobs-empty]")?.textContent).toContain("没有符合筛选条件的任务");
    const before = listRequests().length;
    liveHandle.options!.onEvent(event(251, "created", { type: "demo_slow", owner: "alice" }));
    await vi.advanceTimersByTimeAsync(2500);
    expect(listRequests().length).toBe(before);

    store.unshift(job(252, { type: "export" }));
    liveHandle.options!.onEvent(event(252, "created", { type: "export", owner: "alice" }));
    await vi.advanceTimersByTimeAsync(2500);
    await flushPromises();
    expect(listRequests().length).toBe(before + 1);
  });

  it("a poll reads the first page again: merges what is shown, counts what is new", async () => {
    await mountAt("/jobs", ALICE);
    store[1] = job(249, { status: "failed", failed: 3 });
    store.unshift(job(251));
    await liveHandle.options!.poll();
    await flushPromises();
    expect(row(249).dataset.status).toBe("failed");
    expect(rowIds()[0]).toBe(250);
    expect(text("[data-test=new-jobs-banner]")).toBe("1 个新任务，点击查看");
  });

  it("stops following when the page goes", async () => {
    await mountAt("/jobs", ALICE);
    const stopped = liveHandle.stopped;
    wrapper!.unmount();
    wrapper = undefined;
    expect(liveHandle.stopped).toBe(stopped + 1);
  });
});

describe("rows", () => {
  it("shows the batch badge, progress and a link to the job", async () => {
    store[0] = job(250, { total: 50, processed: 45 });
    store[1] = job(249, { total: 1, processed: 0 });
    await mountAt("/jobs", ALICE);
    expect(row(250).querySelector("[data-test=batch-badge]")?.textContent).toBe("批量");
    expect(row(249).querySelector("[data-test=batch-badge]")).toBeNull();
    expect(row(250).querySelector("[data-test=job-progress]")?.textContent).toContain("45/50 (90%)");
    expect(row(250).querySelector("[data-test=job-link]")?.getAttribute("href")).toBe("/jobs/250");
  });

  it("opens a row to show its first items, read when opened", async () => {
    await mountAt("/jobs", ALICE);
    expect(sent.some((s) => s.path.endsWith("/items"))).toBe(false);
    const toggle = row(250).querySelector<HTMLButtonElement>("[data-test=expand-row]")!;
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    await click(toggle);
    const items = sent.find((s) => s.path === "/api/v1/jobs/250/items")!;
    expect(items.query.get("limit")).toBe("20");
    const preview = document.querySelector("[data-test=job-items]")!;
    expect(preview.textContent).toContain("✗ 失败");
    expect(preview.textContent).toContain("图片已损坏");
    expect(row(250).querySelector("[data-test=expand-row]")!.getAttribute("aria-expanded")).toBe("true");
  });
});

describe("bulk actions", () => {
  const answer = {
    action: "cancel",
    reason: "清理测试任务",
    matched: 2,
    outcomes: [
      { job_id: 250, ok: true, status: "cancelled", error: null, quota_moved: { charged: 0, refunded: 5 } },
      {
        job_id: 249,
        ok: false,
        status: "succeeded",
        error: { code: "illegal_transition", message: "任务 249 当前状态为 succeeded，无法cancel。" },
        quota_moved: { charged: 0, refunded: 0 },
      },
    ],
  };

  it("acts on the selected rows with the reason given, and shows what happened", async () => {
    serve({ ...service, "POST /api/v1/jobs/actions": () => ({ body: answer }) });
    await mountAt("/jobs", ALICE);
    await click(row(250).querySelector("[data-test=select-row]")!);
    await click(row(249).querySelector("[data-test=select-row]")!);
    expect(text("[data-test=bulk-scope-selected]")).toContain("选中的 2 个任务");
    await click("[data-test=bulk-cancel]");
    expect(text("[data-test=bulk-question]")).toBe("对 2 个任务执行取消");

    await click("[data-test=bulk-confirm]");
    expect(document.querySelector("[data-test=bulk-dialog]")?.textContent).toContain("请填写原因");
    expect(sent.some((s) => s.method === "POST")).toBe(false);

    await type("[data-test=bulk-reason]", "清理测试任务");
    await click("[data-test=bulk-confirm]");
    const post = sent.find((s) => s.method === "POST")!;
    expect(post.path).toBe("/api/v1/jobs/actions");
    expect(post.body).toEqual({ action: "cancel", ids: [250, 249], reason: "清理测试任务" });
    expect(text("[data-test=bulk-summary]")).toContain("成功 1 个，被拒绝 1 个");
    expect(text("[data-test=bulk-refunded]")).toContain("退回配额 5");
    expect(text("[data-test=bulk-refusal]")).toBe("任务 #249：任务 249 当前状态为 succeeded，无法cancel。");
    // then the rows acted on and the balance are read again
    expect(sent.some((s) => s.path === "/api/v1/jobs/250")).toBe(true);
    expect(sent.some((s) => s.path === "/api/v1/me")).toBe(true);
  });

  it("acts on everything matching the filter by sending the filter, not ids", async () => {
    serve({ ...service, "POST /api/v1/jobs/actions": () => ({ body: { ...answer, action: "pause" } }) });
    await mountAt("/jobs?group=active&type=demo_slow&from=2026-03-01&to=2026-03-01", ALICE);
    await click("[data-test=bulk-scope-filter] input");
    await click("[data-test=bulk-pause]");
    expect(text("[data-test=bulk-question]")).toBe("对所有符合筛选条件的任务执行暂停");
    await type("[data-test=bulk-reason]", "维护窗口");
    await click("[data-test=bulk-confirm]");
    const post = sent.find((s) => s.method === "POST")!;
    expect(post.body).toEqual({
      action: "pause",
      filter: {
        group: "active",
        type: "demo_slow",
        created_after: "2026-02-28T16:00:00.000Z",
        created_before: "2026-03-01T16:00:00.000Z",
        up_to_id: 250, // the newest job the list showed: jobs made since are not acted on
      },
      reason: "维护窗口",
    });
  });

  it("counts all loaded rows in English when all are selected", async () => {
    await mountAt("/jobs", ALICE, "en");
    await click("[data-test=select-all]");
    expect(text("[data-test=bulk-scope-selected]")).toContain("The 100 selected jobs");
    await click("[data-test=bulk-cancel]");
    expect(text("[data-test=bulk-question]")).toBe("Cancel 100 jobs");
  });

  it("gives a viewer no checkboxes and no actions", async () => {
    await mountAt("/jobs", VICTOR);
    expect(rowIds().length).toBeGreaterThan(0);
    for (const hook of ["select-row", "select-all", "bulk-bar", "bulk-cancel", "new-job"]) {
      expect(document.querySelector(`[data-test=${hook}]`), hook).toBeNull();
    }
  });
});

describe("empty and failed", () => {
  it("says there are no jobs yet, in the viewer's language", async () => {
    store = [];
    await mountAt("/jobs", ALICE, "en");
    expect(text("[data-test=jobs-empty]")).toContain("No jobs yet.");
  });

  it("shows the service's message and lets the viewer try again", async () => {
    let down = true;
    serve({
      ...service,
      "GET /api/v1/jobs": (call) =>
        down ? { status: 503, body: { error: { code: "unavailable", message: "服务暂不可用" } } } : service["GET /api/v1/jobs"]!(call),
    });
    await mountAt("/jobs", ALICE);
    expect(text("[data-test=jobs-error]")).toContain("任务列表加载失败：服务暂不可用");
    down = false;
    await click("[data-test=jobs-retry]");
    expect(document.querySelector("[data-test=jobs-error]")).toBeNull();
    expect(rowIds()[0]).toBe(250);
  });
});

describe("accessibility (structure only: happy-dom computes no colours)", () => {
  it("has labelled controls, named buttons and table headers", async () => {
    const axe = (await import("axe-core")).default;
    await mountAt("/jobs?from=2026-03-01&to=2026-03-02", ADMIN);
    await click(row(250).querySelector("[data-test=expand-row]")!);
    await click("[data-test=bulk-scope-filter] input");
    await click("[data-test=bulk-cancel]");
    const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
    expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 160)).join(" | ")}`)).toEqual([]);
    expect(missingKeys).toEqual([]);
  });
});
