// Downloads need the bearer token, which a plain link cannot send: fetch the file, then hand the browser a blob.
import { API_BASE, authHeaders, toApiError } from "./client";

export async function download(path: string, fallbackName: string): Promise<void> {
  const response = await fetch(API_BASE + path, { headers: authHeaders() });
  if (!response.ok) throw toApiError(response.status, await response.json().catch(() => undefined));
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = fileName(response.headers.get("Content-Disposition")) ?? fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

/** The file name a Content-Disposition header gives, preferring the RFC 5987 UTF-8 form. */
export function fileName(disposition: string | null): string | null {
  if (!disposition) return null;
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  if (utf8?.[1]) return decodeURIComponent(utf8[1]);
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  return plain?.[1] ?? null;
}
