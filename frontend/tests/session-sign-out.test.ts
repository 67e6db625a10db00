// Sign-out revokes the token only once the requests already sent have been answered: one answered after the
// revocation would come back refused, and the page would treat the user as thrown out.
import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it } from "vitest";
import { api, configureClient, settled } from "@/api/client";
import { useSession } from "@/stores/session";
import { fetchMock } from "./support/fakeService";

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
