// Sign-out revokes the token only once the requests already sent have been answered: one answered after the
// revocation would come back refused, and the page would treat the user as thrown out.
import { flushPromises, mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { defineComponent, h } from "vue";
import { createMemoryHistory, createRouter } from "vue-router";
import { api, configureClient, settled } from "@/api/client";
import AppShell from "@/components/AppShell.vue";
import { i18n } from "@/i18n";
import { useSession } from "@/stores/session";
import { ALICE, fetchMock, sent, serve } from "./support/fakeService";

describe("sign-out", () => {
  let order: string[];
  let answerJob: () => void;

  beforeEach(() => {
    setActivePinia(createPinia());
    order = [];
    fetchMock.mockImplementation(async (request: Request) => {
      const path = new URL(request.url).pathname;
      order.push(`sent ${request.method} ${path}`);
      if (path === "/api/v1/jobs/24") await new Promise<void>((resolve) => (answerJob = resolve));
      order.push(`answered ${request.method} ${path}`);
      return new Response(JSON.stringify({}), { status: 200, headers: { "Content-Type": "application/json" } });
    });
  });

  it("waits for a request still out before revoking the token", async () => {
    const session = useSession();
    session.token = "tok";
    configureClient({ token: () => session.token, language: () => "en", signedOut: () => undefined });
    const job = api.GET("/api/v1/jobs/{job_id}", { params: { path: { job_id: 24 } } });
    const leaving = session.signOut();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual(["sent GET /api/v1/jobs/24"]);
    expect(session.token).toBe("tok");
    answerJob();
    await job;
    await leaving;
    expect(order).toEqual([
      "sent GET /api/v1/jobs/24",
      "answered GET /api/v1/jobs/24",
      "sent POST /api/v1/auth/logout",
      "answered POST /api/v1/auth/logout",
    ]);
    expect(session.token).toBeNull();
  });

  it("does not wait for a request that failed", async () => {
    const session = useSession();
    session.token = "tok";
    configureClient({ token: () => session.token, language: () => "en", signedOut: () => undefined });
    fetchMock.mockImplementationOnce(async () => {
      throw new TypeError("network down");
    });
    await expect(api.GET("/api/v1/me")).rejects.toThrow("network down");
    const macrotask = new Promise((resolve) => setTimeout(() => resolve("still waiting"), 0));
    expect(await Promise.race([settled().then(() => "idle"), macrotask])).toBe("idle");
    await session.signOut();
    expect(order).toEqual(["sent POST /api/v1/auth/logout", "answered POST /api/v1/auth/logout"]);
    expect(session.token).toBeNull();
  });
});

describe("sign-out and a new sign-in meanwhile", () => {
  let logouts: string[];
  let answerJob: () => void;

  beforeEach(() => {
    setActivePinia(createPinia());
    logouts = [];
    fetchMock.mockImplementation(async (request: Request) => {
      const path = new URL(request.url).pathname;
      if (path === "/api/v1/jobs/24") await new Promise<void>((resolve) => (answerJob = resolve));
      if (path === "/api/v1/auth/logout") {
        logouts.push(request.headers.get("Authorization") ?? "");
        return new Response(null, { status: 204 });
      }
      if (path === "/api/v1/auth/login") {
        const body = { token: "bob-token", expires_at: "2026-12-02T00:00:00Z", user: { ...ALICE, name: "bob" } };
        return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
      }
      return new Response(JSON.stringify({}), { status: 200, headers: { "Content-Type": "application/json" } });
    });
  });

  it("ends the token it was asked to end and keeps the new one", async () => {
    const session = useSession();
    session.token = "alice-token";
    configureClient({ token: () => session.token, language: () => "en", signedOut: () => undefined });
    const job = api.GET("/api/v1/jobs/{job_id}", { params: { path: { job_id: 24 } } });
    const leaving = session.signOut(); // the sign-in page is already shown
    await session.signIn("bob", "pw");
    answerJob();
    await job;
    await leaving;
    expect(logouts).toEqual(["Bearer alice-token"]);
    expect(session.token).toBe("bob-token");
  });

  it("a 401 for a token the tab no longer holds does not sign the new one out", async () => {
    const session = useSession();
    session.token = "bob-token";
    const signedOut = vi.fn();
    configureClient({ token: () => session.token, language: () => "en", signedOut });
    fetchMock.mockImplementation(async () => new Response(JSON.stringify({}), { status: 401 }));
    await api.GET("/api/v1/me", { headers: { Authorization: "Bearer alice-token" } });
    expect(signedOut).not.toHaveBeenCalled();
    await api.GET("/api/v1/me");
    expect(signedOut).toHaveBeenCalledOnce();
  });
});

describe("sign-out from the shell", () => {
  it("still ends the session when the sign-in page's code cannot be loaded (an upgrade replaced it)", async () => {
    serve({
      "GET /api/v1/notifications": () => ({ body: { notifications: [], next_cursor: null } }),
      "POST /api/v1/auth/logout": () => ({ status: 204 }),
    });
    const pinia = createPinia();
    setActivePinia(pinia);
    const session = useSession();
    session.token = "tok";
    session.user = ALICE;
    i18n.global.locale.value = "en";
    configureClient({ token: () => session.token, language: () => "en", signedOut: () => undefined });
    const blank = { render: () => null };
    const gone = () => Promise.reject(new TypeError("Failed to fetch dynamically imported module"));
    const names = ["new-job", "sync", "bulk", "schedules", "account", "users", "notifications"];
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [
        { path: "/", name: "jobs", component: blank },
        { path: "/sign-in", name: "sign-in", component: gone },
        ...names.map((name) => ({ path: `/${name}`, name, component: blank })),
      ],
    });
    router.onError(() => undefined);
    await router.push("/");
    await router.isReady();
    const wrapper = mount(defineComponent({ render: () => h(AppShell) }), {
      global: { plugins: [pinia, i18n, router] },
      attachTo: document.body,
    });
    await flushPromises();
    await wrapper.get('[data-test="sign-out"]').trigger("click");
    await vi.waitFor(() => expect(session.token).toBeNull());
    expect(sent.map((s) => `${s.method} ${s.path}`)).toContain("POST /api/v1/auth/logout");
    wrapper.unmount();
  });
});

describe("a refused token", () => {
  it("leads to a sign-in that comes back to the page, and from the sign-in page itself stays there", async () => {
    setActivePinia(createPinia());
    const { router, signedOutHere } = await import("@/router");
    const session = useSession();
    session.token = "dead";
    await router.push("/schedules");
    signedOutHere();
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe("/sign-in?next=/schedules"));
    expect(session.token).toBeNull();
    session.token = "dead too";
    signedOutHere();
    await flushPromises();
    expect(router.currentRoute.value.fullPath).toBe("/sign-in?next=/schedules");
    expect(session.token).toBeNull();
  });
});
