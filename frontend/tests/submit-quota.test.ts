// What a job costs before it is submitted: n × unit = total, the balance before and after, and a shortfall that
// blocks the confirmation and says how much is missing.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import QuotaConfirm from "@/components/submit/QuotaConfirm.vue";
import { needsConfirmation, quotaPlan } from "@/components/submit/quota";
import { i18n } from "@/i18n";

describe("quota arithmetic", () => {
  it("charges n × unit cost against the balance", () => {
    expect(quotaPlan(3, 1, 100)).toEqual({ count: 3, unitCost: 1, total: 3, before: 100, after: 97, shortfall: 0 });
    expect(quotaPlan(50, 2, 100)).toMatchObject({ total: 100, after: 0, shortfall: 0 });
  });

  it("says how much is missing when the balance does not cover it", () => {
    expect(quotaPlan(12, 1, 10)).toMatchObject({ total: 12, after: -2, shortfall: 2 });
    expect(quotaPlan(5, 3, 0)).toMatchObject({ total: 15, shortfall: 15 });
  });

  it("cannot total a job that counts its own items", () => {
    expect(quotaPlan(null, 1, 10)).toMatchObject({ total: null, after: null, shortfall: 0 });
  });

  it("asks for confirmation only when something may be charged", () => {
    expect(needsConfirmation(3, 1)).toBe(true);
    expect(needsConfirmation(3, 0)).toBe(false);
    expect(needsConfirmation(0, 1)).toBe(false);
    expect(needsConfirmation(null, 1)).toBe(true);
  });
});

let wrapper: VueWrapper | null = null;
afterEach(() => {
  wrapper?.unmount();
  wrapper = null;
  i18n.global.locale.value = "zh-CN";
});

async function open(plan: ReturnType<typeof quotaPlan>, locale: "en" | "zh-CN", unit: "files" | "items" = "files") {
  i18n.global.locale.value = locale;
  const confirmed: number[] = [];
  wrapper = mount(QuotaConfirm, {
    props: { show: true, plan, unit, typeTitle: "Images", onConfirm: () => confirmed.push(1) },
    global: { plugins: [i18n] },
    attachTo: document.body,
  });
  await flushPromises();
  const dialog = document.querySelector('[data-test="quota-dialog"]') as HTMLElement;
  const text = (test: string) => dialog.querySelector(`[data-test="${test}"]`)?.textContent?.trim() ?? null;
  const confirm = dialog.querySelector('[data-test="quota-confirm"]') as HTMLButtonElement;
  return { dialog, text, confirm, confirmed };
}

describe("QuotaConfirm", () => {
  it("shows 3 张 × 1 配额 = 3 配额 with the balance before and after", async () => {
    const { dialog, text, confirm, confirmed } = await open(quotaPlan(3, 1, 100), "zh-CN");
    expect(dialog.getAttribute("role")).toBe("dialog");
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(document.getElementById(dialog.getAttribute("aria-labelledby")!)?.textContent).toBe("确认配额");
    expect(text("quota-sum")).toBe("3 张 × 1 配额 = 3 配额");
    expect(text("quota-before")).toBe("100 配额");
    expect(text("quota-after")).toBe("97 配额");
    expect(text("quota-shortfall")).toBeNull();
    expect(confirm.disabled).toBe(false);
    confirm.click();
    expect(confirmed).toEqual([1]);
  });

  it("takes the focus, keeps Tab inside and closes on Esc", async () => {
    const { dialog } = await open(quotaPlan(3, 1, 100), "en");
    expect(document.activeElement).toBe(dialog);
    const buttons = Array.from(dialog.querySelectorAll("button"));
    buttons.at(-1)!.focus();
    dialog.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", bubbles: true, cancelable: true }));
    expect(document.activeElement).toBe(buttons[0]);
    dialog.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", shiftKey: true, bubbles: true, cancelable: true }));
    expect(document.activeElement).toBe(buttons.at(-1));
    dialog.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(wrapper!.emitted("update:show")).toEqual([[false]]);
  });

  it("says it in English for typed items", async () => {
    const { text } = await open(quotaPlan(4, 2, 10), "en", "items");
    expect(text("quota-sum")).toBe("4 × 2 quota = 8 quota");
    expect(text("quota-after")).toBe("2 quota");
  });

  it("blocks the confirmation on a shortfall and says how much is missing", async () => {
    const { text, confirm, confirmed } = await open(quotaPlan(12, 1, 10), "zh-CN");
    expect(text("quota-shortfall")).toBe("⚠ 配额不足，还差 2。");
    expect(confirm.disabled).toBe(true);
    confirm.click();
    expect(confirmed).toEqual([]);
  });
});
