// Who is signed in. The token lives in sessionStorage: it lasts as long as the tab, not the browser.
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { api, settled, unwrap, type User } from "@/api/client";

const TOKEN_KEY = "batchyard.token";

export const useSession = defineStore("session", () => {
  const token = ref<string | null>(sessionStorage.getItem(TOKEN_KEY));
  const user = ref<User | null>(null);

  const signedIn = computed(() => token.value !== null);
  /** A viewer sees jobs but no buttons that change them. */
  const canAct = computed(() => user.value !== null && user.value.role !== "viewer");
  const isAdmin = computed(() => user.value?.role === "admin");

  async function signIn(username: string, password: string): Promise<void> {
    const answer = await unwrap(api.POST("/api/v1/auth/login", { body: { username, password } }));
    token.value = answer.token;
    sessionStorage.setItem(TOKEN_KEY, answer.token);
    user.value = answer.user;
  }

  /** The caller afresh (quota moves with every job); signs out when the token is no longer good. */
  async function refresh(): Promise<void> {
    if (!token.value) return;
    user.value = await unwrap(api.GET("/api/v1/me"));
  }

  /**
   * End the session on the service too (the token stops working everywhere), then here. Call it once the page
   * has been left: it waits for the requests still out, so none comes back refused by the revoked token.
   */
  async function signOut(): Promise<void> {
    const ending = token.value;
    if (!ending) return;
    await settled();
    const headers = { Authorization: `Bearer ${ending}` }; // this token, even if a new sign-in came meanwhile
    await api.POST("/api/v1/auth/logout", { headers }).catch(() => undefined);
    if (token.value === ending) forget();
  }

  function forget(): void {
    token.value = null;
    user.value = null;
    sessionStorage.removeItem(TOKEN_KEY);
  }

  return { token, user, signedIn, canAct, isAdmin, signIn, refresh, signOut, forget };
});
