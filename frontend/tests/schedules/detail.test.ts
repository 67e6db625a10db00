// A schedule's page over a stubbed service: its settings and next five runs, pause with a reason and resume,
// and its slots — outcome tags, the started job's link, the service's reason, a summed-up row, older pages.
import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { i18n, missingKeys } from "@/i18n";
import { usePrefs } from "@/stores/prefs";
import { ALICE, sent, serve, type Handler } from "../support/fakeService";
import { BILLS, mountAt, router, schedule, text, VICTOR } from "./support";

const FIRST_PAGE = {
  slots: [
    { slot_at: "2026-11-30T18:00:00Z", outcome: "started", reason: null, reason_text: null, job_id: 812, count: 1, last_at: null },
    { slot_at: "2026-10-31T16:00:00Z", outcome: "buffered", reason: "waiting", reason_text: "waiting for the previous run", job_id: null, count: 1, last_at: null },
    {
      slot_at: "2026-07-31T16:00:00Z", outcome: "skipped", reason: "superseded", reason_text: "a later slot ran instead",
      job_id: null, count: 3, last_at: "2026-09-30T16:00:00Z",
    },
    {
      slot_at: "2026-06-30T16:00:00Z", outcome: "refused", reason: "quota_insufficient",
      reason_text: "Your quota is 0; this job needs 5.", job_id: null, count: 1, last_at: null,
    },
  ],
  next_before: "2026-06-30T16:00:00Z",
};
const OLDER_PAGE = {
  slots: [{ slot_at: "2026-05-31T16:00:00Z", outcome: "skipped", reason: "overlap", reason_text: "the previous run was still running", job_id: null, count: 1, last_at: null }],
  next_before: null,
};

function routes(extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    "GET /api/v1/job-types": () => ({ body: [BILLS] }),
    "GET /api/v1/schedules/5": () => ({ body: schedule({ missed: { kind: "catch_up_all", window_seconds: 86400, max: 10 } }) }),
    "GET /api/v1/schedules/5/slots": ({ query }) => ({ body: query.get("before") ? OLDER_PAGE : FIRST_PAGE }),
    ...extra,
  };
}

const calls = (method: string, path: string) => sent.filter((s) => s.method === method && s.path === path);

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

describe("schedule page", () => {
  it("shows its settings and the next five runs in its zone and the viewer's", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/5", ALICE);
    expect(text(wrapper, "schedule-title")).toBe("monthly-bills");
    expect(text(wrapper, "setting-type")).toBe("Monthly bills (demo)");
    expect(text(wrapper, "setting-cron")).toBe("0 2 1 * *Monthly on day 1 at 02:00");
    expect(text(wrapper, "setting-missed")).toBe("Catch up (last 24 h, at most 10)");
    expect(text(wrapper, "setting-overlap")).toBe("Skip");
    expect(text(wrapper, "setting-params")).toBe("region: east");
    const runs = wrapper.find('[data-test="next-runs"]');
    expect(runs.findAll('[data-test="fire-time"]')).toHaveLength(5);
    expect(runs.findAll('[data-test="fire-own"] time')[0]!.text()).toBe("Tue, 12/01/2026, 02:00 GMT+8");
    expect(runs.findAll('[data-test="fire-viewer"]')[0]!.text()).toContain("11/30/2026, 18:00");
  });

  it("lists the slots newest first with their outcome, reason and job", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/5", ALICE);
    expect(calls("GET", "/api/v1/schedules/5/slots")[0]!.query.get("before")).toBeNull();
    const rows = wrapper.findAll('[data-test="slot"]');
    expect(rows.map((row) => row.find('[data-test="slot-outcome"]').text())).toEqual(["Started", "Queued", "Skipped", "Refused"]);
    expect(rows[0]!.find('[data-test="slot-time"]').text()).toBe("11/30/2026, 18:00:00");
    const link = rows[0]!.find('[data-test="slot-job"]');
    expect(link.text()).toBe("Job #812");
    expect(link.attributes("href")).toBe("/jobs/812");
    expect(rows[1]!.find('[data-test="slot-job"]').exists()).toBe(false);
    expect(rows[1]!.find('[data-test="slot-reason"]').text()).toBe("waiting for the previous run");
    expect(rows[2]!.find('[data-test="slot-time"]').text()).toBe("3 slots from 07/31/2026, 16:00:00 to 09/30/2026, 16:00:00");
    expect(rows[2]!.find('[data-test="slot-reason"]').text()).toBe("a later slot ran instead");
    expect(rows[3]!.find('[data-test="slot-reason"]').text()).toBe("Your quota is 0; this job needs 5.");
  });

  it("loads older slots below, until there are none", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/5", ALICE);
    await wrapper.find('[data-test="slots-more"]').trigger("click");
    await flushPromises();
    const asked = calls("GET", "/api/v1/schedules/5/slots");
    expect(asked).toHaveLength(2);
    expect(asked[1]!.query.get("before")).toBe("2026-06-30T16:00:00Z");
    const rows = wrapper.findAll('[data-test="slot"]');
    expect(rows).toHaveLength(5);
    expect(rows[4]!.find('[data-test="slot-reason"]').text()).toBe("the previous run was still running");
    expect(wrapper.find('[data-test="slots-more"]').exists()).toBe(false);
  });

  it("asks for the slots again in the reader's language", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/5", ALICE);
    usePrefs().locale = "zh-CN";
    i18n.global.locale.value = "zh-CN";
    await flushPromises();
    expect(calls("GET", "/api/v1/schedules/5/slots")).toHaveLength(2);
    const rows = wrapper.findAll('[data-test="slot"]');
    expect(rows[2]!.find('[data-test="slot-time"]').text()).toMatch(/^3 个时间点，从 .+ 到 .+$/);
    expect(rows.map((row) => row.find('[data-test="slot-outcome"]').text())).toEqual(["已启动", "排队中", "已跳过", "被拒绝"]);
  });

  it("pauses with a reason and resumes", async () => {
    serve(routes({
      "POST /api/v1/schedules/5/pause": ({ body }) => ({ body: schedule({ paused: true, paused_reason: (body as { reason: string }).reason }) }),
      "POST /api/v1/schedules/5/resume": () => ({ body: schedule() }),
    }));
    wrapper = await mountAt("/schedules/5", ALICE);
    await wrapper.find('[data-test="pause"]').trigger("click");
    await flushPromises();
    await wrapper.find('[data-test="pause-reason"] input').setValue("audit week");
    await wrapper.find('[data-test="pause-confirm"]').trigger("click");
    await flushPromises();
    expect(calls("POST", "/api/v1/schedules/5/pause").map((s) => s.body)).toEqual([{ reason: "audit week" }]);
    expect(text(wrapper, "paused-reason")).toBe("Reason: audit week");

    await wrapper.find('[data-test="resume"]').trigger("click");
    await flushPromises();
    expect(calls("POST", "/api/v1/schedules/5/resume")).toHaveLength(1);
    expect(text(wrapper, "schedule-status")).toBe("Active");
  });

  it("goes back to the list once deleted", async () => {
    serve(routes({
      "DELETE /api/v1/schedules/5": () => ({ status: 204 }),
      "GET /api/v1/schedules": () => ({ body: [] }),
    }));
    wrapper = await mountAt("/schedules/5", ALICE);
    await wrapper.find('[data-test="delete"]').trigger("click");
    await flushPromises();
    await wrapper.find('[data-test="confirm-ok"]').trigger("click");
    await flushPromises();
    expect(calls("DELETE", "/api/v1/schedules/5")).toHaveLength(1);
    expect(router.currentRoute.value.fullPath).toBe("/schedules");
  });

  it("shows a viewer no actions", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/5", VICTOR);
    expect(text(wrapper, "schedule-title")).toBe("monthly-bills");
    expect(wrapper.find('[data-test="schedule-actions"]').exists()).toBe(false);
    expect(wrapper.findAll('[data-test="slot"]')).toHaveLength(4);
  });

  it("says when there is no such schedule", async () => {
    serve(routes({ "GET /api/v1/schedules/5": () => ({ status: 404, body: { error: { code: "schedule_not_found", message: "Schedule 5 does not exist." } } }) }));
    wrapper = await mountAt("/schedules/5", ALICE);
    expect(text(wrapper, "not-found")).toBe("There is no such schedule, or it is not yours.");
  });
});
