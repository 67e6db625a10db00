// The notifications page: listing, paging, the unread filter and marking read.
import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { missingKeys } from "@/i18n";
import NotificationsPage from "@/pages/NotificationsPage.vue";
import { serve, sent, refusal, mountPage, ALICE, type Handler } from "./support/fakeService";


function notice(id: number, jobId: number, read: boolean, status = "succeeded") {
  return {
    id,
    job_id: jobId,
    kind: "finished",
    message: `Job ${jobId} (demo_enhance) ended ${status}: 3 succeeded, 0 failed, 0 skipped.`,
    data: { status, type: "demo_enhance", succeeded: 3, failed: 0, skipped: 0 },
    created_at: "2026-12-01T02:01:48.368447Z",
    read_at: read ? "2026-12-01T02:05:00Z" : null,
  };
}

const page1 = { notifications: [notice(9, 12, false), notice(8, 11, true), notice(7, 10, false, "failed")], next_cursor: "7" };
const page2 = { notifications: [notice(3, 4, false)], next_cursor: null };

function inbox(extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    "GET /api/v1/notifications": ({ query }) => {
      if (query.get("unread") === "true") return { body: { notifications: [notice(9, 12, false)], next_cursor: null } };
      return { body: query.get("cursor") === "7" ? page2 : page1 };
    },
    "POST /api/v1/notifications/9/read": () => ({ status: 204 }),
    "POST /api/v1/notifications/7/read": () => ({ status: 204 }),
    "POST /api/v1/notifications/3/read": () => ({ status: 204 }),
    ...extra,
  };
}

function shown(wrapper: VueWrapper) {
  return wrapper.findAll('[data-test="notification"]').map((n) => ({
    read: n.attributes("data-read"),
    job: n.find('[data-test="notification-job"]').attributes("href"),
    canMark: n.find('[data-test="notification-mark-read"]').exists(),
  }));
}

let wrapper: VueWrapper | undefined;
beforeEach(() => {
  document.body.innerHTML = "";
});
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  // Every text shown came from the message files.
  expect(missingKeys).toEqual([]);
});

describe("notifications page", () => {
  it("lists notices newest first with their message, job link and read state", async () => {
    serve(inbox());
    wrapper = await mountPage(NotificationsPage, ALICE);
    expect(shown(wrapper)).toEqual([
      { read: "false", job: "/jobs/12", canMark: true },
      { read: "true", job: "/jobs/11", canMark: false },
      { read: "false", job: "/jobs/10", canMark: true },
    ]);
    expect(wrapper.find('[data-test="notification-message"]').text()).toBe(
      "Job 12 (demo_enhance) ended succeeded: 3 succeeded, 0 failed, 0 skipped.",
    );
    // Unread is said in words, not only by colour.
    expect(wrapper.find('[data-test="notification-unread"]').text()).toBe("Unread");
  });

  it("marks one notice read with its own request and shows it as read", async () => {
    serve(inbox());
    wrapper = await mountPage(NotificationsPage, ALICE);
    await wrapper.findAll('[data-test="notification-mark-read"]')[1]!.trigger("click");
    await flushPromises();
    expect(sent.filter((s) => s.method === "POST").map((s) => s.path)).toEqual(["/api/v1/notifications/7/read"]);
    expect(shown(wrapper).map((n) => n.read)).toEqual(["false", "true", "true"]);
  });

  it("shows the server's message when marking read fails, and leaves the notice unread", async () => {
    serve(
      inbox({
        "POST /api/v1/notifications/9/read": () => ({
          status: 404,
          body: refusal("notification_not_found", "You have no notification 9."),
        }),
      }),
    );
    wrapper = await mountPage(NotificationsPage, ALICE);
    await wrapper.findAll('[data-test="notification-mark-read"]')[0]!.trigger("click");
    await flushPromises();
    expect(wrapper.find('[data-test="notifications-error"]').text()).toContain("You have no notification 9.");
    expect(shown(wrapper)[0]!.read).toBe("false");
  });

  it("marks every unread notice shown, and only those", async () => {
    serve(inbox());
    wrapper = await mountPage(NotificationsPage, ALICE);
    await wrapper.find('[data-test="notifications-more"]').trigger("click");
    await flushPromises();
    await wrapper.find('[data-test="notifications-mark-all"]').trigger("click");
    await flushPromises();
    const marked = sent.filter((s) => s.method === "POST").map((s) => s.path).sort();
    expect(marked).toEqual(["/api/v1/notifications/3/read", "/api/v1/notifications/7/read", "/api/v1/notifications/9/read"]);
    expect(shown(wrapper).every((n) => n.read === "true")).toBe(true);
    expect(wrapper.find('[data-test="notifications-status"]').text()).toBe("Marked 3 as read.");
  });

  it("pages with the cursor and asks only for unread ones when the filter is on", async () => {
    serve(inbox());
    wrapper = await mountPage(NotificationsPage, ALICE);
    await wrapper.find('[data-test="notifications-more"]').trigger("click");
    await flushPromises();
    const listCalls = () => sent.filter((s) => s.path === "/api/v1/notifications");
    expect(listCalls().map((s) => s.query.get("cursor"))).toEqual([null, "7"]);
    expect(wrapper.findAll('[data-test="notification"]')).toHaveLength(4);
    expect(wrapper.find('[data-test="notifications-more"]').exists()).toBe(false);

    await wrapper.find('[data-test="notifications-unread-only"]').trigger("click");
    await flushPromises();
    const last = listCalls().at(-1)!;
    expect(last.query.get("unread")).toBe("true");
    expect(last.query.get("cursor")).toBeNull();
    expect(shown(wrapper).map((n) => n.job)).toEqual(["/jobs/12"]);
  });
});
