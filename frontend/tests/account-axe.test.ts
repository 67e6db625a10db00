// Accessibility checks of the account pages as rendered (labels, names, table headers, ARIA use).
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, describe, expect, it, vi } from "vitest";
import { defineComponent, h, type Component } from "vue";
import { createMemoryHistory, createRouter } from "vue-router";
import { configureClient, type User } from "@/api/client";
import { i18n, missingKeys } from "@/i18n";
import axe from "axe-core";
import AccountPage from "@/pages/AccountPage.vue";
import NotificationsPage from "@/pages/NotificationsPage.vue";
import UsersPage from "@/pages/UsersPage.vue";
import { usePrefs } from "@/stores/prefs";
import { useSession } from "@/stores/session";

// openapi-fetch keeps the fetch it finds when the client is made, so the stub must be in place before imports.
const fetchMock = vi.hoisted(() => {
  const mock = vi.fn<(request: Request) => Promise<Response>>();
  vi.stubGlobal("fetch", mock);
  return mock;
});

interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}
type Handler = (sent: Sent) => { status?: number; body?: unknown };

let sent: Sent[] = [];
let routes: Record<string, Handler> = {};

function serve(table: Record<string, Handler>): void {
  routes = table;
  sent = [];
  fetchMock.mockImplementation(async (request: Request) => {
    const url = new URL(request.url);
    const text = await request.clone().text();
    const call: Sent = { method: request.method, path: url.pathname, query: url.searchParams, body: text ? JSON.parse(text) : undefined };
    sent.push(call);
    const handler = routes[`${request.method} ${url.pathname}`];
    if (!handler) return new Response(JSON.stringify({ error: { code: "not_found", message: "no route" } }), { status: 404 });
    const { status = 200, body } = handler(call);
    if (status === 204) return new Response(null, { status });
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
}

const ALICE: User = { id: 2, name: "alice", role: "operator", quota: 78, created_at: "2026-12-01T02:00:26.874202Z", email: null };

async function mountPage(page: Component, user: User): Promise<VueWrapper> {
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
      { path: "/jobs/:id", name: "job", component: blank },
    ],
  });
  await router.push("/");
  await router.isReady();
  const host = defineComponent({ render: () => h(page) });
  const wrapper = mount(host, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body });
  await flushPromises();
  return wrapper;
}


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
