// The one way the app talks to the service: openapi-fetch over the types generated from its OpenAPI document
// (`npm run api-types`), with the tab's token and the chosen language on every request.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Job = Schemas["JobOut"];
export type JobStatus = Schemas["JobStatus"];
export type User = Schemas["UserOut"];

export const API_BASE = "/api/v1";

/** What the client needs from the rest of the app, set once at start (see main.ts). */
export interface ClientContext {
  token(): string | null;
  language(): string;
  signedOut(): void;
}

let context: ClientContext = { token: () => null, language: () => "zh-CN", signedOut: () => {} };

export function configureClient(next: ClientContext): void {
  context = next;
}

export function authHeaders(): Record<string, string> {
  const headers: Record<string, string> = { "Accept-Language": context.language() };
  const token = context.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

// Requests still waiting for an answer: sign-out waits for them, or one sent just before would come back refused.
let inFlight = 0;
let idleWaiters: Array<() => void> = [];

function answered(): void {
  inFlight = Math.max(0, inFlight - 1);
  if (inFlight > 0) return;
  for (const resume of idleWaiters) resume();
  idleWaiters = [];
}

/** Resolves once none of the client's requests is waiting for an answer, or after `atMostMs`. */
export function settled(atMostMs = 5_000): Promise<void> {
  if (inFlight === 0) return Promise.resolve();
  return new Promise((resolve) => {
    idleWaiters.push(resolve);
    setTimeout(resolve, atMostMs);
  });
}

const session: Middleware = {
  onRequest({ request }) {
    inFlight += 1;
    // a header the caller set stays (sign-out names the token it ends)
    for (const [name, value] of Object.entries(authHeaders())) if (!request.headers.has(name)) request.headers.set(name, value);
    return request;
  },
  onResponse({ request, response }) {
    answered();
    // refused for the token the tab holds now, not for one already ended or replaced by a new sign-in
    const token = context.token();
    if (response.status === 401 && token && request.headers.get("Authorization") === `Bearer ${token}`)
      context.signedOut();
    return response;
  },
  onError() {
    answered();
  },
};

// Paths in the document carry the API prefix ("/api/v1/jobs"), so the client starts at the origin.
export const api = createClient<paths>({ baseUrl: "" });
api.use(session);

/** An error the service answered with: its code, its message in the caller's language, its details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface Envelope {
  error?: { code?: string; message?: string; details?: Record<string, unknown> | null };
}

export function toApiError(status: number, body: unknown): ApiError {
  const error = (body as Envelope | undefined)?.error;
  return new ApiError(status, error?.code ?? "error", error?.message ?? `HTTP ${status}`, error?.details ?? {});
}

/** The data of an openapi-fetch answer, or its error thrown as an ApiError. */
export async function unwrap<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await pending;
  if (error !== undefined || !response.ok) throw toApiError(response.status, error);
  return data as T;
}
