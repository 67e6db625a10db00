import { createPinia } from "pinia";
import { createApp, watch } from "vue";
import App from "./App.vue";
import { configureClient } from "./api/client";
import { i18n } from "./i18n";
import { router, signedOutHere } from "./router";
import { usePrefs } from "./stores/prefs";
import { useSession } from "./stores/session";

const app = createApp(App);
app.use(createPinia());
app.use(i18n);
app.use(router);

const prefs = usePrefs();
const session = useSession();
watch(
  () => prefs.locale,
  (locale) => {
    i18n.global.locale.value = locale;
  },
  { immediate: true },
);
configureClient({
  token: () => session.token,
  language: () => prefs.locale,
  signedOut: signedOutHere,
});
if (session.signedIn) void session.refresh().catch(() => undefined);
// Mount once the first route is known: before that every route looks like a signed-in page, and the frame would
// ask for the inbox without a token.
void router.isReady().then(() => app.mount("#app"));
