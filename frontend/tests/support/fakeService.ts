// The service as a page test sees it: a table of routes answering the requests the page sends (recorded to check
// what it asked), and the page mounted signed in, in English, in UTC, with a router that knows the job page.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import type { Mock } from "vitest";
import { defineComponent, h, type Component } from "vue";
import { createMemoryHistory, createRouter } from "vue-router";
import { configureClient, type User } from "@/api/client";
import { i18n } from "@/i18n";
import { usePrefs } from "@/stores/prefs";
import { useSession } from "@/stores/session";

export interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}
export type Handler = (sent: Sent) => { status?: number; body?: unknown };

export const fetchMock = globalThis.fetch as Mock<(request: Request) => Promise<Response>>;
export let sent: Sent[] = [];

/** Answer requests from `table` ("GET /api/v1/me" → handler); anything else is a 404 in the error envelope. */
export function serve(table: Record<string, Handler>): void {
  sent = [];
  fetchMock.mockImplementation(async (request: Request) => {
    const url = new URL(request.url);
    const text = await request.clone().text();
    const call: Sent = {
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      body: text ? JSON.parse(text) : undefined,
    };
    sent.push(call);
    const handler = table[`${request.method} ${url.pathname}`];
    if (!handler) return new Response(JSON.stringify({ error: { code: "not_found", message: "no route" } }), { status: 404 });
    const { status = 200, body } = handler(call);
    if (status === 204) return new Response(null, { status });
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
}

export const ALICE: User = {
  id: 2,
  name: "alice",
  role: "operator",
  quota: 78,
  created_at: "2026-12-01T02:00:26.874202Z",
  email: null,
};

export function refusal(code: string, message: string) {
  return { error: { code, message, details: {} } };
}

export async function mountPage(page: Component, user: User): Promise<VueWrapper> {
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
