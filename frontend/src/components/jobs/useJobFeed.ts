// The task list's data: pages of jobs read with the service's cursor, kept fresh by live events without moving
// what the viewer is looking at — shown rows change in place, newer jobs are only counted (for the banner).
import { ref, shallowRef, type Ref, type ShallowRef } from "vue";
import { api, ApiError, unwrap, type Job, type Schemas } from "@/api/client";
import type { LiveEvent } from "@/live/events";
import { newJobMayMatch, type Selection } from "./filters";

type JobPage = Schemas["JobPage"];

export interface FeedOptions {
  /** The filter as the service takes it, read afresh on every request. */
  selection(): Selection;
  pageSize?: number;
  /** How long changes to shown rows gather before they are read again. */
  flushMs?: number;
  /** How often, at most, the first page is read again to count new jobs. */
  headMs?: number;
}

export interface JobFeed {
  jobs: ShallowRef<Job[]>;
  nextCursor: Ref<string | null>;
  loading: Ref<boolean>;
  loadingMore: Ref<boolean>;
  /** Why the first page could not be had (the list is then empty). */
  error: Ref<unknown>;
  /** Why the next page could not be had (the rows shown stay). */
  moreError: Ref<unknown>;
  /** Jobs newer than the newest shown that match the filter, not yet shown. */
  newCount: Ref<number>;
  /** There are at least `newCount` new jobs (more than one page of them). */
  newSaturated: Ref<boolean>;
  reload(): Promise<void>;
  loadMore(): Promise<void>;
  onEvent(event: LiveEvent): void;
  poll(): Promise<void>;
  /** Read these shown jobs again now (after acting on them). */
  refreshJobs(ids: number[]): Promise<void>;
  dispose(): void;
  newestShown(): number | null;
}

const MAX_READS_PER_FLUSH = 50;
const PARALLEL_READS = 4;

export function useJobFeed(options: FeedOptions): JobFeed {
  const pageSize = options.pageSize ?? 100;
  const flushMs = options.flushMs ?? 1000;
  const headMs = options.headMs ?? 2000;

  const jobs = shallowRef<Job[]>([]);
  const nextCursor = ref<string | null>(null);
  const loading = ref(false);
  const loadingMore = ref(false);
  const error = ref<unknown>(null);
  const moreError = ref<unknown>(null);
  const newCount = ref(0);
  const newSaturated = ref(false);

  /** Bumped on every fresh start: answers to older requests are dropped. */
  let generation = 0;
  let newest = 0;
  /** Jobs an event named while the list was being read: the page may predate the event, so they are read again. */
  const heardWhileLoading = new Set<number>();
  let positions = new Map<number, number>();
  const dirty = new Set<number>();
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  let flushing = false;
  let headTimer: ReturnType<typeof setTimeout> | null = null;
  let disposed = false;

  function show(next: Job[]): void {
    jobs.value = next;
    positions = new Map(next.map((job, index) => [job.id, index]));
  }

  function page(cursor: string | null): Promise<JobPage> {
    const query = { ...options.selection(), limit: pageSize, ...(cursor ? { cursor } : {}) };
    return unwrap(api.GET("/api/v1/jobs", { params: { query } }));
  }

  function clearTimers(): void {
    if (flushTimer !== null) clearTimeout(flushTimer);
    if (headTimer !== null) clearTimeout(headTimer);
    flushTimer = null;
    headTimer = null;
  }

  async function reload(): Promise<void> {
    const mine = ++generation;
    clearTimers();
    dirty.clear();
    loading.value = true;
    error.value = null;
    moreError.value = null;
    heardWhileLoading.clear();
    try {
      const first = await page(null);
      if (mine !== generation) return;
      show(first.jobs);
      nextCursor.value = first.next_cursor;
      newest = first.jobs.reduce((max, job) => Math.max(max, job.id), 0);
      newCount.value = 0;
      newSaturated.value = false;
      for (const id of heardWhileLoading) if (positions.has(id)) dirty.add(id);
      heardWhileLoading.clear();
      if (dirty.size) scheduleFlush();
    } catch (caught) {
      if (mine !== generation) return;
      show([]);
      nextCursor.value = null;
      error.value = caught;
    } finally {
      if (mine === generation) loading.value = false;
    }
  }

  async function loadMore(): Promise<void> {
    const cursor = nextCursor.value;
    if (!cursor || loading.value || loadingMore.value) return;
    const mine = generation;
    loadingMore.value = true;
    moreError.value = null;
    try {
      const more = await page(cursor);
      if (mine !== generation) return;
      const fresh = more.jobs.filter((job) => !positions.has(job.id));
      show([...jobs.value, ...fresh]);
      nextCursor.value = more.next_cursor;
    } catch (caught) {
      if (mine === generation) moreError.value = caught;
    } finally {
      if (mine === generation) loadingMore.value = false;
    }
  }

  /** Put re-read jobs in their rows and drop the rows of jobs that are gone. */
  function apply(updated: Job[], gone: number[] = []): void {
    if (!updated.length && !gone.length) return;
    const next = jobs.value.slice();
    let changed = false;
    for (const job of updated) {
      const at = positions.get(job.id);
      if (at !== undefined && next[at] !== job) {
        next[at] = job;
        changed = true;
      }
    }
    const drop = new Set(gone.filter((id) => positions.has(id)));
    if (drop.size || changed) show(drop.size ? next.filter((job) => !drop.has(job.id)) : next);
  }

  async function readJobs(ids: number[]): Promise<{ jobs: Job[]; gone: number[] }> {
    const found: Job[] = [];
    const gone: number[] = [];
    const queue = [...ids];
    async function worker(): Promise<void> {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          found.push(await unwrap(api.GET("/api/v1/jobs/{job_id}", { params: { path: { job_id: id } } })));
        } catch (caught) {
          if (caught instanceof ApiError && caught.status === 404) gone.push(id);
          // anything else: the row keeps what it showed; the next event or poll tries again
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, ids.length) }, worker));
    return { jobs: found, gone };
  }

  function scheduleFlush(): void {
    if (flushTimer !== null || flushing || disposed) return;
    flushTimer = setTimeout(() => {
      flushTimer = null;
      void flush();
    }, flushMs);
  }

  async function flush(): Promise<void> {
    if (flushing || !dirty.size) return;
    const ids = [...dirty].slice(0, MAX_READS_PER_FLUSH);
    for (const id of ids) dirty.delete(id);
    const mine = generation;
    flushing = true;
    try {
      const read = await readJobs(ids);
      if (mine === generation) apply(read.jobs, read.gone);
    } finally {
      flushing = false;
      if (dirty.size) scheduleFlush();
    }
  }

  /** Read the first page again: shown rows on it change in place, newer matching jobs are counted. */
  async function refreshHead(): Promise<void> {
    if (loading.value) return;
    if (error.value !== null) return reload();
    const mine = generation;
    let first: JobPage;
    try {
      first = await page(null);
    } catch {
      return; // the rows shown stay; the next poll tries again
    }
    if (mine !== generation) return;
    const fresh = first.jobs.filter((job) => job.id > newest && !positions.has(job.id));
    newCount.value = fresh.length;
    newSaturated.value = fresh.length > 0 && fresh.length === first.jobs.length && first.next_cursor !== null;
    apply(first.jobs.filter((job) => positions.has(job.id)));
  }

  function scheduleHead(): void {
    if (headTimer !== null || disposed) return;
    headTimer = setTimeout(() => {
      headTimer = null;
      void refreshHead();
    }, headMs);
  }

  function onEvent(event: LiveEvent): void {
    const id = event.job_id;
    if (id === null || disposed) return;
    if (loading.value) {
      heardWhileLoading.add(id);
      return;
    }
    if (positions.has(id)) {
      dirty.add(id);
      scheduleFlush();
    } else if (id > newest) {
      if (event.kind === "created" && !newJobMayMatch(options.selection(), event.data.type, event.data.owner)) return;
      scheduleHead();
    }
    // an older job not shown: it did not match when the list was read; the list does not jump to take it in
  }

  const ACTIVE = new Set(["pending", "running", "paused", "cancelling"]);

  async function poll(): Promise<void> {
    await refreshHead();
    // without the stream, nothing says which shown jobs moved: read the unfinished ones again
    for (const job of jobs.value) {
      if (dirty.size >= MAX_READS_PER_FLUSH) break;
      if (ACTIVE.has(job.status)) dirty.add(job.id);
    }
    await flush();
  }

  async function refreshJobs(ids: number[]): Promise<void> {
    const shown = ids.filter((id) => positions.has(id));
    const mine = generation;
    for (let start = 0; start < shown.length; start += MAX_READS_PER_FLUSH) {
      const read = await readJobs(shown.slice(start, start + MAX_READS_PER_FLUSH));
      if (mine !== generation) return;
      apply(read.jobs, read.gone);
    }
  }

  function dispose(): void {
    disposed = true;
    generation += 1;
    clearTimers();
  }

  /** The newest job the list has shown: a bulk action by filter reaches no job made after it. */
  function newestShown(): number | null {
    return newest > 0 ? newest : null;
  }

  return {
    newestShown,
    jobs,
    nextCursor,
    loading,
    loadingMore,
    error,
    moreError,
    newCount,
    newSaturated,
    reload,
    loadMore,
    onEvent,
    poll,
    refreshJobs,
    dispose,
  };
}
