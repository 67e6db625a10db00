// Every text the app shows, in zh-CN (the default) and en. Each area keeps its messages in one file under
// messages/, both languages side by side; a unit test holds the two to the same keys, and a key missing at run
// time is recorded in `missingKeys` (the browser tests read it from `window.__batchyardMissingKeys`).
import { createI18n } from "vue-i18n";
import account from "./messages/account";
import bulk from "./messages/bulk";
import common from "./messages/common";
import job from "./messages/job";
import jobs from "./messages/jobs";
import migrate from "./messages/migrate";
import schedules from "./messages/schedules";
import shell from "./messages/shell";
import submit from "./messages/submit";
import sync from "./messages/sync";

export interface Messages {
  [key: string]: string | Messages;
}
export interface Area {
  en: Messages;
  "zh-CN": Messages;
}

export const AREAS: Record<string, Area> = { account, bulk, common, job, jobs, migrate, schedules, shell, submit, sync };

export function messagesFor(locale: "en" | "zh-CN"): Messages {
  return Object.fromEntries(Object.entries(AREAS).map(([name, area]) => [name, area[locale]])) as Messages;
}

export const missingKeys: string[] = [];
(globalThis as { __batchyardMissingKeys?: string[] }).__batchyardMissingKeys = missingKeys;

const options = {
  legacy: false as const,
  locale: "zh-CN",
  fallbackLocale: "en",
  messages: { en: messagesFor("en"), "zh-CN": messagesFor("zh-CN") },
  missingWarn: false,
  fallbackWarn: false,
  missing: (locale: string, key: string) => {
    missingKeys.push(`${locale}:${key}`);
    return key;
  },
};

export const i18n = createI18n<false, typeof options>(options);
