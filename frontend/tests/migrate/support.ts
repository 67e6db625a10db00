// A migrate job and its report as the service writes them (src/batchyard/jobs/migrate/reports.py), and the
// report section mounted on its own over the stubbed service, with a router that knows the job page.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { defineComponent, h, ref, type Ref } from "vue";
import { createMemoryHistory, createRouter, type Router } from "vue-router";
import { configureClient, type Job, type User } from "@/api/client";
import MigrationReport from "@/components/migrate/MigrationReport.vue";
import { i18n } from "@/i18n";
import { usePrefs } from "@/stores/prefs";
import { useSession } from "@/stores/session";

export const VICTOR: User = { id: 3, name: "victor", role: "viewer", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };

export const PARAMS = {
  source_url: "sqlite:////srv/old/legacy.db",
  source: "legacy_users",
  key: "user_id",
  resource: "users",
  mapping: { id: "user_id", username: { from: "user_name", fn: "strip" } },
  drop: ["memo"],
  mode: "upsert",
  max_rejects: 100,
  verify: true,
  copy: true,
  dry_run: false,
  range_rows: 5000,
  recopy: null,
};

export function migrateJob(over: Partial<Job> = {}): Job {
  return {
    id: 41,
    type: "migrate",
    owner: "alice",
    status: "running",
    params: PARAMS,
    total: 5,
    processed: 3,
    succeeded: 3,
    failed: 0,
    skipped: 0,
    progress: 60,
    eta_seconds: 12,
    current: null,
    round: 1,
    rounds: [{ number: 1, started_at: "2026-12-01T02:03:19Z", items: 5, finished_at: null }],
    error: null,
    quota: { charged: 0, refunded: 0 },
    created_at: "2026-12-01T02:03:19Z",
    started_at: "2026-12-01T02:03:19Z",
    finished_at: null,
    ...over,
  };
}

type Range = { range: number; lo: number; hi: number; read: number; written: number; rejected: number; verified: boolean | null };

function rangeDetail(r: Range): Record<string, unknown> {
  return {
    ...r,
    skipped: 0,
    source: { count: r.read, checksum: "1234" },
    target: { count: r.written, checksum: r.verified === false ? "999" : "1234" },
  };
}

/** The report of a four-range migration of legacy_users into users; `keys` differ in range 2 when given. */
export function report(options: { status?: string; keys?: number[]; rows?: number; verify?: string } = {}): Record<string, unknown> {
  const keys = options.keys ?? [];
  const ranges: Range[] = [
    { range: 0, lo: 1, hi: 5000, read: 5000, written: 4996, rejected: 4, verified: true },
    { range: 1, lo: 5001, hi: 10000, read: 5000, written: 5000, rejected: 0, verified: true },
    { range: 2, lo: 10001, hi: 15001, read: 5001, written: 5001, rejected: 0, verified: keys.length ? false : true },
    { range: 3, lo: 15002, hi: 9000000001, read: 4999, written: 4991, rejected: 8, verified: true },
  ];
  const bad = ranges.filter((r) => r.verified === false);
  return {
    job_id: 41,
    status: options.status ?? "running",
    dry_run: false,
    tables: [
      {
        source: "legacy_users",
        resource: "users",
        key: "user_id",
        mode: "upsert",
        ranges: 4,
        ranges_done: 4,
        read: 20000,
        written: 19988,
        rejected: 12,
        skipped: 0,
        duration_seconds: 80.4,
        rows_per_second: 248.8,
        largest_range: 5001,
        mean_range: 5000.0,
        verify: {
          status: options.verify ?? (bad.length ? "failed" : "passed"),
          ranges_verified: 4,
          mismatched_rows: options.rows ?? keys.length,
          mismatches: bad.map((r) => ({ range: r.range, lo: r.lo, hi: r.hi, rows: options.rows ?? keys.length, keys })),
        },
        range_details: ranges.map(rangeDetail),
      },
    ],
    rejects: {
      count: 12,
      max_rejects: 100,
      sample: [
        { range: 0, key: "17", reason: "email: value is not a valid email address", row: { user_id: 17, email: "bob@" } },
        { range: 3, key: "15020", reason: "registered_at: '31/02/2020' cannot be cast to datetime (bad date)", row: {} },
      ],
    },
  };
}

export interface Mounted {
  wrapper: VueWrapper;
  job: Ref<Job>;
  router: Router;
}

export async function mountReport(user: User, job: Job, locale: "en" | "zh-CN" = "en"): Promise<Mounted> {
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
  const blank = { render: () => null };
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/", name: "home", component: blank },
      { path: "/jobs/:id(\\d+)", name: "job", component: blank },
    ],
  });
  await router.push(`/jobs/${job.id}`);
  await router.isReady();
  const current = ref(job) as Ref<Job>;
  const host = defineComponent({ render: () => h(MigrationReport, { job: current.value, refresh: 0 }) });
  const wrapper = mount(host, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body });
  await flushPromises();
  return { wrapper, job: current, router };
}
