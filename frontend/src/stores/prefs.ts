// The viewer's choices, kept in this browser: language, time zone (times are stored in UTC and shown in it)
// and light or dark.
import { defineStore } from "pinia";
import { ref, watch } from "vue";

export type Locale = "zh-CN" | "en";
export type Theme = "light" | "dark";
export const LOCALES: Locale[] = ["zh-CN", "en"];

const KEY = "batchyard.prefs";

interface Saved {
  locale?: Locale;
  timeZone?: string;
  theme?: Theme;
}

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function load(): Saved {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "{}") as Saved;
  } catch {
    return {};
  }
}

function initialLocale(saved: Saved): Locale {
  if (saved.locale && LOCALES.includes(saved.locale)) return saved.locale;
  return navigator.language.toLowerCase().startsWith("zh") || !navigator.language ? "zh-CN" : "en";
}

function initialTheme(saved: Saved): Theme {
  if (saved.theme === "light" || saved.theme === "dark") return saved.theme;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export const usePrefs = defineStore("prefs", () => {
  const saved = load();
  const locale = ref<Locale>(initialLocale(saved));
  const timeZone = ref(saved.timeZone && isTimeZone(saved.timeZone) ? saved.timeZone : browserTimeZone());
  const theme = ref<Theme>(initialTheme(saved));

  watch([locale, timeZone, theme], () => {
    const next: Saved = { locale: locale.value, timeZone: timeZone.value, theme: theme.value };
    localStorage.setItem(KEY, JSON.stringify(next));
    document.documentElement.lang = locale.value;
    document.documentElement.dataset.theme = theme.value;
  }, { immediate: true });

  return { locale, timeZone, theme };
});
