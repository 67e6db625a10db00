// The job detail page: what it shows, the actions it offers (by status and role) and what acting says about
// quota, how it refuses another user's or an unknown job, and how live events re-read the job (throttled).
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import axe from "axe-core";
import { NDialogProvider, NMessageProvider } from "naive-ui";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defineComponent, h } from "vue";
import { createMemoryHistory, createRouter } from "vue-router";
import { configureClient, type Job, type User } from "@/api/client";
import { i18n, missingKeys } from "@/i18n";
import type { LiveEvent, LiveOptions } from "@/live/events";
import JobDetailPage, { EVENTS_KEPT } from "@/pages/JobDetailPage.vue";
import { usePrefs } from "@/stores/prefs";
import { useSession } from "@/stores/session";

// openapi-fetch keeps the fetch it finds when the client is made, so the stub must be in place before imports.
const fetchMock = vi.hoisted(() => {
  const mock = vi.fn<(input: Request | string, init?: RequestInit) => Promise<Response>>();
  vi.stubGlobal("fetch", mock);
  return mock;
});

// The live stream is the one thing replaced: the test plays the service's events and resets itself.
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

interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
}
type Handler = (sent: Sent) => { status?: number; body?: unknown };

let sent: Sent[] = [];

function serve(routes: Record<string, Handler>): void {
  sent = [];
  fetchMock.mockImplementation(async (input: Request | string) => {
    const request = typeof input === "string" ? new Request(new URL(input, "http://localhost")) : input;
    const url = new URL(request.url, "http://localhost");
    const call: Sent = { method: request.method, path: url.pathname, query: url.searchParams };
    sent.push(call);
    const handler = routes[`${request.method} ${url.pathname}`];
    if (!handler) return new Response(JSON.stringify({ error: { code: "not_found", message: "no route" } }), { status: 404 });
    const { status = 200, body } = handler(call);
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
}

const ALICE: User = { id: 2, name: "alice", role: "operator", quota: 78, created_at: "2026-12-01T02:00:26Z", email: null };
const VICTOR: User = { id: 3, name: "victor", role: "viewer", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };

function job(over: Partial<Job> = {}): Job {
  return {
    id: 7,
    type: "demo_enhance",
    owner: "alice",
    status: "running",
    params: { brightness: 1.0 },
    total: 50,
    processed: 45,
    succeeded: 43,
    failed: 2,
    skipped: 0,
    progress: 90.0,
    eta_seconds: 125,
    current: "m.jpg",
    round: 1,
    rounds: [{ number: 1, started_at: "2026-12-01T02:01:47.344019Z", items: 50, finished_at: null }],
    error: null,
    quota: { charged: 50, refunded: 0 },
    created_at: "2026-12-01T02:01:47.344019Z",
    started_at: "2026-12-01T02:01:47.346239Z",
    finished_at: null,
    ...over,
  };
}

const failures = {
  job_id: 7,
  failed: 2,
  causes: [
    {
      cause: "ValueError: cannot read image '…': truncated file",
      count: 2,
      sample: { index: 12, error: "ValueError: cannot read image 'm.jpg': truncated file", at: "2026-12-01T02:01:48.003782Z" },
      indices: [12, 30],
      first_seen: "2026-12-01T02:01:48.003782Z",
      last_seen: "2026-12-01T02:01:49Z",
    },
  ],
};

function routes(current: () => Job, extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    "GET /api/v1/jobs/7": () => ({ body: current() }),
    "GET /api/v1/jobs/7/failures": () => ({ body: failures }),
    "GET /api/v1/jobs/7/artifacts": () => ({ body: [] }),
    "GET /api/v1/jobs/7/items": () => ({ body: { items: [], next_cursor: null } }),
    "GET /api/v1/me": () => ({ body: ALICE }),
    ...extra,
  };
}

function count(method: string, path: string): number {
  return sent.filter((s) => s.method === method && s.path === path).length;
}

async function mountPage(user: User, id = "7"): Promise<VueWrapper> {
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
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/", name: "home", component: blank },
      { path: "/jobs", name: "jobs", component: blank },
    ],
  });
  await router.push("/");
  await router.isReady();
  const host = defineComponent({
    render: () => h(NMessageProvider, null, () => h(NDialogProvider, null, () => h(JobDetailPage, { id }))),
  });
  const mounted = mount(host, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body });
  await flushPromises();
  return mounted;
}

function event(id: number, kind: string, data: Record<string, unknown>): LiveEvent {
  return { id, job_id: 7, kind, at: 1796090513.37 + id, data };
}

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
  vi.useRealTimers();
  expect(missingKeys).toEqual([]);
});

describe("job page: what it shows", () => {
  it("shows the job's header, progress as 45/50 (90%), time left, counters and the item in hand", async () => {
    serve(routes(() => job()));
    wrapper = await mountPage(ALICE);
    expect(wrapper.find('[data-test="job-title"]').text()).toBe("Job #7");
    expect(wrapper.find('[data-test="job-status"]').text()).toContain("Running");
    expect(wrapper.find('[data-test="job-owner"]').text()).toBe("alice");
    expect(wrapper.find('[data-test="job-started"]').text()).toContain("02:01:47");
    expect(wrapper.find('[data-test="progress-count"]').text()).toBe("45/50 (90%)");
    expect(wrapper.find('[data-test="progress-eta"]').text()).toBe("Time left: 2 min 05 s");
    expect(wrapper.find('[data-test="count-failed"]').text()).toBe("Failed 2");
    expect(wrapper.find('[data-test="progress-current"]').text()).toBe("In hand: m.jpg");
    expect(wrapper.find('[data-test="progress-bar"]').attributes("aria-valuenow")).toBe("90");
    expect(wrapper.find('[data-test="job-error"]').exists()).toBe(false);
  });

  it("shows the same in Chinese, the job's error when it has one", async () => {
    serve(routes(() => job({ status: "failed", error: "too many failures", eta_seconds: null, current: null })));
    wrapper = await mountPage(ALICE);
    i18n.global.locale.value = "zh-CN";
    await flushPromises();
    expect(wrapper.find('[data-test="progress-count"]').text()).toBe("45/50（90%）");
    expect(wrapper.find('[data-test="job-status"]').text()).toContain("失败");
    expect(wrapper.find('[data-test="job-error"]').text()).toContain("too many failures");
    expect(wrapper.find('[data-test="progress-current"]').exists()).toBe(false);
  });

  it("has no structural accessibility problems", async () => {
    serve(routes(() => job()));
    wrapper = await mountPage(ALICE);
    live.options!.onEvent(event(1, "progress", { items: 5, chunk: 0 }));
    await flushPromises();
    const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
    expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 120)).join(" | ")}`)).toEqual([]);
  });
});

describe("job page: refusals", () => {
  it("shows the service's message for another user's job (403) and follows nothing", async () => {
    serve({ "GET /api/v1/jobs/7": () => ({ status: 403, body: { error: { code: "forbidden", message: "Job 7 belongs to another user.", details: { job_id: 7 } } } }) });
    wrapper = await mountPage(ALICE);
    const error = wrapper.find('[data-test="job-load-error"]');
    expect(error.attributes("data-status")).toBe("403");
    expect(error.text()).toContain("This job is not yours");
    expect(error.text()).toContain("Job 7 belongs to another user.");
    expect(wrapper.find('[data-test="job-title"]').exists()).toBe(false);
    expect(live.started).toBe(0);
  });

  it("says a job does not exist (404)", async () => {
    serve({ "GET /api/v1/jobs/999": () => ({ status: 404, body: { error: { code: "job_not_found", message: "Job 999 does not exist.", details: {} } } }) });
    wrapper = await mountPage(ALICE, "999");
    expect(wrapper.find('[data-test="job-load-error"]').text()).toContain("No such job");
    expect(wrapper.find('[data-test="job-load-error-message"]').text()).toBe("Job 999 does not exist.");
  });
});

describe("job page: actions", () => {
  const buttons = (w: VueWrapper): string[] =>
    w.findAll('[data-test^="action-"]').map((b) => b.attributes("data-test")!.replace("action-", ""));

  it("offers a viewer no action at all", async () => {
    serve(routes(() => job()));
    wrapper = await mountPage(VICTOR);
    expect(wrapper.find('[data-test="job-actions"]').exists()).toBe(false);
    expect(buttons(wrapper)).toEqual([]);
  });

  it.each([
    ["running", 2, ["pause", "cancel"]],
    ["paused", 2, ["resume", "cancel"]],
    ["partially_succeeded", 2, ["retry-failed"]],
    ["succeeded", 0, []],
  ])("offers an operator, for a %s job with %s failed, %j", async (status, failed, expected) => {
    serve(routes(() => job({ status, failed, processed: 50 })));
    wrapper = await mountPage(ALICE);
    expect(buttons(wrapper)).toEqual(expected);
  });

  it("asks first, then cancels and tells the quota refunded", async () => {
    let current = job({ status: "paused" });
    serve(
      routes(() => current, {
        "POST /api/v1/jobs/7/cancel": () => {
          current = job({ status: "cancelling", quota: { charged: 50, refunded: 5 } });
          return { body: current };
        },
      }),
    );
    wrapper = await mountPage(ALICE);
    await wrapper.find('[data-test="action-cancel"]').trigger("click");
    await flushPromises();
    expect(count("POST", "/api/v1/jobs/7/cancel")).toBe(0);
    const dialog = document.querySelector(".n-dialog");
    expect(dialog?.textContent).toContain("Cancel job #7?");
    const confirm = [...document.querySelectorAll<HTMLButtonElement>(".n-dialog__action button")].find((b) =>
      b.textContent?.includes("Cancel"),
    );
    confirm!.click();
    await flushPromises();
    expect(count("POST", "/api/v1/jobs/7/cancel")).toBe(1);
    expect(document.body.textContent).toContain("Job #7 is being cancelled. 5 quota refunded");
    expect(wrapper.find('[data-test="job-status"]').text()).toContain("Cancelling");
    expect(count("GET", "/api/v1/me")).toBe(1);
  });

  it("sends nothing when the user goes back", async () => {
    serve(routes(() => job({ status: "running" })));
    wrapper = await mountPage(ALICE);
    await wrapper.find('[data-test="action-pause"]').trigger("click");
    await flushPromises();
    const back = [...document.querySelectorAll<HTMLButtonElement>(".n-dialog__action button")].find((b) =>
      b.textContent?.includes("Go back"),
    );
    back!.click();
    await flushPromises();
    expect(sent.filter((s) => s.method === "POST")).toEqual([]);
  });

  it("shows the service's message when an action is refused", async () => {
    serve(
      routes(() => job({ status: "partially_succeeded", processed: 50 }), {
        "POST /api/v1/jobs/7/retry-failed": () => ({
          status: 403,
          body: { error: { code: "quota_insufficient", message: "Needs 2 quota; your balance is 0 (2 short).", details: {} } },
        }),
      }),
    );
    wrapper = await mountPage(ALICE);
    await wrapper.find('[data-test="action-retry-failed"]').trigger("click");
    await flushPromises();
    expect(document.querySelector(".n-dialog")?.textContent).toContain("2 items run again");
    const confirm = [...document.querySelectorAll<HTMLButtonElement>(".n-dialog__action button")].find((b) =>
      b.textContent?.includes("Retry failed"),
    );
    confirm!.click();
    await flushPromises();
    expect(document.body.textContent).toContain("Needs 2 quota; your balance is 0 (2 short).");
  });
});

describe("job page: live", () => {
  it("follows the job's own stream and stops following when left", async () => {
    serve(routes(() => job()));
    wrapper = await mountPage(ALICE);
    expect(live.options?.path).toBe("/jobs/7/events");
    expect(wrapper.find('[data-test="updated-ago"]').exists()).toBe(true);
    wrapper.unmount();
    wrapper = undefined;
    expect(live.stop).toHaveBeenCalledTimes(1);
  });

  it("re-reads the job at most twice a second however many events arrive", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    let processed = 45;
    serve(routes(() => job({ processed, progress: (processed / 50) * 100 })));
    wrapper = await mountPage(ALICE);
    expect(count("GET", "/api/v1/jobs/7")).toBe(1);

    processed = 46;
    for (let i = 1; i <= 20; i += 1) live.options!.onEvent(event(i, "progress", { items: 1, chunk: i }));
    await flushPromises();
    expect(count("GET", "/api/v1/jobs/7")).toBe(2); // the first at once …
    expect(wrapper.find('[data-test="progress-count"]').text()).toBe("46/50 (92%)");

    processed = 48;
    await vi.advanceTimersByTimeAsync(499);
    expect(count("GET", "/api/v1/jobs/7")).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    await flushPromises();
    expect(count("GET", "/api/v1/jobs/7")).toBe(3); // … the rest folded into one at the end of the window
    expect(wrapper.find('[data-test="progress-count"]').text()).toBe("48/50 (96%)");

    await vi.advanceTimersByTimeAsync(5_000);
    expect(count("GET", "/api/v1/jobs/7")).toBe(3);
    // progress alone reads neither the files nor the items again
    expect(count("GET", "/api/v1/jobs/7/artifacts")).toBe(1);
    expect(count("GET", "/api/v1/jobs/7/items")).toBe(1);
  });

  it("keeps the last events in the timeline, newest first, with a summary of each", async () => {
    serve(routes(() => job()));
    wrapper = await mountPage(ALICE);
    expect(wrapper.find('[data-test="timeline-empty"]').exists()).toBe(true);
    live.options!.onEvent(event(1, "status", { status: "paused" }));
    for (let i = 2; i <= EVENTS_KEPT + 9; i += 1) live.options!.onEvent(event(i, "progress", { items: i, chunk: 0 }));
    live.options!.onEvent(event(100, "finished", { status: "partially_succeeded", succeeded: 48, failed: 2, skipped: 0 }));
    await flushPromises();
    const rows = wrapper.findAll('[data-test="timeline-event"]');
    expect(rows).toHaveLength(EVENTS_KEPT);
    expect(rows[0]!.text()).toContain("Partly succeeded: 48 succeeded, 2 failed, 0 skipped");
    expect(rows.some((r) => r.attributes("data-kind") === "status")).toBe(false); // the oldest fell off
  });

  it("re-reads everything when the stream asks for a poll", async () => {
    serve(routes(() => job()));
    wrapper = await mountPage(ALICE);
    const before = { failures: count("GET", "/api/v1/jobs/7/failures"), artifacts: count("GET", "/api/v1/jobs/7/artifacts") };
    await live.options!.poll();
    await flushPromises();
    expect(count("GET", "/api/v1/jobs/7")).toBe(2);
    expect(count("GET", "/api/v1/jobs/7/failures")).toBe(before.failures + 1);
    expect(count("GET", "/api/v1/jobs/7/artifacts")).toBe(before.artifacts + 1);
    expect(count("GET", "/api/v1/jobs/7/items")).toBe(2);
  });

  it("reads the files and failures again when the job's status changes", async () => {
    let status = "running";
    serve(routes(() => job({ status })));
    wrapper = await mountPage(ALICE);
    expect(count("GET", "/api/v1/jobs/7/artifacts")).toBe(1);
    status = "partially_succeeded";
    live.options!.onEvent(event(1, "finished", { status, succeeded: 48, failed: 2, skipped: 0 }));
    await flushPromises();
    expect(count("GET", "/api/v1/jobs/7/artifacts")).toBe(2);
    expect(count("GET", "/api/v1/jobs/7/failures")).toBe(2);
  });
});
