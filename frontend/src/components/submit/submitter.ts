// Submitting a job exactly once per intent: a second click while the first is on its way gets the same
// answer, and a retry of the same job (after a lost answer) carries the same Idempotency-Key, so the service
// hands back the job the first attempt made instead of making a second one.
import { api, unwrap, type Job, type Schemas } from "@/api/client";

export type SubmitBody = Schemas["SubmitIn"];
export type Send = (body: SubmitBody, key: string) => Promise<Job>;

export const sendSubmit: Send = (body, key) =>
  unwrap(api.POST("/api/v1/jobs", { body, params: { header: { "idempotency-key": key } } }));

export interface Submitter {
  submit(body: SubmitBody): Promise<Job>;
  /** Starts a new intent: the next submit gets a new key even with the same body (a deliberate re-run). */
  reset(): void;
}

/** 128 random bits as hex. Not `crypto.randomUUID()`: browsers give it only to secure pages (HTTPS or localhost),
 * and the dashboard is often reached over plain HTTP on an internal host name. */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function createSubmitter(send: Send = sendSubmit, newKey: () => string = randomKey): Submitter {
  let inFlight: Promise<Job> | null = null;
  let lastBody: string | null = null;
  let key: string | null = null;
  return {
    submit(body) {
      if (inFlight) return inFlight;
      const text = JSON.stringify(body);
      if (key === null || text !== lastBody) {
        key = newKey();
        lastBody = text;
      }
      inFlight = send(body, key).finally(() => {
        inFlight = null;
      });
      return inFlight;
    },
    reset() {
      key = null;
      lastBody = null;
    },
  };
}
