// The account page: balance, the ledger (signs, kinds, job links, paging by cursor), tokens and e-mail.
import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { missingKeys } from "@/i18n";
import AccountPage from "@/pages/AccountPage.vue";
import { serve, sent, refusal, mountPage, ALICE, type Handler } from "./support/fakeService";


const ledgerPage1 = {
  entries: [
    { id: 9, job_id: null, kind: "set", amount: 50, balance_after: 128, created_at: "2026-12-01T03:00:00Z" },
    { id: 4, job_id: 2, kind: "refund", amount: 1, balance_after: 78, created_at: "2026-12-01T02:01:48.367438Z" },
    { id: 3, job_id: 2, kind: "charge", amount: -20, balance_after: 77, created_at: "2026-12-01T02:01:47.344898Z" },
  ],
  next_cursor: "3",
};
const ledgerPage2 = {
  entries: [
    { id: 2, job_id: 1, kind: "bonus", amount: 0, balance_after: 97, created_at: "2026-12-01T02:01:34.786912Z" },
    { id: 1, job_id: null, kind: "grant", amount: 100, balance_after: 100, created_at: "2026-12-01T02:00:26.875707Z" },
  ],
  next_cursor: null,
};

function baseRoutes(extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    "GET /api/v1/me": () => ({ body: ALICE }),
    "GET /api/v1/me/ledger": ({ query }) => ({ body: query.get("cursor") === "3" ? ledgerPage2 : ledgerPage1 }),
    "GET /api/v1/me/tokens": () => ({
      body: [
        { id: 2, name: "default", kind: "api", created_at: "2026-12-01T02:00:26Z", expires_at: null, revoked_at: null },
        { id: 5, name: "nightly", kind: "api", created_at: "2026-12-01T02:10:00Z", expires_at: null, revoked_at: null },
        { id: 3, name: "old", kind: "api", created_at: "2026-11-01T02:00:00Z", expires_at: null, revoked_at: "2026-11-02T00:00:00Z" },
      ],
    }),
    ...extra,
  };
}

function rows(wrapper: VueWrapper) {
  return wrapper.findAll('[data-test="ledger-row"]').map((row) => ({
    kind: row.find('[data-test="ledger-kind"]').text(),
    amount: row.find('[data-test="ledger-amount"]').text(),
    balance: row.find('[data-test="ledger-balance"]').text(),
    job: row.find('[data-test="ledger-job"]').exists() ? row.find('[data-test="ledger-job"]').attributes("href") : null,
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

describe("account page: balance and ledger", () => {
  it("shows the balance from /me", async () => {
    serve(baseRoutes({ "GET /api/v1/me": () => ({ body: { ...ALICE, quota: 1234 } }) }));
    wrapper = await mountPage(AccountPage, ALICE);
    expect(wrapper.find('[data-test="quota-balance"]').text()).toBe("1,234");
    expect(sent.some((s) => s.method === "GET" && s.path === "/api/v1/me")).toBe(true);
  });

  it("writes each amount with its sign, translates known kinds and links entries to their job", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(AccountPage, ALICE);
    expect(rows(wrapper)).toEqual([
      { kind: "Set by an administrator", amount: "+50", balance: "128", job: null },
      { kind: "Refund", amount: "+1", balance: "78", job: "/jobs/2" },
      { kind: "Charge", amount: "-20", balance: "77", job: "/jobs/2" },
    ]);
  });

  it("loads the next page with the cursor it was given, and stops when there is none", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(AccountPage, ALICE);
    const first = sent.filter((s) => s.path === "/api/v1/me/ledger");
    expect(first).toHaveLength(1);
    expect(first[0]!.query.get("cursor")).toBeNull();

    await wrapper.find('[data-test="ledger-more"]').trigger("click");
    await flushPromises();

    const ledgerCalls = sent.filter((s) => s.path === "/api/v1/me/ledger");
    expect(ledgerCalls).toHaveLength(2);
    expect(ledgerCalls[1]!.query.get("cursor")).toBe("3");
    // Appended, not replaced; an unknown kind is shown as it is, a zero amount without a sign.
    expect(rows(wrapper).map((r) => [r.kind, r.amount])).toEqual([
      ["Set by an administrator", "+50"],
      ["Refund", "+1"],
      ["Charge", "-20"],
      ["bonus", "0"],
      ["Starting balance", "+100"],
    ]);
    expect(wrapper.find('[data-test="ledger-more"]').exists()).toBe(false);
  });

  it("shows the server's message when the ledger cannot be read", async () => {
    serve(baseRoutes({ "GET /api/v1/me/ledger": () => ({ status: 503, body: refusal("unavailable", "The database is busy.") }) }));
    wrapper = await mountPage(AccountPage, ALICE);
    expect(wrapper.find('[data-test="ledger-error"]').text()).toContain("The database is busy.");
  });
});

describe("account page: API tokens", () => {
  it("shows a new token's secret once, with the warning and a copy button, and never keeps it", async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    serve(
      baseRoutes({
        "POST /api/v1/me/tokens": ({ body }) => ({
          status: 201,
          body: {
            id: 8,
            name: (body as { name: string }).name,
            kind: "api",
            created_at: "2026-12-01T04:00:00Z",
            expires_at: null,
            revoked_at: null,
            token: "by_SECRETsecret123",
          },
        }),
      }),
    );
    wrapper = await mountPage(AccountPage, ALICE);
    await wrapper.find('[data-test="token-name"] input').setValue("  ci-runner ");
    await wrapper.find('[data-test="token-form"]').trigger("submit");
    await flushPromises();

    const post = sent.find((s) => s.method === "POST" && s.path === "/api/v1/me/tokens");
    expect(post?.body).toEqual({ name: "ci-runner" });
    const secret = wrapper.find('[data-test="one-time-secret"]');
    expect(secret.find('[data-test="secret-value"] input').element).toHaveProperty("value", "by_SECRETsecret123");
    expect(secret.find('[data-test="secret-warning"]').text()).toMatch(/only this once/);
    expect(wrapper.findAll('[data-test="token-row"]').map((r) => r.text()).join()).toContain("ci-runner");

    await secret.find('[data-test="secret-copy"]').trigger("click");
    await flushPromises();
    expect(writeText).toHaveBeenCalledWith("by_SECRETsecret123");
    expect(secret.find('[data-test="secret-copy"]').text()).toBe("Copied");

    await secret.find('[data-test="secret-done"]').trigger("click");
    expect(wrapper.find('[data-test="one-time-secret"]').exists()).toBe(false);
    expect(wrapper.html()).not.toContain("by_SECRETsecret123");
  });

  it("asks for a name before sending anything", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(AccountPage, ALICE);
    await wrapper.find('[data-test="token-form"]').trigger("submit");
    await flushPromises();
    expect(wrapper.find('[data-test="token-error"]').text()).toBe("Give the token a name.");
    expect(sent.some((s) => s.method === "POST")).toBe(false);
  });

  it("revokes a token only after the confirmation, and offers no revoke for a revoked one", async () => {
    serve(baseRoutes({ "DELETE /api/v1/me/tokens/5": () => ({ status: 204 }) }));
    wrapper = await mountPage(AccountPage, ALICE);
    const rowsNow = wrapper.findAll('[data-test="token-row"]');
    expect(rowsNow.map((r) => r.attributes("data-state"))).toEqual(["active", "active", "revoked"]);
    expect(rowsNow[2]!.find('[data-test="token-revoke"]').exists()).toBe(false);

    // Newest live token first: "nightly" (id 5).
    await rowsNow[0]!.find('[data-test="token-revoke"]').trigger("click");
    await flushPromises();
    const dialog = document.querySelector('[data-test="confirm-dialog"]');
    expect(dialog?.textContent).toContain("nightly");
    expect(sent.some((s) => s.method === "DELETE")).toBe(false);

    (document.querySelector('[data-test="confirm-ok"]') as HTMLButtonElement).click();
    await flushPromises();
    expect(sent.filter((s) => s.method === "DELETE").map((s) => s.path)).toEqual(["/api/v1/me/tokens/5"]);
    expect(wrapper.find('[data-test="token-notice"]').text()).toContain("nightly");
  });

  it("keeps the dialog open with the server's refusal when revoking fails", async () => {
    serve(
      baseRoutes({ "DELETE /api/v1/me/tokens/5": () => ({ status: 404, body: refusal("token_not_found", "You have no token 5.") }) }),
    );
    wrapper = await mountPage(AccountPage, ALICE);
    await wrapper.findAll('[data-test="token-revoke"]')[0]!.trigger("click");
    await flushPromises();
    (document.querySelector('[data-test="confirm-ok"]') as HTMLButtonElement).click();
    await flushPromises();
    expect(document.querySelector('[data-test="confirm-error"]')?.textContent).toContain("You have no token 5.");
  });
});

describe("account page: e-mail", () => {
  it("sends the address and shows the server's refusal", async () => {
    serve(
      baseRoutes({
        "PATCH /api/v1/me": () => ({ status: 422, body: refusal("email_not_configured", "This server sends no e-mail.") }),
      }),
    );
    wrapper = await mountPage(AccountPage, ALICE);
    await wrapper.find('[data-test="email-input"] input').setValue("alice@example.com");
    await wrapper.find('[data-test="email-form"]').trigger("submit");
    await flushPromises();
    expect(sent.find((s) => s.method === "PATCH")?.body).toEqual({ email: "alice@example.com" });
    expect(wrapper.find('[data-test="email-error"]').text()).toContain("This server sends no e-mail.");
  });

  it("does not send an address that is plainly not one", async () => {
    serve(baseRoutes());
    wrapper = await mountPage(AccountPage, ALICE);
    await wrapper.find('[data-test="email-input"] input').setValue("alice at example");
    await wrapper.find('[data-test="email-form"]').trigger("submit");
    await flushPromises();
    expect(sent.some((s) => s.method === "PATCH")).toBe(false);
    expect(wrapper.find('[data-test="email-error"]').exists()).toBe(true);
  });
});
