// The job page's rules without the page: which actions a status and role allow, the quota an action moved
// in words, the throttle behind live refreshes, event summaries, output words and output files.
import { afterEach, describe, expect, it, vi } from "vitest";
import { offeredActions, quotaAhead, quotaMoved, quotaText, retryCount } from "@/components/job/JobActions.vue";
import { outputFile } from "@/components/job/JobItemsTable.vue";
import { outputWord } from "@/components/job/JobTally.vue";
import { kindLabel, summarize } from "@/components/job/JobTimeline.vue";
import { i18n } from "@/i18n";
import { throttle } from "@/pages/JobDetailPage.vue";

const t = (key: string, named?: Record<string, unknown>): string => i18n.global.t(key, named ?? {});
const te = (key: string): boolean => i18n.global.te(key);

afterEach(() => {
  vi.useRealTimers();
  i18n.global.locale.value = "zh-CN";
});

describe("offeredActions", () => {
  const job = (status: string, failed = 0, processed = 10, total = 10) => ({ status, failed, processed, total });

  it.each([
    ["pending", 0, ["pause", "cancel"]],
    ["running", 3, ["pause", "cancel"]],
    ["paused", 0, ["resume", "cancel"]],
    ["cancelling", 0, []],
    ["cancelled", 2, []],
    ["succeeded", 0, []],
    ["partially_succeeded", 2, ["retry-failed"]],
    ["failed", 10, ["retry-failed"]],
    ["failed", 0, []],
  ])("an operator may, on a %s job with %s failed: %j", (status, failed, expected) => {
    expect(offeredActions(job(status, failed), true)).toEqual(expected);
  });

  it("lets a viewer do nothing, whatever the status", () => {
    for (const status of ["pending", "running", "paused", "partially_succeeded", "failed"]) {
      expect(offeredActions(job(status, 5), false)).toEqual([]);
    }
  });

  it("retries what a stop left unprocessed as well as the failures", () => {
    expect(retryCount(job("failed", 2, 30, 50))).toBe(22);
    expect(offeredActions(job("failed", 0, 30, 50), true)).toEqual(["retry-failed"]);
  });
});

describe("quota moved", () => {
  it("is the difference between the job's quota before and the answer's", () => {
    expect(quotaMoved({ charged: 20, refunded: 1 }, { charged: 20, refunded: 3 })).toEqual({ charged: 0, refunded: 2 });
    expect(quotaMoved({ charged: 20, refunded: 1 }, { charged: 21, refunded: 1 })).toEqual({ charged: 1, refunded: 0 });
  });

  it("reads in Chinese and English", () => {
    i18n.global.locale.value = "zh-CN";
    expect(quotaText(t, { charged: 0, refunded: 2 })).toBe("已退还 2 配额");
    expect(quotaText(t, { charged: 3, refunded: 0 })).toBe("已扣除 3 配额");
    expect(quotaText(t, { charged: 3, refunded: 1 })).toBe("已扣除 3 配额，已退还 1 配额");
    expect(quotaText(t, { charged: 0, refunded: 0 })).toBe("配额未变动");
    i18n.global.locale.value = "en";
    expect(quotaText(t, { charged: 0, refunded: 2 })).toBe("2 quota refunded");
    expect(quotaText(t, { charged: 3, refunded: 0 })).toBe("3 quota charged");
    expect(quotaText(t, { charged: 0, refunded: 0 })).toBe("No quota moved");
  });
});

describe("throttle", () => {
  it("runs at once, then folds the calls of each window into one at its end", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const throttled = throttle(fn, 500);
    throttled.run();
    expect(fn).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 10; i += 1) throttled.run();
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(500);
    expect(fn).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(2_000);
    expect(fn).toHaveBeenCalledTimes(2);
    throttled.run(); // a quiet while later: at once again
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it("never calls more than twice a second under a steady stream", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const throttled = throttle(fn, 500);
    for (let ms = 0; ms < 10_000; ms += 20) {
      throttled.run();
      vi.advanceTimersByTime(20);
    }
    expect(fn.mock.calls.length).toBeLessThanOrEqual(21);
    expect(fn.mock.calls.length).toBeGreaterThanOrEqual(19);
  });

  it("calls nothing once cancelled", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const throttled = throttle(fn, 500);
    throttled.run();
    throttled.run();
    throttled.cancel();
    vi.advanceTimersByTime(1_000);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});

describe("event summaries", () => {
  const event = (kind: string, data: Record<string, unknown>) => ({ id: 1, job_id: 7, kind, at: 1796090513.37, data });

  it("says the known kinds in words, with statuses translated", () => {
    i18n.global.locale.value = "zh-CN";
    expect(summarize(event("progress", { items: 5, at: 1, chunk: 0 }), t, te)).toBe("新完成 5 项");
    expect(summarize(event("status", { status: "paused" }), t, te)).toBe("变为已暂停");
    expect(kindLabel("round", t, te)).toBe("新一轮");
    i18n.global.locale.value = "en";
    expect(summarize(event("finished", { status: "partially_succeeded", succeeded: 19, failed: 1, skipped: 0 }), t, te)).toBe(
      "Partly succeeded: 19 succeeded, 1 failed, 0 skipped",
    );
  });

  it("shows an unknown kind, or one missing a field, as its data", () => {
    expect(summarize(event("audited", { by: "ops" }), t, te)).toBe('{"by":"ops"}');
    expect(summarize(event("round", { round: 2 }), t, te)).toBe('{"round":2}');
    expect(kindLabel("audited", t, te)).toBe("audited");
  });
});

describe("output words and files", () => {
  it("translates inserted and updated, and leaves other words as given", () => {
    i18n.global.locale.value = "zh-CN";
    expect(outputWord("inserted", t, te)).toBe("新增");
    expect(outputWord("updated", t, te)).toBe("更新");
    expect(outputWord("merged", t, te)).toBe("merged");
  });

  it("finds the file an item's output names, and none in other outputs", () => {
    expect(outputFile({ artifact_id: 12, name: "a.webp", size: 3 })).toEqual({ artifactId: 12, name: "a.webp" });
    expect(outputFile({ artifact_id: 12 })).toEqual({ artifactId: 12, name: "artifact_12" });
    expect(outputFile({ file: "a.jpg", brightness: 1 })).toBeNull();
    expect(outputFile("inserted")).toBeNull();
    expect(outputFile(null)).toBeNull();
    expect(outputFile([1, 2])).toBeNull();
  });
});

describe("the quota a confirmation announces", () => {
  const job = { failed: 2, total: 10, processed: 6 };

  it("a cancel refunds the unprocessed items at the type's price", () => {
    expect(quotaAhead("cancel", job, 3)).toEqual({ kind: "refund", n: 12 });
  });

  it("a retry charges the failed and unprocessed items again", () => {
    expect(quotaAhead("retry-failed", job, 1)).toEqual({ kind: "charge", n: 6 });
  });

  it("says nothing for a free type, nothing left, or the other actions", () => {
    expect(quotaAhead("cancel", job, 0)).toBeNull();
    expect(quotaAhead("cancel", { failed: 0, total: 5, processed: 5 }, 1)).toBeNull();
    expect(quotaAhead("pause", job, 1)).toBeNull();
  });
});
