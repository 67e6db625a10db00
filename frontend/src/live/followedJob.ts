// One job followed live by a panel (a date-range sync, a bulk update): read once, then again as its events
// arrive (folded into one read every READ_MS), until it ends; a job that cannot be had at all says why.
import { computed, onBeforeUnmount, ref, shallowRef, watch, type ComputedRef, type Ref, type ShallowRef } from "vue";
import { useI18n } from "vue-i18n";
import { api, ApiError, unwrap, type Job } from "@/api/client";
import { follow, type Live } from "@/live/events";

const ACTIVE = new Set(["pending", "running", "paused", "cancelling"]);
/** Events may come one per committed chunk or faster: they are folded into one read of the job at most this often. */
export const READ_MS = 300;

export interface FollowedJob {
  job: Ref<Job | null>;
  error: Ref<string | null>;
  finished: ComputedRef<boolean>;
  /** The event stream while the job runs (its freshness for an "updated … ago"); null once it has ended. */
  live: Readonly<ShallowRef<Live | null>>;
  /** Read the job again now (after an action on it). */
  reload: () => Promise<void>;
}

export function useFollowedJob(jobId: () => number, onFinished?: (job: Job) => void): FollowedJob {
  const { t } = useI18n();
  const job = ref<Job | null>(null);
  const error = ref<string | null>(null);
  const live = shallowRef<Live | null>(null);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let disposed = false;
  const finished = computed(() => job.value !== null && !ACTIVE.has(job.value.status));

  function stopLive(): void {
    live.value?.stop();
    live.value = null;
  }

  async function readJob(): Promise<void> {
    const id = jobId();
    try {
      const answer = await unwrap(api.GET("/api/v1/jobs/{job_id}", { params: { path: { job_id: id } } }));
      if (disposed || id !== jobId()) return;
      job.value = answer;
      error.value = null;
    } catch (cause) {
      if (disposed || id !== jobId()) return;
      // a passing failure keeps what is shown; a job that cannot be had at all says why
      if (job.value === null || (cause instanceof ApiError && [403, 404].includes(cause.status))) {
        error.value = cause instanceof ApiError ? cause.message : t("common.networkError");
        stopLive();
      }
    }
  }

  function soon(): void {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      void readJob();
    }, READ_MS);
  }

  async function start(): Promise<void> {
    stopLive();
    job.value = null;
    error.value = null;
    const id = jobId();
    await readJob();
    if (disposed || id !== jobId() || job.value === null || finished.value) return;
    live.value = follow({ path: `/jobs/${id}/events`, onEvent: soon, poll: readJob });
  }

  watch(jobId, () => void start(), { immediate: true });
  // once it has ended there is nothing more to hear
  watch(finished, (now, before) => {
    if (!now || job.value === null) return;
    stopLive();
    if (before === false) onFinished?.(job.value);
  });
  onBeforeUnmount(() => {
    disposed = true;
    stopLive();
    if (timer !== null) clearTimeout(timer);
  });
  return { job, error, finished, live, reload: readJob };
}
