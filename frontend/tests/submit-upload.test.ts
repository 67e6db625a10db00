// Files for a job: what each type takes, the checks made in the browser before a byte is sent (type, size, the
// file past the limit), and the uploader: one request per file with its own progress, the server's refusals
// shown per file, nothing dropped without a word.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { configureClient, type Schemas } from "@/api/client";
import { readAnswer } from "@/api/upload";
import FileUploader from "@/components/submit/FileUploader.vue";
import {
  checkFile,
  filesByDefault,
  formatSize,
  inputModeOf,
  rulesFor,
  typeAccepted,
  type JobType,
  type UploadRules,
} from "@/components/submit/uploadRules";
import { i18n } from "@/i18n";

const MB = 1_000_000;

function jobType(overrides: Partial<JobType>): JobType {
  return {
    name: "x",
    title: "X",
    unit_cost: 0,
    jobs_per_hour: null,
    jobs_per_day: null,
    max_active_jobs: null,
    params_schema: null,
    takes_items: true,
    chunk_size: 1,
    max_items: null,
    max_concurrency: null,
    priority: 0,
    exclusive: null,
    accepts: null,
    max_file_bytes: 100 * MB,
    ...overrides,
  };
}

const IMAGES = jobType({
  name: "images",
  unit_cost: 1,
  max_items: 50,
  accepts: ["image/jpeg", "image/png", "image/webp"],
  max_file_bytes: 10 * MB,
});
const IMPORT = jobType({
  name: "import",
  takes_items: false,
  params_schema: { type: "object", properties: { resource: { type: "string" }, upload_ids: { type: "array" } } },
  accepts: ["text/plain", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
});
const EXPORT = jobType({ name: "export", takes_items: false, params_schema: { type: "object", properties: { resource: { type: "string" } } } });
const SLOW = jobType({ name: "demo_slow" });

describe("what a type takes", () => {
  it("images: JPEG, PNG or WebP, 10 MB each, 50 files", () => {
    expect(rulesFor(IMAGES)).toEqual({ accepts: ["image/jpeg", "image/png", "image/webp"], maxBytes: 10 * MB, maxFiles: 50 });
    expect(inputModeOf(IMAGES)).toBe("items");
    expect(filesByDefault(IMAGES)).toBe(true);
  });

  it("an import reads one text or Excel file, given beside its params", () => {
    expect(inputModeOf(IMPORT)).toBe("source-files");
    expect(rulesFor(IMPORT).maxFiles).toBe(1);
    expect(rulesFor(IMPORT).accepts).toContain("text/plain");
  });

  it("a type with a source and no files, or typed items", () => {
    expect(inputModeOf(EXPORT)).toBe("none");
    expect(filesByDefault(SLOW)).toBe(false);
    expect(rulesFor(SLOW)).toEqual({ accepts: null, maxBytes: 100 * MB, maxFiles: null });
  });

  it("takes what the service publishes for any type", () => {
    const published = jobType({ name: "scans", max_items: 5, accepts: ["image/png"], max_file_bytes: 2 * MB });
    expect(rulesFor(published)).toEqual({ accepts: ["image/png"], maxBytes: 2 * MB, maxFiles: 5 });
    expect(filesByDefault(published)).toBe(true);
  });

  it("a server that keeps no files states no size", () => {
    const rules = rulesFor(jobType({ max_file_bytes: null }));
    expect(rules.maxBytes).toBeNull();
    expect(checkFile({ name: "a.txt", size: 10 ** 9, type: "text/plain" }, rules, 0)).toBeNull();
  });
});

describe("checks in the browser", () => {
  const rules = rulesFor(IMAGES);
  const file = (name: string, size: number, type: string) => ({ name, size, type });

  it("refuses a GIF, by its type or its name", () => {
    expect(checkFile(file("cat.gif", 1000, "image/gif"), rules, 0)).toEqual({ code: "type", accepted: "JPEG, PNG, WebP" });
    expect(checkFile(file("cat.gif", 1000, ""), rules, 0)?.code).toBe("type");
    expect(checkFile(file("cat.jpg", 1000, "image/jpeg"), rules, 0)).toBeNull();
  });

  it("lets the server judge a file nothing tells the type of", () => {
    expect(typeAccepted({ name: "IMG_0001", type: "" }, rules.accepts)).toBe(true);
    expect(typeAccepted({ name: "scan.heic", type: "" }, rules.accepts)).toBe(false);
  });

  it("takes a CSV the browser calls an Excel file", () => {
    expect(typeAccepted({ name: "products.csv", type: "application/vnd.ms-excel" }, rulesFor(IMPORT).accepts)).toBe(true);
    expect(typeAccepted({ name: "old.xls", type: "application/vnd.ms-excel" }, rulesFor(IMPORT).accepts)).toBe(true);
    expect(typeAccepted({ name: "report.pdf", type: "application/pdf" }, rulesFor(IMPORT).accepts)).toBe(false);
  });

  it("refuses a file over the size limit, and an empty one", () => {
    expect(checkFile(file("big.jpg", 10 * MB + 1, "image/jpeg"), rules, 0)).toEqual({ code: "tooLarge", limit: 10 * MB });
    expect(checkFile(file("ok.jpg", 10 * MB, "image/jpeg"), rules, 0)).toBeNull();
    expect(checkFile(file("none.jpg", 0, "image/jpeg"), rules, 0)).toEqual({ code: "empty" });
  });

  it("states sizes in the service's units", () => {
    expect([formatSize(512), formatSize(10 * MB), formatSize(12_345_678), formatSize(1536)]).toEqual(["512 B", "10 MB", "12.3 MB", "1.5 KB"]);
  });

  it("refuses the 51st file", () => {
    expect(checkFile(file("50.jpg", 10, "image/jpeg"), rules, 49)).toBeNull();
    expect(checkFile(file("51.jpg", 10, "image/jpeg"), rules, 50)).toEqual({ code: "tooMany", limit: 50 });
  });
});

describe("reading the server's answer about one file", () => {
  it("kept, refused in a 201, refused as a 422 or 413, or an error", () => {
    const upload = { id: 1, filename: "a.jpg", size: 3, content_type: "image/jpeg", sha256: "x", expires_at: "2026-12-02T00:00:00Z" };
    expect(readAnswer(201, { uploads: [upload], rejected: [] })).toEqual({ kind: "kept", upload });
    expect(readAnswer(201, { uploads: [], rejected: [{ filename: "a", code: "empty_file", message: "空文件" }] })).toEqual({
      kind: "rejected",
      code: "empty_file",
      message: "空文件",
    });
    const refusal = {
      error: {
        code: "files_rejected",
        message: "1 个文件均未被接受",
        details: { rejected: [{ filename: "a.gif", code: "unsupported_file_type", message: "文件内容为GIF 图片；此处只接受：JPEG, PNG, WEBP。" }] },
      },
    };
    expect(readAnswer(422, refusal)).toEqual({
      kind: "rejected",
      code: "unsupported_file_type",
      message: "文件内容为GIF 图片；此处只接受：JPEG, PNG, WEBP。",
    });
    expect(readAnswer(413, { error: { code: "file_too_large", message: "文件超过了 10 MB 的上限。", details: {} } })).toMatchObject({
      kind: "rejected",
      message: "文件超过了 10 MB 的上限。",
    });
    expect(readAnswer(403, { error: { code: "forbidden", message: "no", details: {} } })).toMatchObject({ status: 403, code: "forbidden" });
  });
});

// ---- the uploader, over a stand-in XMLHttpRequest the test answers ----

class FakeXhr {
  static all: FakeXhr[] = [];
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: FormData | null = null;
  status = 0;
  responseText = "";
  responseType = "";
  aborted = false;
  upload: { onprogress: ((event: ProgressEvent) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;

  constructor() {
    FakeXhr.all.push(this);
  }
  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }
  send(body: FormData): void {
    this.body = body;
  }
  abort(): void {
    this.aborted = true;
    this.onabort?.();
  }
  progress(loaded: number, total: number): void {
    this.upload.onprogress?.({ lengthComputable: true, loaded, total } as ProgressEvent);
  }
  respond(status: number, body: unknown): void {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
  fileName(): string {
    return (this.body?.get("files") as File).name;
  }
}

function kept(id: number, name: string): Schemas["UploadResult"] {
  return {
    uploads: [{ id, filename: name, size: 3, content_type: "image/jpeg", sha256: "abc", expires_at: "2026-12-02T02:00:00Z" }],
    rejected: [],
  };
}

function jpeg(name: string, size = 2048): File {
  return new File([new Uint8Array(size)], name, { type: "image/jpeg" });
}

let wrapper: VueWrapper | null = null;
beforeEach(() => {
  FakeXhr.all = [];
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
  i18n.global.locale.value = "en";
  configureClient({ token: () => "by_test", language: () => "en", signedOut: () => undefined });
});
afterEach(() => {
  wrapper?.unmount();
  wrapper = null;
  vi.unstubAllGlobals();
  i18n.global.locale.value = "zh-CN";
});

function mountUploader(rules: UploadRules, parallel = 3): { wrapper: VueWrapper; uploads: () => number[][] } {
  const emitted: number[][] = [];
  wrapper = mount(FileUploader, {
    props: {
      rules,
      jobType: "images",
      parallel,
      "onUpdate:uploads": (list: { id: number }[]) => emitted.push(list.map((u) => u.id)),
    },
    global: { plugins: [i18n] },
  });
  return { wrapper, uploads: () => emitted };
}

async function pick(target: VueWrapper, files: File[]): Promise<void> {
  const input = target.find('[data-test="file-input"]');
  Object.defineProperty(input.element, "files", { value: files, configurable: true });
  await input.trigger("change");
  await flushPromises();
}

function rows(target: VueWrapper): { name: string; state: string; reason: string }[] {
  return target.findAll('[data-test="file-list"] > li').map((li) => ({
    name: li.attributes("data-name") ?? "",
    state: li.find('[data-test="file-state"]').text(),
    reason: li.find('[data-test="file-reason"]').exists() ? li.find('[data-test="file-reason"]').text() : "",
  }));
}

describe("FileUploader", () => {
  it("sends each file in its own request, with the token and language, and shows its progress", async () => {
    const { wrapper, uploads } = mountUploader(rulesFor(IMAGES));
    await pick(wrapper, [jpeg("a.jpg"), jpeg("b.jpg")]);
    expect(FakeXhr.all.map((x) => x.fileName())).toEqual(["a.jpg", "b.jpg"]);
    const first = FakeXhr.all[0]!;
    expect(first.method).toBe("POST");
    expect(first.url).toBe("/api/v1/uploads?job_type=images");
    expect(first.headers.Authorization).toBe("Bearer by_test");
    expect(first.headers["Accept-Language"]).toBe("en");

    first.progress(512, 2048);
    await flushPromises();
    const bars = wrapper.findAll('[data-test="file-progress"]');
    expect((bars[0]!.element as HTMLProgressElement).value).toBe(25);
    expect(bars[0]!.attributes("aria-label")).toBe("Upload progress of a.jpg");
    expect((bars[1]!.element as HTMLProgressElement).value).toBe(0);

    first.respond(201, kept(11, "a.jpg"));
    FakeXhr.all[1]!.respond(201, kept(12, "b.jpg"));
    await flushPromises();
    expect(rows(wrapper).map((r) => r.state)).toEqual(["Ready", "Ready"]);
    expect(uploads().at(-1)).toEqual([11, 12]);
    expect(wrapper.find('[data-test="upload-summary"]').text()).toContain("2 file(s) ready, 0 refused");
  });

  it("refuses a GIF, an oversized file and the file past the limit at once, without sending them", async () => {
    const { wrapper } = mountUploader({ ...rulesFor(IMAGES), maxFiles: 2 });
    await pick(wrapper, [
      jpeg("1.jpg"),
      new File([new Uint8Array(10)], "cat.gif", { type: "image/gif" }),
      jpeg("huge.jpg", 10 * MB + 1),
      jpeg("2.jpg"),
      jpeg("3.jpg"),
    ]);
    expect(FakeXhr.all.map((x) => x.fileName())).toEqual(["1.jpg", "2.jpg"]);
    expect(rows(wrapper)).toEqual([
      { name: "1.jpg", state: "Uploading", reason: "" },
      { name: "cat.gif", state: "Refused", reason: "This type of file is not accepted; accepted: JPEG, PNG, WebP." },
      { name: "huge.jpg", state: "Refused", reason: "The file is 10.0 MB; at most 10 MB is accepted." },
      { name: "2.jpg", state: "Uploading", reason: "" },
      { name: "3.jpg", state: "Refused", reason: "A job of this type takes at most 2 files; remove one to add this." },
    ]);
  });

  it("says in Chinese why a file is refused", async () => {
    i18n.global.locale.value = "zh-CN";
    const { wrapper } = mountUploader(rulesFor(IMAGES));
    await pick(wrapper, [new File([new Uint8Array(10)], "动图.gif", { type: "image/gif" })]);
    expect(rows(wrapper)[0]).toEqual({ name: "动图.gif", state: "已拒绝", reason: "不支持此文件类型；支持：JPEG, PNG, WebP。" });
  });

  it("shows the server's own reason for a file it refuses, and keeps the others", async () => {
    const { wrapper, uploads } = mountUploader(rulesFor(IMAGES));
    await pick(wrapper, [jpeg("renamed.jpg"), jpeg("ok.jpg")]);
    FakeXhr.all[0]!.respond(422, {
      error: {
        code: "files_rejected",
        message: "None of the 1 files was accepted",
        details: { rejected: [{ filename: "renamed.jpg", code: "unsupported_file_type", message: "The file's content is a GIF image; accepted here: JPEG, PNG, WEBP." }] },
      },
    });
    FakeXhr.all[1]!.respond(201, kept(7, "ok.jpg"));
    await flushPromises();
    expect(rows(wrapper)).toEqual([
      { name: "renamed.jpg", state: "Refused", reason: "The file's content is a GIF image; accepted here: JPEG, PNG, WEBP." },
      { name: "ok.jpg", state: "Ready", reason: "" },
    ]);
    expect(uploads().at(-1)).toEqual([7]);
  });

  it("sends at most `parallel` files at a time, the rest as each finishes", async () => {
    const { wrapper } = mountUploader(rulesFor(IMAGES), 2);
    await pick(wrapper, [jpeg("1.jpg"), jpeg("2.jpg"), jpeg("3.jpg")]);
    expect(FakeXhr.all).toHaveLength(2);
    expect(rows(wrapper).map((r) => r.state)).toEqual(["Uploading", "Uploading", "Waiting"]);
    FakeXhr.all[0]!.respond(201, kept(1, "1.jpg"));
    await flushPromises();
    expect(FakeXhr.all.map((x) => x.fileName())).toEqual(["1.jpg", "2.jpg", "3.jpg"]);
  });

  it("removes a file (stopping its upload) and lets a refused one make room", async () => {
    const { wrapper, uploads } = mountUploader({ ...rulesFor(IMAGES), maxFiles: 1 });
    await pick(wrapper, [jpeg("a.jpg")]);
    await pick(wrapper, [jpeg("b.jpg")]);
    expect(rows(wrapper).map((r) => r.state)).toEqual(["Uploading", "Refused"]);
    const removeA = wrapper.findAll('[data-test="file-remove"]')[0]!;
    expect(removeA.attributes("aria-label")).toBe("Remove a.jpg");
    await removeA.trigger("click");
    await flushPromises();
    expect(FakeXhr.all[0]!.aborted).toBe(true);
    expect(rows(wrapper).map((r) => r.name)).toEqual(["b.jpg"]);
    await pick(wrapper, [jpeg("c.jpg")]);
    FakeXhr.all[1]!.respond(201, kept(3, "c.jpg"));
    await flushPromises();
    expect(uploads().at(-1)).toEqual([3]);
  });

  it("marks a file whose upload broke off as failed, with a retry", async () => {
    const { wrapper } = mountUploader(rulesFor(IMAGES));
    await pick(wrapper, [jpeg("a.jpg")]);
    FakeXhr.all[0]!.onerror?.();
    await flushPromises();
    expect(rows(wrapper)[0]).toMatchObject({ state: "Failed", reason: "The service cannot be reached. Check the connection and try again." });
    await wrapper.find('[data-test="file-retry"]').trigger("click");
    await flushPromises();
    expect(FakeXhr.all).toHaveLength(2);
    expect(rows(wrapper)[0]!.state).toBe("Uploading");
  });

  it("takes dropped files like picked ones", async () => {
    const { wrapper } = mountUploader(rulesFor(IMAGES));
    const zone = wrapper.find('[data-test="drop-zone"]');
    await zone.trigger("drop", { dataTransfer: { files: [jpeg("dropped.jpg")] } });
    await flushPromises();
    expect(FakeXhr.all.map((x) => x.fileName())).toEqual(["dropped.jpg"]);
  });
});
