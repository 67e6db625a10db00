// The first items of a job, read when its row is opened and kept a few seconds: a virtual table mounts the opened
// row again whenever it scrolls back into view, and that should not ask the service each time.
import { api, unwrap, type Schemas } from "@/api/client";

export type Item = Schemas["ItemOut"];
export const PREVIEW_ITEMS = 20;
const KEEP_MS = 5_000;

const kept = new Map<number, { at: number; items: Promise<Item[]> }>();

export function previewItems(jobId: number, now = Date.now()): Promise<Item[]> {
  const hit = kept.get(jobId);
  if (hit && now - hit.at < KEEP_MS) return hit.items;
  const items = unwrap(
    api.GET("/api/v1/jobs/{job_id}/items", { params: { path: { job_id: jobId }, query: { limit: PREVIEW_ITEMS } } }),
  ).then((page) => page.items);
  kept.set(jobId, { at: now, items });
  items.catch(() => kept.delete(jobId));
  if (kept.size > 200) kept.delete(kept.keys().next().value as number);
  return items;
}

export function forgetPreview(jobId: number): void {
  kept.delete(jobId);
}
