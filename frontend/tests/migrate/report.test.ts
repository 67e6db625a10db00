// A migration's report on its job's page: the counts, speed and range sizes in both languages, the verification
// passed or failed with the exact keys that differ (folded when many), the ranges, the rejects' sample, the live
// refresh that stops once the job has ended, and the re-copy of a range (asked first, posted to the exact path,
// then the new job opened; a refusal shown in the server's words) that a viewer is never offered.
import { flushPromises, type VueWrapper } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { i18n, missingKeys } from "@/i18n";
import { REPORT_POLL_MS, REPORT_READ_MS } from "@/components/migrate/MigrationReport.vue";
import { readReport } from "@/components/migrate/report";
import { ALICE, refusal, sent, serve } from "../support/fakeService";
import { migrateJob, mountReport, report, VICTOR } from "./support";

let wrapper: VueWrapper | undefined;
beforeEach(() => {
  document.body.innerHTML = "";
  missingKeys.length = 0;
});
afterEach(() => {
  vi.useRealTimers();
  wrapper?.unmount();
  wrapper = undefined;
  i18n.global.locale.value = "zh-CN";
  expect(missingKeys).toEqual([]);
});

const text = (w: VueWrapper, test: string): string => w.find(`[data-test="${test}"]`).text();
const reads = (): number => sent.filter((s) => s.method === "GET" && s.path === "/api/v1/jobs/41/report").length;

describe("reading the report", () => {
  it("reads the service's shape and is none for another shape", () => {
    const read = readReport(report({ keys: [10007] }))!;
    expect(read.tables[0]).toMatchObject({ resource: "users", read: 20000, rowsPerSecond: 248.8, largestRange: 5001 });
    expect(read.tables[0]!.verify).toMatchObject({ status: "failed", mismatchedRows: 1 });
    expect(read.tables[0]!.verify.mismatches[0]!.keys).toEqual([10007]);
    expect(read.rejects.sample[1]!.reason).toContain("cannot be cast to datetime");
    expect(readReport({ error: "x" })).toBeNull();
  });
});

describe("the report", () => {
  it("shows each table's counts, speed, range sizes and a passed verification, in English", async () => {
    serve({ "GET /api/v1/jobs/41/report": () => ({ body: report({ status: "succeeded" }) }) });
    ({ wrapper } = await mountReport(ALICE, migrateJob({ status: "succeeded", finished_at: "2026-12-01T02:04:40Z" })));
    const table = wrapper.find('[data-test="report-table-users"]');
    expect(table.exists()).toBe(true);
    expect(table.find("h3").text()).toContain("legacy_users");
    expect(text(wrapper, "report-read")).toBe("Read20,000");
    expect(text(wrapper, "report-written")).toBe("Written19,988");
    expect(text(wrapper, "report-rejected")).toBe("Rejected12");
    expect(text(wrapper, "report-skipped")).toBe("Skipped0");
    expect(text(wrapper, "report-duration")).toBe("Duration1 min 20 s");
    expect(text(wrapper, "report-speed")).toBe("Speed248.8 rows/s");
    expect(text(wrapper, "report-range-sizes")).toBe("Range sizelargest 5,001 / mean 5,000");
    expect(text(wrapper, "report-range-count")).toBe("Ranges4 of 4 done");
    expect(wrapper.findAll('[data-test="report-ranges"]')).toHaveLength(1);
    const verify = wrapper.find('[data-test="report-verify"]');
    expect(verify.attributes("data-status")).toBe("passed");
    expect(verify.text()).toContain("Passed · count and checksum agree in all 4 ranges");
    expect(wrapper.find('[data-test="report-mismatch-keys"]').exists()).toBe(false);
    // the files are the downloads' business: named, not offered again
    expect(text(wrapper, "report-files")).toContain("report.html");
    expect(wrapper.findAll("a[href$='report.json']")).toHaveLength(0);
  });

  it("lists every range with its bounds, counts and verification, and a sample of rejects with why", async () => {
    serve({ "GET /api/v1/jobs/41/report": () => ({ body: report({ keys: [10007, 10400] }) }) });
    ({ wrapper } = await mountReport(ALICE, migrateJob()));
    const rows = wrapper.findAll('[data-test="report-ranges"] tbody tr');
    expect(rows).toHaveLength(4);
    expect(rows[3]!.text()).toContain("15002 – 9000000001");
    expect(rows[3]!.findAll("td").map((td) => td.text()).slice(1, 4)).toEqual(["4,999", "4,991", "8"]);
    expect(wrapper.find('[data-test="range-verify-2"]').attributes("data-status")).toBe("failed");
    expect(wrapper.find('[data-test="range-verify-0"]').text()).toContain("Passed");
    const rejects = wrapper.findAll('[data-test="report-reject"]');
    expect(rejects).toHaveLength(2);
    expect(rejects[0]!.text()).toContain("email: value is not a valid email address");
    expect(text(wrapper, "report-rejects")).toContain("Rejected rows: 12 (limit 100)");
  });

  it("pages a long list of ranges fifty at a time", async () => {
    const many = report();
    const table = (many.tables as Record<string, unknown>[])[0]!;
    table.range_details = Array.from({ length: 120 }, (_, i) => ({
      range: i, lo: i * 100 + 1, hi: (i + 1) * 100, read: 100, written: 100, rejected: 0, skipped: 0, verified: true,
    }));
    serve({ "GET /api/v1/jobs/41/report": () => ({ body: many }) });
    ({ wrapper } = await mountReport(ALICE, migrateJob({ status: "succeeded" })));
    const first = (): string[] => wrapper!.findAll('[data-test="report-ranges"] tbody tr th').map((th) => th.text());
    expect(first()).toHaveLength(50);
    expect(first()[0]).toBe("0");
    await wrapper.find('[data-test="page-next"]').trigger("click");
    expect(first()[0]).toBe("50");
    expect(wrapper.find('[data-test="range-recopy-50"]').exists()).toBe(true);
    expect(wrapper.find('[data-test="page-at"]').text()).toBe("Page 2 of 3");
  });

  it("shows a failed verification with the exact keys that differ, in Chinese", async () => {
    serve({ "GET /api/v1/jobs/41/report": () => ({ body: report({ status: "failed", keys: [10007, 10400] }) }) });
    ({ wrapper } = await mountReport(ALICE, migrateJob({ status: "failed" }), "zh-CN"));
    const verify = wrapper.find('[data-test="report-verify"]');
    expect(verify.attributes("data-status")).toBe("failed");
    expect(verify.text()).toContain("未通过 · 1 个区间中有 2 行不一致");
    expect(verify.text()).toContain("区间 2（10001 – 15001）：2 行不一致");
    const keys = wrapper.find('[data-test="report-mismatch-keys"]');
    expect(keys.attributes("data-range")).toBe("2");
    expect(keys.findAll("li").map((li) => li.text())).toEqual(["10007", "10400"]);
    expect(text(wrapper, "report-read")).toBe("读取20,000");
    expect(text(wrapper, "range-verify-2")).toContain("未通过");
    expect(wrapper.find('[data-test="range-recopy-2"]').text()).toBe("重新复制");
  });

  it("folds a long list of keys, opens it on demand and says how many differ beyond those kept", async () => {
    const keys = Array.from({ length: 57 }, (_, i) => 10001 + i * 3);
    serve({ "GET /api/v1/jobs/41/report": () => ({ body: report({ keys, rows: 1_057 }) }) });
    ({ wrapper } = await mountReport(ALICE, migrateJob({ status: "failed" })));
    const list = (): string[] => wrapper!.findAll('[data-test="report-mismatch-keys"] li').map((li) => li.text());
    expect(list()).toHaveLength(20);
    expect(text(wrapper, "report-mismatch-unlisted")).toBe("…and 1000 more not listed.");
    const toggle = wrapper.find('[data-test="report-mismatch-toggle"]');
    expect(toggle.attributes("aria-expanded")).toBe("false");
    expect(toggle.text()).toBe("Show all 57 keys");
    await toggle.trigger("click");
    expect(list()).toHaveLength(57);
    expect(list().at(-1)).toBe(String(10001 + 56 * 3));
    expect(toggle.attributes("aria-expanded")).toBe("true");
  });

  it("shows a pending verification while ranges are still being checked", async () => {
    serve({ "GET /api/v1/jobs/41/report": () => ({ body: report({ verify: "pending" }) }) });
    ({ wrapper } = await mountReport(ALICE, migrateJob()));
    expect(wrapper.find('[data-test="report-verify"]').attributes("data-status")).toBe("pending");
    expect(text(wrapper, "report-verify")).toContain("Pending · 4 of 4 ranges verified so far");
  });

  it("says why when the report cannot be read", async () => {
    serve({ "GET /api/v1/jobs/41/report": () => ({ status: 404, body: refusal("no_report", "Job 41 has no migration report.") }) });
    ({ wrapper } = await mountReport(ALICE, migrateJob({ status: "succeeded" })));
    expect(text(wrapper, "report-error")).toContain("Job 41 has no migration report.");
  });
});

describe("the report, live", () => {
  it("reads again while the job runs, on its changes and every few seconds, and stops once it has ended", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    let status = "running";
    serve({ "GET /api/v1/jobs/41/report": () => ({ body: report({ status, verify: "pending" }) }) });
    const mounted = await mountReport(ALICE, migrateJob());
    wrapper = mounted.wrapper;
    expect(reads()).toBe(1);

    await vi.advanceTimersByTimeAsync(REPORT_POLL_MS);
    expect(reads()).toBe(2); // the heartbeat with no event

    // a range committed: the page re-read the job; events in a burst fold into one read
    mounted.job.value = migrateJob({ processed: 4 });
    await flushPromises();
    mounted.job.value = migrateJob({ processed: 5 });
    await vi.advanceTimersByTimeAsync(REPORT_READ_MS);
    expect(reads()).toBe(3);

    status = "succeeded";
    mounted.job.value = migrateJob({ processed: 5, status: "succeeded", finished_at: "2026-12-01T02:04:40Z" });
    await vi.advanceTimersByTimeAsync(REPORT_READ_MS);
    expect(reads()).toBe(4); // one last read of the final report …
    expect(wrapper.find('[data-test="report-verify"]').exists()).toBe(true);

    await vi.advanceTimersByTimeAsync(REPORT_POLL_MS * 6);
    expect(reads()).toBe(4); // … and none after it
  });

  it("never polls a job that had already ended", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    serve({ "GET /api/v1/jobs/41/report": () => ({ body: report({ status: "succeeded" }) }) });
    ({ wrapper } = await mountReport(ALICE, migrateJob({ status: "succeeded" })));
    await vi.advanceTimersByTimeAsync(REPORT_POLL_MS * 4);
    expect(reads()).toBe(1);
  });
});

describe("re-copying a range", () => {
  const dialogButton = (test: string): HTMLButtonElement => document.querySelector(`[data-test="${test}"]`) as HTMLButtonElement;

  it("asks first, posts to the range's exact path and opens the new job", async () => {
    serve({
      "GET /api/v1/jobs/41/report": () => ({ body: report({ status: "failed", keys: [10007] }) }),
      "POST /api/v1/jobs/41/ranges/2/recopy": () => ({ status: 202, body: migrateJob({ id: 57, status: "pending", processed: 0 }) }),
    });
    const mounted = await mountReport(ALICE, migrateJob({ status: "failed" }));
    wrapper = mounted.wrapper;
    await wrapper.find('[data-test="range-recopy-2"]').trigger("click");
    await flushPromises();
    expect(sent.some((s) => s.method === "POST")).toBe(false); // nothing sent before the confirmation
    const dialog = wrapper.find('[data-test="recopy-dialog"]');
    expect(dialog.text()).toContain("Re-copy range 2?");
    expect(dialog.text()).toContain("keys 10001 to 15001");
    expect(dialog.text()).toContain("into users");

    dialogButton("recopy-confirm").click();
    await flushPromises();
    const posts = sent.filter((s) => s.method === "POST");
    expect(posts.map((s) => s.path)).toEqual(["/api/v1/jobs/41/ranges/2/recopy"]);
    expect(mounted.router.currentRoute.value.fullPath).toBe("/jobs/57");
  });

  it("keeps the dialog open with the server's own message when it refuses", async () => {
    serve({
      "GET /api/v1/jobs/41/report": () => ({ body: report({ status: "succeeded" }) }),
      "POST /api/v1/jobs/41/ranges/3/recopy": () => ({
        status: 409,
        body: { error: { code: "conflict", message: "任务 60 正在占用 migrate:users。", details: { job_id: 60 } } },
      }),
    });
    const mounted = await mountReport(ALICE, migrateJob({ status: "succeeded" }), "zh-CN");
    wrapper = mounted.wrapper;
    await wrapper.find('[data-test="range-recopy-3"]').trigger("click");
    await flushPromises();
    dialogButton("recopy-confirm").click();
    await flushPromises();
    expect(text(wrapper, "recopy-error")).toContain("任务 60 正在占用 migrate:users。");
    expect(wrapper.find('[data-test="recopy-conflict-job"]').attributes("href")).toBe("/jobs/60");
    expect(mounted.router.currentRoute.value.fullPath).toBe("/jobs/41");
  });

  it("offers a viewer no re-copy at all", async () => {
    serve({ "GET /api/v1/jobs/41/report": () => ({ body: report({ status: "failed", keys: [10007] }) }) });
    ({ wrapper } = await mountReport(VICTOR, migrateJob({ status: "failed" })));
    expect(wrapper.findAll('[data-test="report-ranges"] tbody tr')).toHaveLength(4);
    expect(wrapper.findAll('[data-test^="range-recopy-"]')).toHaveLength(0);
    expect(wrapper.find('[data-test="report-ranges"]').text()).not.toContain("Re-copy");
  });
});
