// The schedules pages as a test sees them: a schedule and job types as the service sends them, and the app's
// schedule routes mounted signed in (English, UTC unless told) over the stubbed service of ../support.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { defineComponent, h } from "vue";
import { createMemoryHistory, createRouter, RouterView, type Router } from "vue-router";
import { configureClient, type Schemas, type User } from "@/api/client";
import { i18n } from "@/i18n";
import ScheduleDetailPage from "@/pages/ScheduleDetailPage.vue";
import ScheduleFormPage from "@/pages/ScheduleFormPage.vue";
import SchedulesPage from "@/pages/SchedulesPage.vue";
import { usePrefs } from "@/stores/prefs";
import { useSession } from "@/stores/session";

export type Schedule = Schemas["ScheduleOut"];

export const VICTOR: User = { id: 3, name: "victor", role: "viewer", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };
export const ADA: User = { id: 1, name: "ada", role: "admin", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };

export function jobType(name: string, title: string, takesItems: boolean, schema: Record<string, unknown> | null): Schemas["JobTypeOut"] {
  return {
    name, title, unit_cost: 0, jobs_per_hour: null, jobs_per_day: null, max_active_jobs: null, params_schema: schema,
    takes_items: takesItems, chunk_size: 1, max_items: null, max_concurrency: null, priority: 0, exclusive: null,
    accepts: null, max_file_bytes: null,
  };
}

// what the service's pydantic model writes for the demo's monthly_bills params
export const BILLS = jobType("monthly_bills", "Monthly bills (demo)", false, {
  type: "object",
  title: "Monthly bills",
  properties: {
    scheduled_for: { anyOf: [{ type: "string", format: "date-time" }, { type: "null" }], default: null, title: "Scheduled For" },
    region: { type: "string", default: "east", title: "Region", title_zh: "地区" },
  },
});
export const ENHANCE = jobType("enhance", "Enhance photos", true, null);
export const EXPIRY = jobType("points_expiry", "Points expiry (demo)", false, null);

export function schedule(over: Partial<Schedule> = {}): Schedule {
  return {
    id: 5, name: "monthly-bills", owner: "alice", type: "monthly_bills", cron: "0 2 1 * *", timezone: "Asia/Shanghai",
    params: { region: "east" }, overlap: "skip", missed: { kind: "latest_once" }, pause_on_failure: true, paused: false,
    paused_reason: null, created_at: "2026-11-01T00:00:00Z", updated_at: "2026-11-01T00:00:00Z",
    // 02:00 on the 1st in Shanghai is 18:00 UTC the day before
    next: ["2026-11-30T18:00:00Z", "2026-12-31T18:00:00Z", "2027-01-31T18:00:00Z", "2027-02-28T18:00:00Z", "2027-03-31T18:00:00Z"],
    slots: { started: 3, skipped: 2, refused: 1 },
    ...over,
  };
}

export let router: Router;

export async function mountAt(path: string, user: User, options: { timeZone?: string } = {}): Promise<VueWrapper> {
  const pinia = createPinia();
  setActivePinia(pinia);
  const session = useSession();
  session.token = "by_test";
  session.user = user;
  const prefs = usePrefs();
  prefs.locale = "en";
  prefs.timeZone = options.timeZone ?? "UTC";
  i18n.global.locale.value = "en";
  configureClient({ token: () => "by_test", language: () => prefs.locale, signedOut: () => undefined });
  const blank = { render: () => null };
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/schedules", name: "schedules", component: SchedulesPage },
      { path: "/schedules/new", name: "new-schedule", component: ScheduleFormPage },
      { path: "/schedules/:id(\\d+)", name: "schedule", component: ScheduleDetailPage, props: true },
      { path: "/schedules/:id(\\d+)/edit", name: "edit-schedule", component: ScheduleFormPage, props: true },
      { path: "/jobs/:id", name: "job", component: blank },
    ],
  });
  await router.push(path);
  await router.isReady();
  const host = defineComponent({ render: () => h(RouterView) });
  const wrapper = mount(host, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body });
  await flushPromises();
  await flushPromises();
  return wrapper;
}

/** Past the editor's 300 ms pause, and the answer in. */
export async function afterPause(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 350));
  await flushPromises();
  await new Promise((resolve) => setTimeout(resolve, 30)); // a loaded machine's slower timer
  await flushPromises();
}

export const text = (w: VueWrapper, test: string): string => w.find(`[data-test="${test}"]`).text();
