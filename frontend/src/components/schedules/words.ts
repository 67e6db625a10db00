// How the schedule pages name a schedule's settings: its job type's title, its policies, its cron in words,
// and its next run in the viewer's zone with the schedule's own zone beside it when they differ.
import { useI18n } from "vue-i18n";
import { useJobTypes } from "@/stores/jobTypes";
import { usePrefs } from "@/stores/prefs";
import { describeCron } from "./cron";
import { formatZoned, missedFormOf, type Schedule } from "./policies";

export function useScheduleWords() {
  const { t, locale } = useI18n();
  const jobTypes = useJobTypes();
  const prefs = usePrefs();

  function typeTitle(name: string): string {
    return jobTypes.byName[name]?.title ?? name;
  }

  function overlapLabel(overlap: Schedule["overlap"]): string {
    return t(`schedules.overlap.${overlap}.label`);
  }

  function missedLabel(missed: Schedule["missed"]): string {
    const form = missedFormOf(missed);
    if (form.kind === "catch_up_all") {
      const hours = Math.round((form.windowHours ?? 0) * 100) / 100;
      return t("schedules.missed.summary", { hours, max: form.max ?? 0 });
    }
    return t(`schedules.missed.${form.kind}.label`);
  }

  function cronText(cron: string): string {
    return describeCron(cron, locale.value);
  }

  /** The next run in the viewer's zone; and in the schedule's own, when that is another. */
  function nextRun(schedule: Schedule): { viewer: string; own: string | null } | null {
    const first = schedule.next[0];
    if (!first) return null;
    const viewer = formatZoned(first, prefs.timeZone, prefs.locale);
    if (schedule.timezone === prefs.timeZone) return { viewer, own: null };
    const own = t("schedules.next.inZone", { time: formatZoned(first, schedule.timezone, prefs.locale, false), zone: schedule.timezone });
    return { viewer, own };
  }

  return { typeTitle, overlapLabel, missedLabel, cronText, nextRun };
}
