// The schedules list over a stubbed service: what a row says (cron in words, the next run in the viewer's zone
// and the schedule's, policies, status with its reason, slot counts), what a viewer and an admin see, and the
// row actions: pause with a reason, resume, delete after a confirmation.
import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { i18n, missingKeys } from "@/i18n";
import { usePrefs } from "@/stores/prefs";
import { ALICE, refusal, sent, serve, type Handler } from "../support/fakeService";
import { ADA, BILLS, EXPIRY, mountAt, router, schedule, text, VICTOR, type Schedule } from "./support";

const PAUSED = schedule({
  id: 6, name: "points-expiry", type: "points_expiry", cron: "30 1 * * *", timezone: "UTC", overlap: "buffer_one",
  missed: { kind: "catch_up_all", window_seconds: 21600, max: 4 }, paused: true, paused_reason: "supplier API down",
  next: ["2026-12-02T01:30:00Z"], slots: { started: 10 },
});

function routes(list: Schedule[] = [schedule(), PAUSED], extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    "GET /api/v1/schedules": () => ({ body: list }),
    "GET /api/v1/job-types": () => ({ body: [BILLS, EXPIRY] }),
    ...extra,
  };
}

const calls = (method: string, path: string) => sent.filter((s) => s.method === method && s.path === path);
const row = (w: VueWrapper, id: number) => w.find(`[data-test="schedule-${id}"]`);

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

describe("schedules list", () => {
  it("shows each schedule's settings, next run in both zones, status and counts", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules", ALICE);
    const bills = row(wrapper, 5);
    expect(bills.find('[data-test="schedule-name"]').text()).toBe("monthly-bills");
    expect(bills.find('[data-test="schedule-name"]').attributes("href")).toBe("/schedules/5");
    expect(bills.find('[data-test="schedule-type"]').text()).toBe("Monthly bills (demo)");
    expect(bills.find('[data-test="schedule-cron"] code').text()).toBe("0 2 1 * *");
    expect(bills.find('[data-test="schedule-cron-hint"]').text()).toBe("Monthly on day 1 at 02:00");
    // the viewer is in UTC: 18:00 the day before; the schedule's own zone said beside it
    expect(bills.find('[data-test="schedule-next"]').text()).toContain("11/30/2026, 18:00");
    expect(bills.find('[data-test="schedule-next-own"]').text()).toContain("12/01/2026, 02:00 in Asia/Shanghai");
    expect(bills.find('[data-test="schedule-overlap"]').text()).toBe("Skip");
    expect(bills.find('[data-test="schedule-missed"]').text()).toBe("Run the latest once");
    expect(bills.find('[data-test="schedule-status"]').text()).toBe("Active");
    expect(bills.find('[data-test="schedule-counts"]').text()).toBe("3 started2 skipped1 refused");

    const points = row(wrapper, 6);
    expect(points.find('[data-test="schedule-cron-hint"]').text()).toBe("Every day at 01:30");
    expect(points.find('[data-test="schedule-next-own"]').exists()).toBe(false); // the same zone as the viewer's
    expect(points.find('[data-test="schedule-overlap"]').text()).toBe("Queue one");
    expect(points.find('[data-test="schedule-missed"]').text()).toBe("Catch up (last 6 h, at most 4)");
    expect(points.find('[data-test="schedule-status"]').text()).toContain("Paused");
    expect(points.find('[data-test="paused-reason"]').text()).toBe("Reason: supplier API down");
    expect(points.find('[data-test="schedule-counts"]').text()).toBe("10 started0 skipped0 refused");
  });

  it("speaks Chinese, the cron hint included", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules", ALICE);
    usePrefs().locale = "zh-CN";
    i18n.global.locale.value = "zh-CN";
    await flushPromises();
    expect(row(wrapper, 5).find('[data-test="schedule-cron-hint"]').text()).toBe("每月 1 日 02:00");
    expect(row(wrapper, 6).find('[data-test="schedule-missed"]').text()).toBe("全部补运行（最近 6 小时，最多 4 次）");
    expect(row(wrapper, 6).find('[data-test="paused-reason"]').text()).toBe("原因：supplier API down");
    expect(row(wrapper, 5).find('[data-test="schedule-next-own"]').text()).toContain("Asia/Shanghai 时间");
  });

  it("gives an operator actions and a New button, but no owner column", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules", ALICE);
    expect(wrapper.find('[data-test="new-schedule"]').attributes("href")).toBe("/schedules/new");
    expect(wrapper.find('[data-test="owner-column"]').exists()).toBe(false);
    expect(row(wrapper, 5).find('[data-test="pause"]').exists()).toBe(true);
    expect(row(wrapper, 5).find('[data-test="resume"]').exists()).toBe(false);
    expect(row(wrapper, 6).find('[data-test="resume"]').exists()).toBe(true);
    expect(row(wrapper, 5).find('[data-test="edit"]').attributes("href")).toBe("/schedules/5/edit");
  });

  it("shows a viewer no actions and no New button", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules", VICTOR);
    expect(row(wrapper, 5).exists()).toBe(true);
    expect(wrapper.find('[data-test="new-schedule"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="schedule-actions"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="pause"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="delete"]').exists()).toBe(false);
    expect(text(wrapper, "viewer-notice")).toBe("Your role lets you look at schedules but not change them.");
  });

  it("shows an admin everyone's schedules with their owner", async () => {
    serve(routes([schedule(), schedule({ id: 9, name: "nightly", owner: "bob", cron: "0 3 * * *" })]));
    wrapper = await mountAt("/schedules", ADA);
    expect(wrapper.find('[data-test="owner-column"]').text()).toBe("Owner");
    expect(row(wrapper, 5).find('[data-test="schedule-owner"]').text()).toBe("alice");
    expect(row(wrapper, 9).find('[data-test="schedule-owner"]').text()).toBe("bob");
    expect(row(wrapper, 9).find('[data-test="pause"]').exists()).toBe(true);
  });

  it("says so when there are none", async () => {
    serve(routes([]));
    wrapper = await mountAt("/schedules", ALICE);
    expect(text(wrapper, "schedules-empty")).toBe("No schedules yet.");
  });
});

describe("schedules list: actions", () => {
  it("pauses with the reason given and shows it", async () => {
    serve(routes(undefined, {
      "POST /api/v1/schedules/5/pause": ({ body }) => ({
        body: schedule({ paused: true, paused_reason: (body as { reason: string }).reason }),
      }),
    }));
    wrapper = await mountAt("/schedules", ALICE);
    await row(wrapper, 5).find('[data-test="pause"]').trigger("click");
    await flushPromises();
    expect(wrapper.find('[data-test="pause-dialog"]').text()).toContain("No run starts while it is paused.");
    await wrapper.find('[data-test="pause-reason"] input').setValue("  month-end freeze ");
    await wrapper.find('[data-test="pause-confirm"]').trigger("click");
    await flushPromises();
    expect(calls("POST", "/api/v1/schedules/5/pause").map((s) => s.body)).toEqual([{ reason: "month-end freeze" }]);
    expect(row(wrapper, 5).find('[data-test="paused-reason"]').text()).toBe("Reason: month-end freeze");
    expect(row(wrapper, 5).find('[data-test="resume"]').exists()).toBe(true);
  });

  it("pauses without a reason when none is given", async () => {
    serve(routes(undefined, {
      "POST /api/v1/schedules/5/pause": () => ({ body: schedule({ paused: true, paused_reason: "paused by a user" }) }),
    }));
    wrapper = await mountAt("/schedules", ALICE);
    await row(wrapper, 5).find('[data-test="pause"]').trigger("click");
    await flushPromises();
    await wrapper.find('[data-test="pause-confirm"]').trigger("click");
    await flushPromises();
    expect(calls("POST", "/api/v1/schedules/5/pause").map((s) => s.body)).toEqual([{ reason: null }]);
  });

  it("keeps the dialog open with the service's refusal", async () => {
    serve(routes(undefined, {
      "POST /api/v1/schedules/5/pause": () => ({ status: 403, body: refusal("forbidden", "Viewers cannot change schedules.") }),
    }));
    wrapper = await mountAt("/schedules", ALICE);
    await row(wrapper, 5).find('[data-test="pause"]').trigger("click");
    await flushPromises();
    await wrapper.find('[data-test="pause-confirm"]').trigger("click");
    await flushPromises();
    expect(text(wrapper, "pause-error")).toBe("Viewers cannot change schedules.");
    expect(row(wrapper, 5).find('[data-test="schedule-status"]').text()).toBe("Active");
  });

  it("resumes at once", async () => {
    serve(routes(undefined, { "POST /api/v1/schedules/6/resume": () => ({ body: { ...PAUSED, paused: false, paused_reason: null } }) }));
    wrapper = await mountAt("/schedules", ALICE);
    await row(wrapper, 6).find('[data-test="resume"]').trigger("click");
    await flushPromises();
    expect(calls("POST", "/api/v1/schedules/6/resume")).toHaveLength(1);
    expect(row(wrapper, 6).find('[data-test="schedule-status"]').text()).toBe("Active");
    expect(row(wrapper, 6).find('[data-test="pause"]').exists()).toBe(true);
  });

  it("deletes only once confirmed", async () => {
    serve(routes(undefined, { "DELETE /api/v1/schedules/5": () => ({ status: 204 }) }));
    wrapper = await mountAt("/schedules", ALICE);
    await row(wrapper, 5).find('[data-test="delete"]').trigger("click");
    await flushPromises();
    expect(text(wrapper, "delete-body")).toContain("the jobs it started stay");
    expect(calls("DELETE", "/api/v1/schedules/5")).toHaveLength(0);
    await wrapper.find('[data-test="confirm-ok"]').trigger("click");
    await flushPromises();
    expect(calls("DELETE", "/api/v1/schedules/5")).toHaveLength(1);
    expect(row(wrapper, 5).exists()).toBe(false);
    expect(row(wrapper, 6).exists()).toBe(true);
  });

  it("opens the editor from a row", async () => {
    serve(routes(undefined, { "GET /api/v1/schedules/5": () => ({ body: schedule() }), "POST /api/v1/schedules/preview": () => ({ body: { next: [] } }) }));
    wrapper = await mountAt("/schedules", ALICE);
    await row(wrapper, 5).find('[data-test="edit"]').trigger("click");
    await flushPromises();
    expect(router.currentRoute.value.fullPath).toBe("/schedules/5/edit");
    expect(wrapper.find('[data-test="schedule-form-page"]').exists()).toBe(true);
  });
});
