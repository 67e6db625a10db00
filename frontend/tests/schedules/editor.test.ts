// The schedule editor over a stubbed service: the live preview of the cron (300 ms after the last change, the
// next five runs in the schedule's zone and the viewer's, across a clock change in Europe/Berlin; the service's
// refusal in the language asked for), the presets, the params form without scheduled_for, the policies as sent,
// refusals beside their fields, and an edit that sends only what changed.
import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { i18n, missingKeys } from "@/i18n";
import { usePrefs } from "@/stores/prefs";
import { ALICE, fetchMock, sent, serve, type Handler } from "../support/fakeService";
import { afterPause, BILLS, ENHANCE, EXPIRY, mountAt, router, schedule, text, VICTOR } from "./support";

// 02:30 every day in Berlin, over the night the clocks go forward (2026-03-29: 02:30 does not exist, so 03:30)
const BERLIN_NEXT = ["2026-03-27T01:30:00Z", "2026-03-28T01:30:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"];
const SHANGHAI_NEXT = ["2026-12-01T18:00:00Z", "2026-12-02T18:00:00Z", "2026-12-03T18:00:00Z", "2026-12-04T18:00:00Z", "2026-12-05T18:00:00Z"];

/** The Accept-Language of the request being answered. */
function language(): string | null {
  return fetchMock.mock.calls.at(-1)![0].headers.get("Accept-Language");
}

const REFUSED_CRON: Handler = () => ({
  status: 422,
  body: {
    error: {
      code: "invalid_schedule",
      message: language() === "zh-CN" ? "计划无效：分钟字段 '61' 无效" : "The schedule is not valid: the minute field '61' is not valid",
      details: { reason: "the minute field '61' is not valid" },
    },
  },
});

function previewBy(body: { cron: string; timezone: string }): { body: { next: string[] } } {
  return { body: { next: body.timezone === "Europe/Berlin" ? BERLIN_NEXT : SHANGHAI_NEXT } };
}

function routes(extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    "GET /api/v1/job-types": () => ({ body: [BILLS, ENHANCE, EXPIRY] }),
    "POST /api/v1/schedules/preview": ({ body }) => previewBy(body as { cron: string; timezone: string }),
    ...extra,
  };
}

const previews = () => sent.filter((s) => s.method === "POST" && s.path === "/api/v1/schedules/preview");
const calls = (method: string, path: string) => sent.filter((s) => s.method === method && s.path === path);

function select(w: VueWrapper, test: string, value: unknown): void {
  w.find(`[data-test="${test}"]`).findComponent({ name: "Select" }).vm.$emit("update:value", value);
}

async function typeCron(w: VueWrapper, cron: string): Promise<void> {
  await w.find('[data-test="cron-input"] input').setValue(cron);
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

describe("schedule editor: the live preview", () => {
  it("asks once, 300 ms after the last change, and lists five runs in both zones across a clock change", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/new", ALICE);
    await afterPause();
    expect(previews().map((s) => s.body)).toEqual([{ cron: "0 2 * * *", timezone: "Asia/Shanghai" }]);

    await typeCron(wrapper, "30 2 * * ");
    await typeCron(wrapper, "30 2 * * *");
    select(wrapper, "field-timezone", "Europe/Berlin");
    await flushPromises();
    expect(previews()).toHaveLength(1); // not before the pause
    await afterPause();
    expect(previews().map((s) => s.body)).toEqual([
      { cron: "0 2 * * *", timezone: "Asia/Shanghai" },
      { cron: "30 2 * * *", timezone: "Europe/Berlin" },
    ]);

    expect(text(wrapper, "cron-hint")).toBe("Every day at 02:30");
    const rows = wrapper.findAll('[data-test="fire-time"]');
    expect(rows).toHaveLength(5);
    const own = rows.map((row) => row.find('[data-test="fire-own"] time').text());
    expect(own).toEqual([
      "Fri, 03/27/2026, 02:30 GMT+1",
      "Sat, 03/28/2026, 02:30 GMT+1",
      "Sun, 03/29/2026, 03:30 GMT+2",
      "Mon, 03/30/2026, 02:30 GMT+2",
      "Tue, 03/31/2026, 02:30 GMT+2",
    ]);
    expect(wrapper.findAll('[data-test="fire-change"]').map((note) => note.text())).toEqual(["Clock change: GMT+1 → GMT+2"]);
    expect(rows[2]!.find('[data-test="fire-change"]').exists()).toBe(true);
    // the viewer is in UTC: the same instants, an hour apart from the change on
    const viewer = rows.map((row) => row.find('[data-test="fire-viewer"]').text());
    expect(viewer.map((cell) => /\d\d:\d\d/.exec(cell)![0])).toEqual(["01:30", "01:30", "01:30", "00:30", "00:30"]);
    expect(wrapper.find('[data-test="fire-times"] thead').text()).toContain("In Europe/Berlin (the schedule's zone)");
    expect(wrapper.find('[data-test="fire-times"] thead').text()).toContain("In UTC (yours)");
  });

  it("shows one column when the viewer is in the schedule's zone", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/new", ALICE, { timeZone: "Asia/Shanghai" });
    await afterPause();
    expect(wrapper.findAll('[data-test="fire-own"]')).toHaveLength(5);
    expect(wrapper.find('[data-test="fire-viewer"]').exists()).toBe(false);
    expect(wrapper.findAll('[data-test="fire-own"] time')[0]!.text()).toBe("Wed, 12/02/2026, 02:00 GMT+8");
  });

  it("shows the service's refusal in the viewer's language, asking again when the language changes", async () => {
    serve(routes({ "POST /api/v1/schedules/preview": REFUSED_CRON }));
    wrapper = await mountAt("/schedules/new", ALICE);
    await typeCron(wrapper, "61 2 * * *");
    await afterPause();
    expect(text(wrapper, "cron-error")).toBe("⚠ The cron cannot be used: The schedule is not valid: the minute field '61' is not valid");
    expect(wrapper.find('[data-test="fire-times"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="cron-hint"]').exists()).toBe(false); // no words for what is not a time

    usePrefs().locale = "zh-CN";
    i18n.global.locale.value = "zh-CN";
    await afterPause();
    expect(fetchMock.mock.calls.at(-1)![0].headers.get("Accept-Language")).toBe("zh-CN");
    expect(text(wrapper, "cron-error")).toBe("⚠ 此 cron 无法使用：计划无效：分钟字段 '61' 无效");
  });

  it("clears the refusal once the cron is fixed", async () => {
    serve(routes({
      "POST /api/v1/schedules/preview": (call) => ((call.body as { cron: string }).cron.startsWith("61") ? REFUSED_CRON(call) : previewBy(call.body as { cron: string; timezone: string })),
    }));
    wrapper = await mountAt("/schedules/new", ALICE);
    await typeCron(wrapper, "61 2 * * *");
    await afterPause();
    expect(wrapper.find('[data-test="cron-error"]').exists()).toBe(true);
    await typeCron(wrapper, "1 2 * * *");
    await afterPause();
    expect(wrapper.find('[data-test="cron-error"]').exists()).toBe(false);
    expect(wrapper.findAll('[data-test="fire-time"]')).toHaveLength(5);
  });

  it("writes the cron from a preset and recognises a typed one", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/new", ALICE);
    const input = () => (wrapper!.find('[data-test="cron-input"] input').element as HTMLInputElement).value;
    select(wrapper, "cron-preset", "weekly");
    await flushPromises();
    expect(input()).toBe("0 2 * * 1");
    select(wrapper, "cron-weekday", 5);
    await flushPromises();
    wrapper.find('[data-test="cron-hour"]').findComponent({ name: "InputNumber" }).vm.$emit("update:value", 9);
    await flushPromises();
    expect(input()).toBe("0 9 * * 5");
    expect(text(wrapper, "cron-hint")).toBe("Every Friday at 09:00");

    select(wrapper, "cron-preset", "monthly");
    await flushPromises();
    expect(input()).toBe("0 9 1 * *");
    expect(wrapper.find('[data-test="cron-weekday"]').exists()).toBe(false);

    await typeCron(wrapper, "*/5 * * * *");
    await flushPromises();
    expect(wrapper.find('[data-test="cron-preset"]').findComponent({ name: "Select" }).props("value")).toBe("custom");
    expect(text(wrapper, "cron-hint")).toBe("Every 5 minutes");
  });
});

describe("schedule editor: saving", () => {
  it("offers only types that find their own items, and hides scheduled_for from the params", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/new", ALICE);
    const options = wrapper.find('[data-test="field-type"]').findComponent({ name: "Select" }).props("options") as { value: string }[];
    expect(options.map((option) => option.value)).toEqual(["monthly_bills", "points_expiry"]);
    expect(wrapper.find('[data-test="schema-field-region"]').exists()).toBe(true);
    expect(wrapper.find('[data-test="schema-field-scheduled_for"]').exists()).toBe(false);
    expect(text(wrapper, "scheduled-for-note")).toBe("Each run also gets its slot's time as scheduled_for.");
  });

  it("sends the missed-run policy with its window in seconds, and opens the new schedule", async () => {
    serve(routes({
      "POST /api/v1/schedules": () => ({ status: 201, body: schedule({ id: 77 }) }),
      "GET /api/v1/schedules/77": () => ({ body: schedule({ id: 77 }) }),
      "GET /api/v1/schedules/77/slots": () => ({ body: { slots: [], next_before: null } }),
    }));
    wrapper = await mountAt("/schedules/new", ALICE);
    await wrapper.find('[data-test="field-name"] input').setValue("nightly-bills");
    await wrapper.find('[data-test="overlap-buffer_one"] input').trigger("change");
    expect(wrapper.find('[data-test="missed-window"]').exists()).toBe(false);
    await wrapper.find('[data-test="missed-catch_up_all"] input').trigger("change");
    wrapper.find('[data-test="missed-window"]').findComponent({ name: "InputNumber" }).vm.$emit("update:value", 6);
    wrapper.find('[data-test="missed-max"]').findComponent({ name: "InputNumber" }).vm.$emit("update:value", 4);
    await wrapper.find('[data-test="field-pause-on-failure"] [role="checkbox"]').trigger("click");
    await wrapper.find('[data-test="schedule-form"]').trigger("submit");
    await flushPromises();

    expect(calls("POST", "/api/v1/schedules").map((s) => s.body)).toEqual([{
      name: "nightly-bills",
      type: "monthly_bills",
      cron: "0 2 * * *",
      timezone: "Asia/Shanghai",
      params: { region: "east" },
      overlap: "buffer_one",
      missed: { kind: "catch_up_all", window_seconds: 21600, max: 4 },
      pause_on_failure: true,
      paused: false,
    }]);
    expect(router.currentRoute.value.fullPath).toBe("/schedules/77");
  });

  it("refuses a catch-up without a window before asking the service", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/new", ALICE);
    await wrapper.find('[data-test="field-name"] input').setValue("nightly-bills");
    await wrapper.find('[data-test="missed-catch_up_all"] input').trigger("change");
    wrapper.find('[data-test="missed-window"]').findComponent({ name: "InputNumber" }).vm.$emit("update:value", null);
    await wrapper.find('[data-test="schedule-form"]').trigger("submit");
    await flushPromises();
    expect(text(wrapper, "missed-error")).toBe("⚠ Give a window of 1 to 8784 hours and at most 1 to 1000 runs.");
    expect(calls("POST", "/api/v1/schedules")).toHaveLength(0);
  });

  it("asks for a name", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/new", ALICE);
    await wrapper.find('[data-test="schedule-form"]').trigger("submit");
    await flushPromises();
    expect(text(wrapper, "name-error")).toBe("⚠ Give the schedule a name.");
    expect(calls("POST", "/api/v1/schedules")).toHaveLength(0);
  });

  it("shows a name already in use on the name field", async () => {
    serve(routes({
      "POST /api/v1/schedules": () => ({
        status: 409,
        body: { error: { code: "schedule_exists", message: "You have a schedule named 'monthly-bills' already; choose another name.", details: { name: "monthly-bills" } } },
      }),
    }));
    wrapper = await mountAt("/schedules/new", ALICE);
    await wrapper.find('[data-test="field-name"] input').setValue("monthly-bills");
    await wrapper.find('[data-test="schedule-form"]').trigger("submit");
    await flushPromises();
    expect(text(wrapper, "name-error")).toBe("⚠ You have a schedule named 'monthly-bills' already; choose another name.");
    expect(router.currentRoute.value.fullPath).toBe("/schedules/new");
    await wrapper.find('[data-test="field-name"] input').setValue("monthly-bills-2");
    expect(wrapper.find('[data-test="name-error"]').exists()).toBe(false);
  });

  it("shows the service's refusal of a type on the type field", async () => {
    const message = "The schedule is not valid: a job of type 'points_expiry' needs its items from whoever submits it; a schedule can only start job types that find their own items";
    serve(routes({
      "POST /api/v1/schedules": () => ({
        status: 422,
        body: { error: { code: "invalid_schedule", message, details: { reason: message.slice(28) } } },
      }),
    }));
    wrapper = await mountAt("/schedules/new", ALICE);
    await wrapper.find('[data-test="field-name"] input').setValue("expiry");
    select(wrapper, "field-type", "points_expiry");
    await flushPromises();
    await wrapper.find('[data-test="schedule-form"]').trigger("submit");
    await flushPromises();
    expect(text(wrapper, "type-error")).toBe(`⚠ ${message}`);
    expect(wrapper.find('[data-test="form-error"]').exists()).toBe(false);
  });

  it("shows a viewer no form", async () => {
    serve(routes());
    wrapper = await mountAt("/schedules/new", VICTOR);
    expect(wrapper.find('[data-test="schedule-form"]').exists()).toBe(false);
    expect(text(wrapper, "viewer-notice")).toBe("Your role lets you look at schedules but not change them.");
  });
});

describe("schedule editor: editing", () => {
  it("starts from the schedule and sends only what changed", async () => {
    serve(routes({
      "GET /api/v1/schedules/5": () => ({ body: schedule({ params: { region: "east", scheduled_for: null } }) }),
      "PATCH /api/v1/schedules/5": () => ({ body: schedule({ cron: "0 2 * * 1" }) }),
      "GET /api/v1/schedules/5/slots": () => ({ body: { slots: [], next_before: null } }),
    }));
    wrapper = await mountAt("/schedules/5/edit", ALICE);
    expect(wrapper.find("h1").text()).toBe("Edit “monthly-bills”");
    expect((wrapper.find('[data-test="field-name"] input').element as HTMLInputElement).value).toBe("monthly-bills");
    expect(text(wrapper, "type-fixed")).toBe("Monthly bills (demo)");
    expect(wrapper.find('[data-test="field-type"]').findComponent({ name: "Select" }).exists()).toBe(false);
    expect((wrapper.find('[data-test="cron-input"] input').element as HTMLInputElement).value).toBe("0 2 1 * *");
    expect(text(wrapper, "cron-hint")).toBe("Monthly on day 1 at 02:00");

    select(wrapper, "cron-preset", "weekly");
    await flushPromises();
    await wrapper.find('[data-test="schedule-form"]').trigger("submit");
    await flushPromises();
    expect(calls("PATCH", "/api/v1/schedules/5").map((s) => s.body)).toEqual([{ cron: "0 2 * * 1" }]);
    expect(router.currentRoute.value.fullPath).toBe("/schedules/5");
  });
});
