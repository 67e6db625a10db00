// A migration's dry run on the new-job page: the button posts the params to the migrate preview, the first rows
// are shown before → after twenty at a time, the rows that would be rejected with their reasons, a 422 with the
// server's message and the column it names; the page offers it (instead of a trial job) for `migrate` only.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defineComponent, h } from "vue";
import { createMemoryHistory, createRouter, RouterView } from "vue-router";
import { configureClient, type Schemas } from "@/api/client";
import MigrateDryRun from "@/components/migrate/MigrateDryRun.vue";
import { i18n, missingKeys } from "@/i18n";
import NewJobPage from "@/pages/NewJobPage.vue";
import { usePrefs } from "@/stores/prefs";
import { useSession } from "@/stores/session";
import { ALICE, sent, serve } from "../support/fakeService";
import { PARAMS } from "./support";

/** What `dry_run(plan)` answers for 25 legacy users, rows 7 and 19 refused (batches.py). */
function preview(): Record<string, unknown> {
  const rows = Array.from({ length: 25 }, (_, i) => {
    const id = i + 1;
    const before = { user_id: id, user_name: ` user${id} `, reg_time: "2020-01-02 03:04:05", vip_flag: "Y", memo: "x" };
    if (id === 7) return { key: id, before: { ...before, reg_time: "31/02/2020" }, after: null, reasons: ["registered_at: '31/02/2020' cannot be cast to datetime (bad date)"] };
    if (id === 19) return { key: id, before, after: null, reasons: ["email: value is not a valid email address", "username: a value is required"] };
    return { key: id, before, after: { id, username: `user${id}`, registered_at: "2020-01-02T03:04:05", vip: true }, reasons: [] };
  });
  return {
    source_columns: ["user_id", "user_name", "reg_time", "vip_flag", "memo"],
    mapping: { id: { from: "user_id" } },
    dropped: ["memo"],
    checked: 25,
    valid: 23,
    rejected: 2,
    rows,
  };
}

let wrapper: VueWrapper | undefined;
beforeEach(() => {
  document.body.innerHTML = "";
  missingKeys.length = 0;
});
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  i18n.global.locale.value = "zh-CN";
  expect(missingKeys).toEqual([]);
});

function setUp(locale: "en" | "zh-CN"): ReturnType<typeof createPinia> {
  const pinia = createPinia();
  setActivePinia(pinia);
  const session = useSession();
  session.token = "by_test";
  session.user = ALICE;
  const prefs = usePrefs();
  prefs.locale = locale;
  prefs.timeZone = "UTC";
  i18n.global.locale.value = locale;
  configureClient({ token: () => "by_test", language: () => locale, signedOut: () => undefined });
  return pinia;
}

async function mountDryRun(params: Record<string, unknown>, locale: "en" | "zh-CN" = "en"): Promise<VueWrapper> {
  const pinia = setUp(locale);
  const host = defineComponent({ render: () => h(MigrateDryRun, { params }) });
  const mounted = mount(host, { global: { plugins: [pinia, i18n] }, attachTo: document.body });
  await flushPromises();
  return mounted;
}

async function run(w: VueWrapper): Promise<void> {
  await w.find('[data-test="migrate-dry-run"]').trigger("click");
  await flushPromises();
}

const bodyRows = (w: VueWrapper): string[][] =>
  w.findAll('[data-test="dry-run-rows"] tbody tr').map((tr) => tr.findAll("th, td").map((c) => c.text()));

describe("the dry run", () => {
  it("posts the params to the migrate preview and shows the rows before → after, twenty at a time", async () => {
    serve({ "POST /api/v1/job-types/migrate/preview": () => ({ body: preview() }) });
    wrapper = await mountDryRun(PARAMS);
    expect(sent).toHaveLength(0); // nothing until asked
    await run(wrapper);

    expect(sent.map((s) => `${s.method} ${s.path}`)).toEqual(["POST /api/v1/job-types/migrate/preview"]);
    expect(sent[0]!.body).toEqual({ params: PARAMS });
    expect(wrapper.find('[data-test="dry-run-summary"]').text()).toBe("25 row(s) checked: 23 would be written, 2 would be rejected.");
    expect(wrapper.find('[data-test="dry-run-dropped"]').text()).toContain("memo");

    const head = wrapper.findAll('[data-test="dry-run-rows"] thead tr')[1]!.findAll("th").map((th) => th.text());
    expect(head).toEqual(["user_id", "user_name", "reg_time", "vip_flag", "memo", "id", "username", "registered_at", "vip"]);
    let rows = bodyRows(wrapper);
    expect(rows).toHaveLength(20);
    expect(rows[0]).toEqual(["1", "1", "user1", "2020-01-02 03:04:05", "Y", "x", "1", "user1", "2020-01-02T03:04:05", "true"]);
    // a refused row: its source as it is, and why instead of an after
    expect(rows[6]!.slice(0, 4)).toEqual(["7", "7", "user7", "31/02/2020"]);
    expect(rows[6]!.at(-1)).toContain("cannot be cast to datetime");

    await wrapper.find('[data-test="page-next"]').trigger("click");
    rows = bodyRows(wrapper);
    expect(rows.map((r) => r[0])).toEqual(["21", "22", "23", "24", "25"]);
    expect(wrapper.find('[data-test="page-at"]').text()).toBe("Page 2 of 2");
  });

  it("lists the rows that would be rejected with every reason, in Chinese", async () => {
    serve({ "POST /api/v1/job-types/migrate/preview": () => ({ body: preview() }) });
    wrapper = await mountDryRun(PARAMS, "zh-CN");
    await run(wrapper);
    const rejects = wrapper.find('[data-test="dry-run-rejects"]');
    const rows = rejects.findAll("tbody tr");
    expect(rows.map((r) => r.find("th").text())).toEqual(["7", "19"]);
    expect(rows[1]!.findAll("li").map((li) => li.text())).toEqual([
      "email: value is not a valid email address",
      "username: a value is required",
    ]);
    expect(wrapper.text()).toContain("将被拒绝的行（2）");
    expect(wrapper.find('[data-test="dry-run-summary"]').text()).toBe("检查了 25 行：23 行将被写入，2 行将被拒绝。");
  });

  it("shows a 422 in the server's words with the column it names", async () => {
    const message = "The parameters are not valid: drop: 'memmo' is not a column of the source (user_id, user_name, memo)";
    serve({
      "POST /api/v1/job-types/migrate/preview": () => ({
        status: 422,
        body: {
          error: {
            code: "invalid_params",
            message,
            details: { reason: "drop: 'memmo' is not a column of the source (user_id, user_name, memo)" },
          },
        },
      }),
    });
    wrapper = await mountDryRun({ ...PARAMS, drop: ["memmo"] });
    await run(wrapper);
    const error = wrapper.find('[data-test="dry-run-error"]');
    expect(error.attributes("role")).toBe("alert");
    expect(error.text()).toContain(message);
    expect(wrapper.find('[data-test="dry-run-error-name"] code').text()).toBe("memmo");
    expect(wrapper.find('[data-test="dry-run-rows"]').exists()).toBe(false);
  });

  it("lists each field a schema check refused", async () => {
    serve({
      "POST /api/v1/job-types/migrate/preview": () => ({
        status: 422,
        body: {
          error: {
            code: "invalid_params",
            message: "参数无效",
            details: { errors: [{ loc: ["range_rows"], msg: "Input should be less than or equal to 100000" }] },
          },
        },
      }),
    });
    wrapper = await mountDryRun({ ...PARAMS, range_rows: 1_000_000 }, "zh-CN");
    await run(wrapper);
    expect(wrapper.find('[data-test="dry-run-error"]').text()).toContain("参数无效");
    expect(wrapper.find('[data-test="dry-run-error-fields"]').text()).toBe("range_rows: Input should be less than or equal to 100000");
  });
});

// ---- on the new-job page ----

const MIGRATE_SCHEMA = {
  additionalProperties: false,
  title: "Migrate from a database",
  type: "object",
  properties: {
    source_url: { minLength: 1, title: "Source database URL", type: "string" },
    source: { maxLength: 20000, minLength: 1, title: "Source table or query", type: "string" },
    key: { minLength: 1, title: "Key column", type: "string" },
    resource: { minLength: 1, title: "Target resource", type: "string" },
    mode: { default: "upsert", enum: ["upsert", "insert"], title: "Mode", type: "string" },
    dry_run: { default: false, title: "Dry run", type: "boolean" },
  },
  required: ["source_url", "source", "key", "resource"],
};

function jobType(name: string, schema: Record<string, unknown>): Schemas["JobTypeOut"] {
  return {
    name, title: name, unit_cost: 0, jobs_per_hour: null, jobs_per_day: null, max_active_jobs: null, params_schema: schema,
    takes_items: false, chunk_size: 1, max_items: null, max_concurrency: null, priority: 0, exclusive: null,
    accepts: null, max_file_bytes: null,
  };
}

async function mountNewJob(type: string): Promise<VueWrapper> {
  const pinia = setUp("en");
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/jobs/new", name: "new-job", component: NewJobPage },
      { path: "/jobs/:id(\\d+)", name: "job", component: { render: () => null } },
    ],
  });
  await router.push({ path: "/jobs/new", query: { type } });
  await router.isReady();
  const host = defineComponent({ render: () => h(RouterView) });
  const mounted = mount(host, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body });
  await flushPromises();
  return mounted;
}

describe("the new-job page", () => {
  const routes = {
    "GET /api/v1/job-types": () => ({
      body: [jobType("migrate", MIGRATE_SCHEMA), jobType("report", { type: "object", properties: { dry_run: { type: "boolean", default: false } } })],
    }),
    "GET /api/v1/resources": () => ({ body: [] }),
    "GET /api/v1/me": () => ({ body: ALICE }),
    "POST /api/v1/job-types/migrate/preview": () => ({ body: preview() }),
  };

  it("offers a migration the dry run of its first rows instead of a trial job, and checks the form first", async () => {
    serve(routes);
    wrapper = await mountNewJob("migrate");
    expect(wrapper.find('[data-test="migrate-dry-run"]').exists()).toBe(true);
    expect(wrapper.find('[data-test="dry-run-button"]').exists()).toBe(false);

    await wrapper.find('[data-test="migrate-dry-run"]').trigger("click");
    await flushPromises();
    expect(sent.filter((s) => s.method === "POST")).toHaveLength(0); // the required fields are empty

    for (const [name, value] of Object.entries({ source_url: "sqlite:///legacy.db", source: "legacy_users", key: "user_id", resource: "users" })) {
      await wrapper.find(`[data-test="schema-field-${name}"] input`).setValue(value);
    }
    await wrapper.find('[data-test="migrate-dry-run"]').trigger("click");
    await flushPromises();
    const posts = sent.filter((s) => s.method === "POST");
    expect(posts.map((s) => s.path)).toEqual(["/api/v1/job-types/migrate/preview"]);
    expect((posts[0]!.body as { params: Record<string, unknown> }).params).toMatchObject({
      source_url: "sqlite:///legacy.db",
      source: "legacy_users",
      key: "user_id",
      resource: "users",
      mode: "upsert",
      dry_run: false,
    });
    expect(wrapper.findAll('[data-test="dry-run-rows"] tbody tr')).toHaveLength(20);

    await wrapper.find('[data-test="schema-field-key"] input').setValue("id");
    expect(wrapper.find('[data-test="dry-run-stale"]').exists()).toBe(true);
  });

  it("keeps the trial job for a type that is not a migration", async () => {
    serve(routes);
    wrapper = await mountNewJob("report");
    expect(wrapper.find('[data-test="dry-run-button"]').exists()).toBe(true);
    expect(wrapper.find('[data-test="migrate-dry-run"]').exists()).toBe(false);
  });
});
