// Rolling a bulk update back over a stubbed service: the job page's "Roll back" (only for a finished update that
// changed rows, only for those who may act), the dialog's force sent as the body, the service's 409 shown in it,
// the rollback's own page opened on 202, and a finished rollback's conflicts listed with their reasons.
import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Job } from "@/api/client";
import { i18n, missingKeys } from "@/i18n";
import type { LiveOptions } from "@/live/events";
import BulkUpdatePage from "@/pages/BulkUpdatePage.vue";
import JobDetailPage from "@/pages/JobDetailPage.vue";
import { ALICE, serve, type Handler } from "../support/fakeService";
import { calls, click, CUSTOMERS, envelope, job, mountAt, PRODUCTS, router, text, VICTOR } from "./support";

vi.mock("@/live/events", async () => {
  const { ref } = await import("vue");
  return {
    follow(_options: LiveOptions) {
      return { connected: ref(true), updatedAt: ref(Date.now()), stop: () => undefined };
    },
  };
});

const ROLLBACK = job({
  id: 62, type: "bulk_rollback", params: { job_id: 61, force: false },
  total: 1230, processed: 1230, succeeded: 1225, failed: 0, skipped: 5,
});

// what GET /jobs/62/items?status=skipped answers: each conflict's key as the images keep it, with its reason
const CONFLICTS = {
  items: [
    { index: 3, key: null, status: "skipped", input: '["SKU000004"]', output: null, error: "changed since the update", attempts: 1 },
    { index: 9, key: null, status: "skipped", input: '["SKU000010"]', output: null, error: "deleted since the update", attempts: 1 },
  ],
  next_cursor: null,
};

function pageRoutes(current: Job, extra: Record<string, Handler> = {}): Record<string, Handler> {
  const base = `/api/v1/jobs/${current.id}`;
  return {
    [`GET ${base}`]: () => ({ body: current }),
    [`GET ${base}/failures`]: () => ({ body: { job_id: current.id, failed: 0, causes: [] } }),
    [`GET ${base}/artifacts`]: () => ({ body: [] }),
    [`GET ${base}/items`]: (sent) => ({ body: sent.query.get("status") === "skipped" ? CONFLICTS : { items: [], next_cursor: null } }),
    "GET /api/v1/job-types": () => ({ body: [] }),
    "GET /api/v1/me": () => ({ body: ALICE }),
    ...extra,
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
  expect(missingKeys).toEqual([]);
});

describe("rolling back from the job page", () => {
  it("sends force from the dialog and opens the rollback's page on 202", async () => {
    serve(pageRoutes(job(), { "POST /api/v1/jobs/61/rollback": () => ({ status: 202, body: { ...ROLLBACK, status: "pending" } }) }));
    wrapper = await mountAt("/jobs/61", JobDetailPage, ALICE, { id: "61" });
    await click(wrapper, "bulk-rollback");
    expect(text(wrapper, "rollback-dialog")).toContain("Force (overwrite rows changed since)");
    expect(text(wrapper, "rollback-dialog")).toContain("their later changes are lost");
    expect(calls("POST", "/api/v1/jobs/61/rollback")).toHaveLength(0);

    await click(wrapper, "rollback-force");
    expect(wrapper.find('[data-test="rollback-force"]').attributes("aria-checked")).toBe("true");
    await click(wrapper, "rollback-confirm");
    expect(calls("POST", "/api/v1/jobs/61/rollback").map((c) => c.body)).toEqual([{ force: true }]);
    expect(router.currentRoute.value.fullPath).toBe("/jobs/62");
  });

  it("sends force: false unless it is ticked", async () => {
    serve(pageRoutes(job(), { "POST /api/v1/jobs/61/rollback": () => ({ status: 202, body: ROLLBACK }) }));
    wrapper = await mountAt("/jobs/61", JobDetailPage, ALICE, { id: "61" });
    await click(wrapper, "bulk-rollback");
    await click(wrapper, "rollback-confirm");
    expect(calls("POST", "/api/v1/jobs/61/rollback").map((c) => c.body)).toEqual([{ force: false }]);
  });

  it("shows the service's 409 rollback_refused in the dialog and stays", async () => {
    const refused = envelope("rollback_refused", "Job 61 cannot be rolled back: job 62 rolled it back already", {
      job_id: 61, reason: "job 62 rolled it back already", reason_zh: "任务 62 已回滚过它",
    });
    serve(pageRoutes(job(), { "POST /api/v1/jobs/61/rollback": () => ({ status: 409, body: refused }) }));
    wrapper = await mountAt("/jobs/61", JobDetailPage, ALICE, { id: "61" });
    await click(wrapper, "bulk-rollback");
    await click(wrapper, "rollback-confirm");
    expect(text(wrapper, "rollback-error")).toBe("Job 61 cannot be rolled back: job 62 rolled it back already");
    expect(router.currentRoute.value.fullPath).toBe("/jobs/61");
    expect(wrapper.find('[data-test="rollback-confirm"]').exists()).toBe(true);
  });

  it("is offered only for a finished bulk update that changed rows, to those who may act", async () => {
    const cases: [Job, typeof ALICE, boolean][] = [
      [job(), ALICE, true],
      [job({ status: "partially_succeeded", failed: 3 }), ALICE, true],
      [job(), VICTOR, false],
      [job({ status: "running", finished_at: null }), ALICE, false],
      [job({ status: "failed", succeeded: 0 }), ALICE, false],
      [job({ type: "export" }), ALICE, false],
    ];
    for (const [shown, user, offered] of cases) {
      serve(pageRoutes(shown));
      wrapper = await mountAt("/jobs/61", JobDetailPage, user, { id: "61" });
      expect([shown.status, shown.type, user.role, wrapper.find('[data-test="bulk-rollback"]').exists()]).toEqual([
        shown.status, shown.type, user.role, offered,
      ]);
      wrapper.unmount();
      wrapper = undefined;
    }
  });
});

describe("a rollback's conflicts", () => {
  it("lists the skipped rows with their reasons under a heading with the count", async () => {
    serve(pageRoutes(ROLLBACK));
    wrapper = await mountAt("/jobs/62", JobDetailPage, ALICE, { id: "62" });
    const skipped = calls("GET", "/api/v1/jobs/62/items").filter((c) => c.query.get("status") === "skipped");
    expect(skipped.length).toBeGreaterThan(0);
    expect(text(wrapper, "rollback-conflicts")).toContain("Conflicts: rows changed since the update");
    expect(text(wrapper, "rollback-conflicts-count")).toBe("5");
    const rows = wrapper.findAll('[data-test="rollback-conflict"]');
    expect(rows.map((r) => r.text())).toEqual(["SKU000004changed since the update", "SKU000010deleted since the update"]);
    expect(wrapper.find('[data-test="bulk-rollback"]').exists()).toBe(false);

    i18n.global.locale.value = "zh-CN";
    await flushPromises();
    expect(text(wrapper, "rollback-conflicts")).toContain("冲突：更新后已被修改的行");
  });

  it("shows no conflicts section while the rollback runs, and none for a plain update", async () => {
    serve(pageRoutes({ ...ROLLBACK, status: "running", finished_at: null }));
    wrapper = await mountAt("/jobs/62", JobDetailPage, ALICE, { id: "62" });
    expect(wrapper.find('[data-test="rollback-conflicts"]').exists()).toBe(false);
    wrapper.unmount();
    serve(pageRoutes(job()));
    wrapper = await mountAt("/jobs/61", JobDetailPage, ALICE, { id: "61" });
    expect(wrapper.find('[data-test="rollback-conflicts"]').exists()).toBe(false);
  });
});

describe("rolling back from the bulk page after apply", () => {
  it("opens the same dialog from the finished update's panel", async () => {
    serve({
      "GET /api/v1/resources": () => ({ body: [CUSTOMERS, PRODUCTS] }),
      "GET /api/v1/jobs/61": () => ({ body: job() }),
      "POST /api/v1/jobs/61/rollback": () => ({ status: 202, body: ROLLBACK }),
    });
    wrapper = await mountAt("/bulk?job=61", BulkUpdatePage, ALICE);
    await click(wrapper, "bulk-rollback");
    await click(wrapper, "rollback-force");
    expect(wrapper.find('[data-test="rollback-force"]').attributes("aria-checked")).toBe("true");
    await click(wrapper, "rollback-confirm");
    expect(calls("POST", "/api/v1/jobs/61/rollback").map((c) => c.body)).toEqual([{ force: true }]);
    expect(router.currentRoute.value.fullPath).toBe("/jobs/62");
  });
});
