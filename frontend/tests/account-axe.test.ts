// Accessibility checks of the account pages as rendered (labels, names, table headers, ARIA use).
import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import type { User } from "@/api/client";
import { missingKeys } from "@/i18n";
import axe from "axe-core";
import AccountPage from "@/pages/AccountPage.vue";
import NotificationsPage from "@/pages/NotificationsPage.vue";
import UsersPage from "@/pages/UsersPage.vue";
import { serve, mountPage, ALICE, type Handler } from "./support/fakeService";



const ADMIN: User = { id: 1, name: "admin", role: "admin", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };
const everything: Record<string, Handler> = {
  "GET /api/v1/me": () => ({ body: ADMIN }),
  "GET /api/v1/me/ledger": () => ({ body: { entries: [{ id: 3, job_id: 2, kind: "charge", amount: -20, balance_after: 77, created_at: "2026-12-01T02:01:47Z" }], next_cursor: "3" } }),
  "GET /api/v1/me/tokens": () => ({ body: [{ id: 2, name: "default", kind: "api", created_at: "2026-12-01T02:00:26Z", expires_at: null, revoked_at: null }] }),
  "GET /api/v1/notifications": () => ({ body: { notifications: [{ id: 1, job_id: 2, kind: "finished", message: "Job 2 ended", data: {}, created_at: "2026-12-01T02:01:48Z", read_at: null }], next_cursor: "1" } }),
  "GET /api/v1/users": () => ({ body: { users: [ADMIN, ALICE], next_cursor: null } }),
  "POST /api/v1/me/tokens": () => ({
    status: 201,
    body: { id: 9, name: "ci", kind: "api", created_at: "2026-12-01T04:00:00Z", expires_at: null, revoked_at: null, token: "by_x" },
  }),
};

async function violations(): Promise<string[]> {
  const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 160)).join(" | ")}`);
}

let wrapper: VueWrapper | undefined;
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  expect(missingKeys).toEqual([]);
});

describe("axe (structure only: happy-dom computes no colours)", () => {
  it.each([
    ["account", AccountPage],
    ["notifications", NotificationsPage],
    ["users", UsersPage],
  ])("%s page", async (_name, page) => {
    serve(everything);
    wrapper = await mountPage(page, ADMIN);
    expect(await violations()).toEqual([]);
  });

  it("account page with a one-time secret and the revoke dialog open", async () => {
    serve(everything);
    wrapper = await mountPage(AccountPage, ADMIN);
    await wrapper.find('[data-test="token-name"] input').setValue("ci");
    await wrapper.find('[data-test="token-form"]').trigger("submit");
    await flushPromises();
    await wrapper.find('[data-test="token-revoke"]').trigger("click");
    await flushPromises();
    expect(document.querySelector('[data-test="confirm-dialog"]')).not.toBeNull();
    expect(await violations()).toEqual([]);
  });

  it("users page with the editor open, then its review step", async () => {
    serve(everything);
    wrapper = await mountPage(UsersPage, ADMIN);
    await wrapper.findAll('[data-test="user-edit"]')[1]!.trigger("click");
    await flushPromises();
    expect(document.querySelector('[data-test="user-editor"]')).not.toBeNull();
    expect(await violations()).toEqual([]);
    (document.querySelector('[data-test="user-editor-role-admin"] input') as HTMLInputElement).click();
    await flushPromises();
    (document.querySelector('[data-test="user-editor-review"]') as HTMLElement).click();
    await flushPromises();
    expect(document.querySelector('[data-test="user-editor-confirm"]')).not.toBeNull();
    expect(await violations()).toEqual([]);
  });
});
