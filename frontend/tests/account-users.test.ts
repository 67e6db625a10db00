// The users page: admins only, the list, creating a user (checks, the one-time token) and changing one.
import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { User } from "@/api/client";
import { missingKeys } from "@/i18n";
import UsersPage from "@/pages/UsersPage.vue";
import { serve, sent, refusal, mountPage, ALICE, type Handler } from "./support/fakeService";


const ADMIN: User = { id: 1, name: "admin", role: "admin", quota: 0, created_at: "2026-12-01T02:00:26Z", email: null };
const VICTOR: User = { id: 3, name: "victor", role: "viewer", quota: 0, created_at: "2026-12-01T02:00:27Z", email: null };
const EVERYONE = [ADMIN, ALICE, VICTOR];

function admin(extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    "GET /api/v1/me": () => ({ body: ADMIN }),
    "GET /api/v1/users": () => ({ body: { users: EVERYONE, next_cursor: null } }),
    ...extra,
  };
}

function table(wrapper: VueWrapper) {
  return wrapper.findAll('[data-test="user-row"]').map((row) => [
    row.attributes("data-user"),
    row.find('[data-test="user-role"]').text(),
    row.find('[data-test="user-quota"]').text(),
  ]);
}

function field(wrapper: VueWrapper, name: string) {
  return wrapper.find(`[data-test="${name}"] input`);
}

async function submitNewUser(wrapper: VueWrapper): Promise<void> {
  await wrapper.find('[data-test="new-user-form"]').trigger("submit");
  await flushPromises();
}

const created = {
  user: { id: 7, name: "bob", role: "viewer", quota: 25, created_at: "2026-12-01T05:00:00Z", email: null },
  token: {
    id: 30,
    name: "default",
    kind: "api",
    created_at: "2026-12-01T05:00:00Z",
    expires_at: null,
    revoked_at: null,
    token: "by_bobSecretToken",
  },
};

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

describe("users page: who may see it", () => {
  it.each([
    ["an operator", ALICE],
    ["a viewer", VICTOR],
  ])("tells %s it is for admins only and asks the server nothing", async (_who, user) => {
    serve(admin());
    wrapper = await mountPage(UsersPage, user);
    expect(wrapper.find('[data-test="users-admins-only"]').text()).toContain("Admins only");
    expect(wrapper.find('[data-test="users"]').exists()).toBe(false);
    expect(wrapper.find('[data-test="new-user-form"]').exists()).toBe(false);
    expect(sent.filter((s) => s.path.startsWith("/api/v1/users"))).toEqual([]);
  });

  it("shows an admin every user with role and quota", async () => {
    serve(admin());
    wrapper = await mountPage(UsersPage, ADMIN);
    expect(table(wrapper)).toEqual([
      ["admin", "Admin", "0"],
      ["alice", "Operator", "78"],
      ["victor", "Viewer", "0"],
    ]);
  });

  it("pages with the cursor it was given", async () => {
    serve(
      admin({
        "GET /api/v1/users": ({ query }) => ({
          body: query.get("cursor") === "2" ? { users: [VICTOR], next_cursor: null } : { users: [ADMIN, ALICE], next_cursor: "2" },
        }),
      }),
    );
    wrapper = await mountPage(UsersPage, ADMIN);
    expect(table(wrapper).map((r) => r[0])).toEqual(["admin", "alice"]);
    await wrapper.find('[data-test="users-more"]').trigger("click");
    await flushPromises();
    expect(sent.filter((s) => s.path === "/api/v1/users").map((s) => s.query.get("cursor"))).toEqual([null, "2"]);
    expect(table(wrapper).map((r) => r[0])).toEqual(["admin", "alice", "victor"]);
    expect(wrapper.find('[data-test="users-more"]').exists()).toBe(false);
  });

  it("says so when the server cannot list users, and still offers creating one", async () => {
    serve(admin({ "GET /api/v1/users": () => ({ status: 405, body: refusal("method_not_allowed", "Method Not Allowed") }) }));
    wrapper = await mountPage(UsersPage, ADMIN);
    expect(wrapper.find('[data-test="users-unavailable"]').exists()).toBe(true);
    expect(wrapper.find('[data-test="new-user-form"]').exists()).toBe(true);
  });
});

describe("users page: creating a user", () => {
  it("checks the form before sending it", async () => {
    serve(admin());
    wrapper = await mountPage(UsersPage, ADMIN);
    await submitNewUser(wrapper);
    expect(wrapper.find('[data-test="new-user-name-error"]').text()).toBe("Enter a user name.");

    await field(wrapper, "new-user-name").setValue("bob smith");
    await field(wrapper, "new-user-password").setValue("short");
    await submitNewUser(wrapper);
    expect(wrapper.find('[data-test="new-user-name-error"]').text()).toMatch(/no spaces/);
    expect(wrapper.find('[data-test="new-user-password-error"]').text()).toBe("A password needs at least 8 characters.");
    expect(sent.some((s) => s.method === "POST")).toBe(false);
  });

  it("sends name, role, quota and password, then shows the new token once", async () => {
    serve(admin({ "POST /api/v1/users": () => ({ status: 201, body: created }) }));
    wrapper = await mountPage(UsersPage, ADMIN);
    await field(wrapper, "new-user-name").setValue("bob");
    await wrapper.find('[data-test="new-user-role-viewer"] input').setValue(true);
    await field(wrapper, "new-user-quota").setValue("25");
    await field(wrapper, "new-user-password").setValue("correct horse");
    await submitNewUser(wrapper);

    expect(sent.find((s) => s.method === "POST")?.body).toEqual({
      name: "bob",
      role: "viewer",
      quota: 25,
      password: "correct horse",
    });
    const secret = wrapper.find('[data-test="one-time-secret"]');
    expect(secret.text()).toContain("User “bob” created");
    expect(secret.find('[data-test="secret-warning"]').text()).toMatch(/only this once/);
    expect(secret.find('[data-test="secret-value"] input').element).toHaveProperty("value", "by_bobSecretToken");
    expect(table(wrapper).map((r) => r[0])).toContain("bob");
    // The form is empty again, ready for the next user; the secret goes when dismissed.
    expect(field(wrapper, "new-user-name").element).toHaveProperty("value", "");
    await secret.find('[data-test="secret-done"]').trigger("click");
    expect(wrapper.html()).not.toContain("by_bobSecretToken");
  });

  it("leaves the password out when none is given, and shows the server's refusal", async () => {
    serve(
      admin({
        "POST /api/v1/users": () => ({ status: 409, body: refusal("user_exists", "A user named 'alice' already exists.") }),
      }),
    );
    wrapper = await mountPage(UsersPage, ADMIN);
    await field(wrapper, "new-user-name").setValue("alice");
    await submitNewUser(wrapper);
    expect(sent.find((s) => s.method === "POST")?.body).toEqual({ name: "alice", role: "operator", quota: 0 });
    expect(wrapper.find('[data-test="new-user-error"]').text()).toContain("already exists");
    expect(wrapper.find('[data-test="one-time-secret"]').exists()).toBe(false);
  });
});

describe("users page: changing a user", () => {
  async function openEditor(name: string): Promise<void> {
    const row = wrapper!.findAll('[data-test="user-row"]').find((r) => r.attributes("data-user") === name)!;
    await row.find('[data-test="user-edit"]').trigger("click");
    await flushPromises();
  }
  const inDialog = (hook: string) => document.querySelector<HTMLElement>(`[data-test="${hook}"]`);
  async function click(hook: string): Promise<void> {
    inDialog(hook)!.click();
    await flushPromises();
  }
  async function type(hook: string, value: string): Promise<void> {
    const input = inDialog(hook)!.querySelector("input")!;
    input.value = value;
    input.dispatchEvent(new Event("input"));
    await flushPromises();
  }

  it("shows what will change and sends only that after the confirmation", async () => {
    serve(admin({ "PATCH /api/v1/users/2": () => ({ body: { ...ALICE, role: "admin", quota: 500 } }) }));
    wrapper = await mountPage(UsersPage, ADMIN);
    await openEditor("alice");
    (inDialog("user-editor-role-admin")!.querySelector("input") as HTMLInputElement).click();
    await type("user-editor-quota", "500");
    await click("user-editor-review");

    expect(inDialog("user-editor-role-line")?.textContent).toContain("Operator → Admin");
    expect(inDialog("user-editor-quota-line")?.textContent).toContain("78 → 500");
    expect(sent.some((s) => s.method === "PATCH")).toBe(false);

    await click("user-editor-apply");
    expect(sent.find((s) => s.method === "PATCH")?.body).toEqual({ role: "admin", quota: 500 });
    expect(table(wrapper).find((r) => r[0] === "alice")).toEqual(["alice", "Admin", "500"]);
    expect(wrapper.find('[data-test="users-notice"]').text()).toBe("alice updated.");
  });

  it("says when nothing changed, and shows the server's refusal in the confirmation", async () => {
    serve(
      admin({ "PATCH /api/v1/users/3": () => ({ status: 422, body: refusal("invalid_params", "The quota is too large.") }) }),
    );
    wrapper = await mountPage(UsersPage, ADMIN);
    await openEditor("victor");
    await click("user-editor-review");
    expect(inDialog("user-editor-note")?.textContent).toBe("Nothing has changed.");

    await type("user-editor-quota", "10");
    await click("user-editor-review");
    expect(inDialog("user-editor-role-line")).toBeNull();
    await click("user-editor-apply");
    expect(sent.find((s) => s.method === "PATCH")?.body).toEqual({ quota: 10 });
    expect(inDialog("user-editor-error")?.textContent).toContain("The quota is too large.");
    expect(table(wrapper).find((r) => r[0] === "victor")).toEqual(["victor", "Viewer", "0"]);
  });
});
