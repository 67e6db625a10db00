// Uploads go one file per XMLHttpRequest: fetch cannot report upload progress, and one request per file gives
// each file its own progress bar, its own answer and its own way to be stopped.
import { API_BASE, ApiError, authHeaders, toApiError, type Schemas } from "./client";

export type Upload = Schemas["UploadOut"];

export type UploadOutcome =
  | { kind: "kept"; upload: Upload }
  | { kind: "rejected"; code: string; message: string };

export interface UploadHandle {
  /** Settles with the file kept or rejected (the server's reason); throws ApiError for anything else. */
  done: Promise<UploadOutcome>;
  abort(): void;
}

export interface UploadOptions {
  /** Check the file against what this job type accepts. */
  jobType?: string;
  /** Fraction sent so far, 0..1. */
  onProgress?(fraction: number): void;
}

interface Rejection {
  filename?: string;
  code?: string;
  message?: string;
}

function firstRejection(list: unknown): Rejection | undefined {
  return Array.isArray(list) && list.length > 0 ? (list[0] as Rejection) : undefined;
}

/** What the server's answer says about the one file sent: kept, refused for a reason, or an error. */
export function readAnswer(status: number, body: unknown): UploadOutcome | ApiError {
  if (status >= 200 && status < 300) {
    const result = body as Partial<Schemas["UploadResult"]> | undefined;
    const upload = result?.uploads?.[0];
    if (upload) return { kind: "kept", upload };
    const rejected = firstRejection(result?.rejected);
    if (rejected) return { kind: "rejected", code: rejected.code ?? "rejected", message: rejected.message ?? "" };
    return new ApiError(status, "no_files", "", {});
  }
  const error = toApiError(status, body);
  // a refusal of every file (here: the one) carries each file's own reason in details.rejected
  const rejected = firstRejection(error.details.rejected);
  if (rejected && (status === 413 || status === 422)) {
    return { kind: "rejected", code: rejected.code ?? error.code, message: rejected.message ?? error.message };
  }
  if (status === 413 || status === 422) {
    return { kind: "rejected", code: error.code, message: error.message };
  }
  return error;
}

export function uploadFile(file: File, options: UploadOptions = {}): UploadHandle {
  const xhr = new XMLHttpRequest();
  const query = options.jobType ? `?job_type=${encodeURIComponent(options.jobType)}` : "";
  const done = new Promise<UploadOutcome>((resolve, reject) => {
    xhr.open("POST", `${API_BASE}/uploads${query}`);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "text";
    xhr.upload.onprogress = (event: ProgressEvent) => {
      if (event.lengthComputable && event.total > 0) options.onProgress?.(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body: unknown;
      try {
        body = xhr.responseText ? (JSON.parse(xhr.responseText) as unknown) : undefined;
      } catch {
        body = undefined;
      }
      const answer = readAnswer(xhr.status, body);
      if (answer instanceof ApiError) reject(answer);
      else {
        options.onProgress?.(1);
        resolve(answer);
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "", {}));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "", {}));
    const form = new FormData();
    form.append("files", file, file.name);
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
