// The date-range sync page over a stubbed service: the range and its 90-day limit, the preview of days to fetch
// and to skip in both languages, the start and the server's refusals (409 with the running sync, 422), the
// live panel from the day in hand to the summary (and after a reload), a viewer, and a service with no sync.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { NDatePicker } from "naive-ui";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defineComponent, h } from "vue";
import { createMemoryHistory, createRouter, type Router } from "vue-router";
import { configureClient, type Job, type Schemas, type User } from "@/api/client";
import { i18n, missingKeys } from "@/i18n";
import type { LiveOptions } from "@/live/events";
import DateSyncPage from "@/pages/DateSyncPage.vue";
import { usePrefs } from "@/stores/prefs";
import { useSession } from "@/stores/session";
import { ALICE, sent, serve, type Handler } from "../support/fakeService";

// The live stream is the one thing replaced: the test plays the service's events and polls.
const live = vi.hoisted(() => ({ options: null as LiveOptions | null, stop: vi.fn(), started: 0 }));
vi.mock("@/live/events", async () => {
  const { ref } = await import("vue");
  return {
    follow(options: LiveOptions) {
      live.options = options;
      live.started += 1;
      return { connected: ref(true), updatedAt: ref(Date.now()), stop: live.stop };
    },
  };
});

const VICTOR: User = { id: 3, name: "victor", role: "viewer", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };

function jobType(name: string, title: string, schema: Record<string, unknown> | null): Schemas["JobTypeOut"] {
  return {
    name, title, unit_cost: 0, jobs_per_hour: null, jobs_per_day: null, max_active_jobs: null, params_schema: schema,
    takes_items: false, chunk_size: 1, max_items: null, max_concurrency: null, priority: 0, exclusive: null,
    accepts: null, max_file_bytes: null,
  };
}

// what the service's pydantic model writes for quotes_sync's params
const QUOTES_SCHEMA = {
  additionalProperties: false,
  title: "Sync daily quotes",
  title_zh: "同步日线行情",
  type: "object",
  properties: {
    start: { format: "date", title: "First day", title_zh: "开始日期", type: "string" },
    end: {
      description: "at most 90 days from the first", description_zh: "最多 90 天", format: "date", title: "Last day",
      title_zh: "结束日期", type: "string",
    },
    symbol: {
      default: "*", description: "a six-digit symbol, or * for the whole market", description_zh: "六位代码，或 * 表示全市场",
      pattern: "^(\\*|\\d{6})$", title: "Symbol", title_zh: "股票代码", type: "string",
    },
  },
  required: ["start", "end"],
};
const QUOTES = jobType("quotes_sync", "Sync daily quotes (demo)", QUOTES_SCHEMA);
const WEATHER = jobType("weather_sync", "Sync weather (demo)", {
  type: "object",
  properties: { from_day: { type: "string", format: "date" }, to_day: { type: "string", format: "date" } },
  required: ["from_day", "to_day"],
});
const SLOW = jobType("demo_slow", "Count slowly (demo)", null);

function job(over: Partial<Job> = {}): Job {
  return {
    id: 42, type: "quotes_sync", owner: "alice", status: "running",
    params: { start: "2025-10-01", end: "2025-10-09", symbol: "*" },
    total: 9, processed: 3, succeeded: 2, failed: 0, skipped: 1, progress: 33.333, eta_seconds: 12, current: "2025-10-03",
    round: 1, rounds: [], error: null, quota: { charged: 0, refunded: 0 },
    created_at: "2026-12-01T02:01:47Z", started_at: "2026-12-01T02:01:47Z", finished_at: null,
    ...over,
  };
}

const PREVIEW = {
  items: 9, to_run: 7, done: 2, more: false,
  to_run_keys: ["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08", "2025-10-09"],
  done_keys: ["2025-10-04", "2025-10-05"],
};

function routes(extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    "GET /api/v1/job-types": () => ({ body: [SLOW, QUOTES] }),
    "GET /api/v1/jobs": () => ({ body: { jobs: [job({ id: 40, status: "succeeded", params: { start: "2025-09-01", end: "2025-09-30", symbol: "*" } })], next_cursor: null } }),
    "POST /api/v1/job-types/quotes_sync/preview": () => ({ body: PREVIEW }),
    ...extra,
  };
}

function calls(method: string, path: string) {
  return sent.filter((s) => s.method === method && s.path === path);
}

let router: Router;

async function mountAt(path: string, user: User): Promise<VueWrapper> {
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
      { path: "/sync", name: "sync", component: blank },
      { path: "/jobs/:id", name: "job", component: blank },
    ],
  });
  await router.push(path);
  await router.isReady();
  const host = defineComponent({ render: () => h(DateSyncPage) });
  const mounted = mount(host, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body });
  await flushPromises();
  return mounted;
}

async function pickRange(w: VueWrapper, start: string, end: string): Promise<void> {
  w.findComponent(NDatePicker).vm.$emit("update:formattedValue", [start, end]);
  await flushPromises();
}

/** Past the preview's 300 ms pause, and its answer in. */
async function afterPause(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 350));
  await flushPromises();
}

const text = (w: VueWrapper, test: string): string => w.find(`[data-test="${test}"]`).text();

let wrapper: VueWrapper | undefined;
beforeEach(() => {
  document.body.innerHTML = "";
  live.options = null;
  live.started = 0;
  live.stop.mockClear();
  missingKeys.length = 0;
});
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  expect(missingKeys).toEqual([]);
});

describe("sync page: the form", () => {
  it("shows the range with its 90-day hint and the symbol with its default and description", async () => {
    serve(routes());
    wrapper = await mountAt("/sync", ALICE);
    expect(text(wrapper, "range-hint")).toContain("At most 90 days");
    const symbol = wrapper.find('[data-test="schema-field-symbol"]');
    expect((symbol.find("input").element as HTMLInputElement).value).toBe("*");
    expect(symbol.text()).toContain("a six-digit symbol, or * for the whole market");
    // the range's two fields are the picker's, not free text fields of the form
    expect(wrapper.find('[data-test="schema-field-start"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="schema-field-end"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="sync-start"]').exists()).toBe(true);
  });

  it("disables the picker's days beyond 90 once a first day is picked", async () => {
    serve(routes());
    wrapper = await mountAt("/sync", ALICE);
    const disabled = wrapper.findComponent(NDatePicker).props("isDateDisabled") as (
      ts: number,
      position: "start" | "end",
      value: [number, number] | null,
    ) => boolean;
    const first = new Date(2025, 9, 1).getTime();
    expect(disabled(new Date(2025, 11, 29).getTime(), "end", [first, first])).toBe(false);
    expect(disabled(new Date(2025, 11, 30).getTime(), "end", [first, first])).toBe(true);
    expect(disabled(new Date(2030, 0, 1).getTime(), "start", null)).toBe(false);
  });

  it("previews what a range would do, 300 ms after it changes, with the days listed", async () => {
    serve(routes());
    wrapper = await mountAt("/sync", ALICE);
    await pickRange(wrapper, "2025-10-01", "2025-10-09");
    expect(calls("POST", "/api/v1/job-types/quotes_sync/preview")).toHaveLength(0); // not before the pause
    await afterPause();
    const asked = calls("POST", "/api/v1/job-types/quotes_sync/preview");
    expect(asked).toHaveLength(1);
    expect(asked[0]!.body).toEqual({ params: { start: "2025-10-01", end: "2025-10-09", symbol: "*" } });
    expect(text(wrapper, "range-days")).toBe("9 day(s) selected");
    expect(text(wrapper, "preview-summary")).toBe("Will sync 7 day(s), skip 2 day(s) (already synced or no trading).");
    expect(text(wrapper, "preview-done")).toContain("Days skipped (2)");
    expect(wrapper.findAll('[data-test="preview-done"] li').map((li) => li.text())).toEqual(["2025-10-04", "2025-10-05"]);
    expect(wrapper.findAll('[data-test="preview-to-run"] li')).toHaveLength(7);
    expect(wrapper.find('[data-test="preview-to-run"]').element.tagName).toBe("DETAILS");

    i18n.global.locale.value = "zh-CN";
    await flushPromises();
    expect(text(wrapper, "preview-summary")).toBe("将同步 7 天，跳过 2 天（已同步或非交易日）");
    expect(text(wrapper, "range-hint")).toContain("最多 90 天");
  });

  it("asks once for a range changed quickly, with the last range", async () => {
    serve(routes());
    wrapper = await mountAt("/sync", ALICE);
    await pickRange(wrapper, "2025-10-01", "2025-10-05");
    await pickRange(wrapper, "2025-10-01", "2025-10-09");
    await afterPause();
    const asked = calls("POST", "/api/v1/job-types/quotes_sync/preview");
    expect(asked).toHaveLength(1);
    expect((asked[0]!.body as { params: { end: string } }).params.end).toBe("2025-10-09");
  });

  it("refuses 91 days at once, without asking the service, and takes 90", async () => {
    serve(routes());
    wrapper = await mountAt("/sync", ALICE);
    await pickRange(wrapper, "2025-10-01", "2025-12-30");
    expect(text(wrapper, "range-error")).toBe("⚠ The range spans 91 days; at most 90 are allowed.");
    await wrapper.find('[data-test="sync-start"]').trigger("click");
    await afterPause();
    expect(calls("POST", "/api/v1/jobs")).toHaveLength(0);
    expect(calls("POST", "/api/v1/job-types/quotes_sync/preview")).toHaveLength(0);

    await pickRange(wrapper, "2025-10-01", "2025-12-29");
    expect(wrapper.find('[data-test="range-error"]').exists()).toBe(false);
    expect(text(wrapper, "range-days")).toBe("90 day(s) selected");
  });

  it("says a range is needed when Start is pressed without one", async () => {
    serve(routes());
    wrapper = await mountAt("/sync", ALICE);
    expect(wrapper.find('[data-test="range-error"]').exists()).toBe(false);
    await wrapper.find('[data-test="sync-start"]').trigger("click");
    await flushPromises();
    expect(text(wrapper, "range-error")).toBe("⚠ Pick the first and the last day.");
    expect(calls("POST", "/api/v1/jobs")).toHaveLength(0);
  });

  it("lists the recent syncs of the type with their status and range", async () => {
    serve(routes());
    wrapper = await mountAt("/sync", ALICE);
    const asked = calls("GET", "/api/v1/jobs");
    expect(asked.length).toBeGreaterThan(0);
    expect(asked[0]!.query.get("type")).toBe("quotes_sync");
    const row = wrapper.find('[data-test="recent-40"]');
    expect(row.find('[data-test="job-status"]').text()).toBe("Succeeded");
    expect(row.find('[data-test="recent-range"]').text()).toBe("2025-09-01 → 2025-09-30");
    expect(row.find("a").attributes("href")).toBe("/jobs/40");
  });
});

describe("sync page: starting", () => {
  it("sends the days exactly as picked, with no time-zone shift, and follows the job from the address", async () => {
    const pending = job({ status: "pending", processed: 0, succeeded: 0, skipped: 0, progress: 0, current: null });
    serve(routes({
      "POST /api/v1/jobs": () => ({ status: 202, body: pending }),
      "GET /api/v1/jobs/42": () => ({ body: pending }),
    }));
    wrapper = await mountAt("/sync", ALICE);
    usePrefs().timeZone = "Asia/Shanghai";
    await pickRange(wrapper, "2025-10-01", "2025-10-09");
    await wrapper.find('[data-test="sync-start"]').trigger("click");
    await flushPromises();
    const submitted = calls("POST", "/api/v1/jobs");
    expect(submitted).toHaveLength(1);
    expect(submitted[0]!.body).toEqual({ type: "quotes_sync", params: { start: "2025-10-01", end: "2025-10-09", symbol: "*" } });
    expect(router.currentRoute.value.query.job).toBe("42");
    expect(wrapper.find('[data-test="sync-live"]').exists()).toBe(true);
    expect(wrapper.find('[data-test="sync-form"]').exists()).toBe(false);
    expect(text(wrapper, "sync-current")).toBe("Waiting to start…");
  });

  it("on 409 says a sync is running and links to it", async () => {
    const conflict = {
      error: {
        code: "conflict",
        message: "Job 41 is already active for 'quotes-sync:*'; wait for it to finish or cancel it.",
        details: { job_id: 41, key: "quotes-sync:*" },
      },
    };
    serve(routes({ "POST /api/v1/jobs": () => ({ status: 409, body: conflict }) }));
    wrapper = await mountAt("/sync", ALICE);
    await pickRange(wrapper, "2025-10-01", "2025-10-09");
    await wrapper.find('[data-test="sync-start"]').trigger("click");
    await flushPromises();
    const error = wrapper.find('[data-test="sync-error"]');
    expect(error.text()).toContain("A sync for these settings is already running.");
    expect(error.text()).toContain("Job 41 is already active");
    const link = wrapper.find('[data-test="conflict-job"]');
    expect(link.text()).toBe("Open the running sync (job #41)");
    expect(link.attributes("href")).toBe("/jobs/41");
    expect(wrapper.find('[data-test="sync-live"]').exists()).toBe(false);
    expect(router.currentRoute.value.query.job).toBeUndefined();
  });

  it("on 422 shows the service's own message, and no link", async () => {
    const refused = {
      error: {
        code: "date_range_too_long",
        message: "日期范围最多 90 天；2025-10-01 至 2025-12-30 共 91 天。",
        details: { max_days: 90, days: 91, start: "2025-10-01", end: "2025-12-30" },
      },
    };
    serve(routes({ "POST /api/v1/jobs": () => ({ status: 422, body: refused }) }));
    wrapper = await mountAt("/sync", ALICE);
    await pickRange(wrapper, "2025-10-01", "2025-10-09");
    await wrapper.find('[data-test="sync-start"]').trigger("click");
    await flushPromises();
    expect(text(wrapper, "sync-error")).toContain("日期范围最多 90 天；2025-10-01 至 2025-12-30 共 91 天。");
    expect(wrapper.find('[data-test="conflict-job"]').exists()).toBe(false);
  });
});

describe("sync page: the live panel", () => {
  it("shows the day in hand, progress, counts and time left, then the summary when it ends", async () => {
    let current = job();
    serve(routes({ "GET /api/v1/jobs/42": () => ({ body: current }) }));
    wrapper = await mountAt("/sync?job=42", ALICE);
    expect(live.started).toBe(1);
    expect(live.options!.path).toBe("/jobs/42/events");
    expect(text(wrapper, "sync-current")).toBe("Syncing 2025-10-03…");
    expect(text(wrapper, "sync-count")).toBe("3/9 (33.3%)");
    expect(text(wrapper, "sync-eta")).toBe("Time left: 12 s");
    expect(text(wrapper, "sync-succeeded")).toBe("Succeeded 2");
    expect(text(wrapper, "sync-skipped")).toBe("Skipped 1");
    expect(text(wrapper, "sync-live-range")).toBe("2025-10-01 → 2025-10-09");
    expect(wrapper.find('[data-test="sync-summary"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="sync-again"]').exists()).toBe(false);

    i18n.global.locale.value = "zh-CN";
    await flushPromises();
    expect(text(wrapper, "sync-current")).toBe("正在同步 2025-10-03…");
    i18n.global.locale.value = "en";

    // the next day, heard as an event (reads are folded: one read after the pause)
    current = job({ processed: 4, succeeded: 2, skipped: 2, progress: 44.4, current: "2025-10-04" });
    live.options!.onEvent({ id: 1, job_id: 42, kind: "progress", at: 1, data: {} });
    live.options!.onEvent({ id: 2, job_id: 42, kind: "progress", at: 2, data: {} });
    await afterPause();
    expect(calls("GET", "/api/v1/jobs/42")).toHaveLength(2);
    expect(text(wrapper, "sync-current")).toBe("Syncing 2025-10-04…");

    const recentReads = calls("GET", "/api/v1/jobs").length;
    current = job({
      status: "succeeded", processed: 9, succeeded: 7, skipped: 2, progress: 100, eta_seconds: null, current: null,
      finished_at: "2026-12-01T02:02:00Z",
    });
    await live.options!.poll();
    await flushPromises();
    expect(text(wrapper, "sync-summary")).toBe("Sync finished: 7 succeeded, 0 failed, 2 skipped");
    expect(wrapper.find('[data-test="sync-current"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="sync-eta"]').exists()).toBe(false);
    expect(text(wrapper, "sync-count")).toBe("9/9 (100%)");
    expect(live.stop).toHaveBeenCalled();
    expect(calls("GET", "/api/v1/jobs").length).toBeGreaterThan(recentReads); // the recent list is read again
    expect(wrapper.find('[data-test="sync-job-link"]').attributes("href")).toBe("/jobs/42");

    i18n.global.locale.value = "zh-CN";
    await flushPromises();
    expect(text(wrapper, "sync-summary")).toBe("批量同步完成：成功 7，失败 0，跳过 2");
  });

  it("after a reload of a finished sync shows its summary, and 'sync another range' brings the form back", async () => {
    serve(routes({
      "GET /api/v1/jobs/42": () => ({ body: job({ status: "partially_succeeded", processed: 9, succeeded: 6, failed: 1, skipped: 2, progress: 100, current: null, eta_seconds: null }) }),
    }));
    wrapper = await mountAt("/sync?job=42", ALICE);
    expect(text(wrapper, "sync-summary")).toBe("Sync finished: 6 succeeded, 1 failed, 2 skipped");
    expect(live.started).toBe(0); // nothing more to hear from an ended job
    await wrapper.find('[data-test="sync-again"]').trigger("click");
    await flushPromises();
    expect(router.currentRoute.value.query.job).toBeUndefined();
    expect(wrapper.find('[data-test="sync-live"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="sync-form"]').exists()).toBe(true);
  });

  it("says so when the followed job cannot be had, and offers a new start", async () => {
    serve(routes({
      "GET /api/v1/jobs/42": () => ({ status: 404, body: { error: { code: "job_not_found", message: "Job 42 does not exist.", details: {} } } }),
    }));
    wrapper = await mountAt("/sync?job=42", ALICE);
    expect(text(wrapper, "sync-live-error")).toContain("Job 42 does not exist.");
    expect(wrapper.find('[data-test="sync-again"]').exists()).toBe(true);
  });
});

describe("sync page: who and which type", () => {
  it("shows a viewer the recent syncs and a running one, but no Start button", async () => {
    serve(routes());
    wrapper = await mountAt("/sync", VICTOR);
    expect(wrapper.find('[data-test="sync-start"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="sync-form"]').exists()).toBe(false);
    expect(text(wrapper, "viewer-notice")).toContain("not start them");
    expect(wrapper.find('[data-test="recent-40"]').exists()).toBe(true);
    expect(calls("POST", "/api/v1/job-types/quotes_sync/preview")).toHaveLength(0);
  });

  it("explains when the service has no date-range sync", async () => {
    serve(routes({ "GET /api/v1/job-types": () => ({ body: [SLOW] }) }));
    wrapper = await mountAt("/sync", ALICE);
    expect(text(wrapper, "no-sync-types")).toContain("No date-range sync is available");
    expect(wrapper.find('[data-test="sync-start"]').exists()).toBe(false);
  });

  it("takes quotes_sync by default, another type by ?type=, with that type's own date fields", async () => {
    const weatherPreview = { items: 3, to_run: 3, done: 0, to_run_keys: ["2025-10-01", "2025-10-02", "2025-10-03"], done_keys: [], more: false };
    serve(routes({
      "GET /api/v1/job-types": () => ({ body: [WEATHER, QUOTES, SLOW] }),
      "POST /api/v1/job-types/weather_sync/preview": () => ({ body: weatherPreview }),
    }));
    wrapper = await mountAt("/sync", ALICE);
    expect(wrapper.find('[data-test="sync-type"]').exists()).toBe(true);
    expect(wrapper.find('[data-test="schema-field-symbol"]').exists()).toBe(true);
    expect(router.currentRoute.value.query.type).toBe("quotes_sync");
    wrapper.unmount();

    serve(routes({
      "GET /api/v1/job-types": () => ({ body: [WEATHER, QUOTES, SLOW] }),
      "POST /api/v1/job-types/weather_sync/preview": () => ({ body: weatherPreview }),
    }));
    wrapper = await mountAt("/sync?type=weather_sync", ALICE);
    expect(wrapper.find('[data-test="schema-field-symbol"]').exists()).toBe(false);
    expect(calls("GET", "/api/v1/jobs").at(-1)!.query.get("type")).toBe("weather_sync");
    await pickRange(wrapper, "2025-10-01", "2025-10-03");
    await afterPause();
    const asked = calls("POST", "/api/v1/job-types/weather_sync/preview");
    expect(asked).toHaveLength(1);
    expect(asked[0]!.body).toEqual({ params: { from_day: "2025-10-01", to_day: "2025-10-03" } });
    expect(text(wrapper, "preview-summary")).toBe("Will sync 3 day(s), skip 0 day(s) (already synced or no trading).");
  });
});
