// Live updates by push: the service's Server-Sent Events read over fetch (EventSource cannot send the bearer
// token). A dropped stream reconnects with Last-Event-ID, so nothing is missed or seen twice; while the stream
// cannot be had, `poll` is called every few seconds instead. `updatedAt` is when the view last heard anything.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { ref, type Ref } from "vue";
import { API_BASE, authHeaders } from "@/api/client";

export interface LiveEvent {
  id: number;
  job_id: number | null;
  kind: string;
  at: number;
  data: Record<string, unknown>;
}

export interface LiveOptions {
  /** The stream's path under the API, e.g. "/events" or "/jobs/42/events". */
  path: string;
  onEvent(event: LiveEvent): void;
  /** Fetch the state afresh: after a reset (events lost) and while the stream is down. */
  poll(): Promise<void> | void;
  pollEveryMs?: number;
}

export interface Live {
  connected: Ref<boolean>;
  updatedAt: Ref<number>;
  stop(): void;
}

const RETRY_MS = [1_000, 2_000, 5_000, 10_000];

export function follow(options: LiveOptions): Live {
  const connected = ref(false);
  const updatedAt = ref(Date.now());
  const pollEvery = options.pollEveryMs ?? 5_000;
  let lastId: string | null = null;
  let stopped = false;
  let failures = 0;
  let controller: AbortController | null = null;
  let pollTimer: ReturnType<typeof setInterval> | null = null;

  const heard = (): void => {
    updatedAt.value = Date.now();
  };

  function startPolling(): void {
    if (pollTimer !== null || stopped) return;
    pollTimer = setInterval(async () => {
      await options.poll();
      heard();
    }, pollEvery);
  }

  function stopPolling(): void {
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
  }

  function deliver(message: EventSourceMessage): void {
    if (message.id) lastId = message.id;
    heard();
    let event: LiveEvent;
    try {
      event = JSON.parse(message.data) as LiveEvent;
    } catch {
      return;
    }
    if (event.kind === "reset") void options.poll();
    else options.onEvent(event);
  }

  async function connect(): Promise<void> {
    controller = new AbortController();
    const headers: Record<string, string> = { ...authHeaders(), Accept: "text/event-stream" };
    if (lastId) headers["Last-Event-ID"] = lastId;
    const response = await fetch(API_BASE + options.path, { headers, signal: controller.signal });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    connected.value = true;
    failures = 0;
    stopPolling();
    heard();
    const parser = createParser({ onEvent: deliver, onComment: heard });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
  }

  async function run(): Promise<void> {
    while (!stopped) {
      try {
        await connect();
      } catch {
        // refused, dropped or aborted: fall through to a retry
      }
      connected.value = false;
      if (stopped) break;
      failures += 1;
      if (failures >= 2) startPolling();
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(failures, RETRY_MS.length) - 1]));
    }
  }

  void run();
  return {
    connected,
    updatedAt,
    stop() {
      stopped = true;
      stopPolling();
      controller?.abort();
    },
  };
}
