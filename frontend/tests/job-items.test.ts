// The items table: read a page at a time by cursor as the user scrolls, never all at once; filtered by
// status; an item's output file downloaded from its own address.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import axe from "axe-core";
import { NDialogProvider, NMessageProvider } from "naive-ui";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defineComponent, h } from "vue";
import { configureClient, type Schemas } from "@/api/client";
import JobItemsTable, { PAGE_SIZE } from "@/components/job/JobItemsTable.vue";
import { i18n, missingKeys } from "@/i18n";
import { usePrefs } from "@/stores/prefs";

const fetchMock = vi.hoisted(() => {
  const mock = vi.fn<(input: Request | string, init?: RequestInit) => Promise<Response>>();
  vi.stubGlobal("fetch", mock);
  return mock;
});

// happy-dom lays nothing out: a list that observes its size is told it is 480 px high, as the table's body is.
vi.hoisted(() => {
  class SizedObserver {
    constructor(private readonly callback: (entries: unknown[]) => void) {}
    observe(target: Element): void {
      queueMicrotask(() => this.callback([{ target, contentRect: { height: 480, width: 1200 } }]));
    }
    unobserve(): void {}
    disconnect(): void {}
  }
  vi.stubGlobal("ResizeObserver", SizedObserver);
});

type Item = Schemas["ItemOut"];
interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
}
let sent: Sent[] = [];
/** Held answers: a test releases them when it wants the page to arrive. */
let held: (() => void)[] = [];
let holding = false;
/** The service says an item has no output file of its own (an export's file is the job's). */
let outputRefused = false;

function item(index: number, status = "succeeded"): Item {
  return {
    index,
    key: null,
    status,
    input: `${index}.jpg`,
    output: status === "succeeded" ? { artifact_id: 100 + index, name: `${index}.webp`, content_type: "image/webp", size: 2048, width: 800, height: 800 } : null,
    error: status === "failed" ? "ValueError: cannot read image: truncated file" : null,
    attempts: 1,
  };
}

/** A job of `total` items, served as the service does: after the cursor, up to the limit, by status. */
function serve(total: number, statusOf: (i: number) => string = () => "succeeded"): void {
  sent = [];
  held = [];
  fetchMock.mockImplementation(async (input: Request | string) => {
    const request = typeof input === "string" ? new Request(new URL(input, "http://localhost")) : input;
    const url = new URL(request.url, "http://localhost");
    sent.push({ method: request.method, path: url.pathname, query: url.searchParams });
    if (url.pathname.endsWith("/output") && outputRefused) {
      const refusal = { error: { code: "no_item_output", message: "Item 3 of job 7 has no output file.", details: {} } };
      return new Response(JSON.stringify(refusal), { status: 404, headers: { "Content-Type": "application/json" } });
    }
    if (url.pathname.endsWith("/output") || url.pathname.startsWith("/api/v1/artifacts/")) {
      return new Response("bytes", { headers: { "Content-Disposition": 'attachment; filename="3.webp"' } });
    }
    const after = url.searchParams.has("cursor") ? Number(url.searchParams.get("cursor")) : -1;
    const limit = Number(url.searchParams.get("limit") ?? 100);
    const wanted = url.searchParams.get("status");
    const items: Item[] = [];
    let last = after;
    for (let i = after + 1; i < total && items.length < limit; i += 1) {
      last = i;
      if (!wanted || statusOf(i) === wanted) items.push(item(i, statusOf(i)));
    }
    const body = { items, next_cursor: last < total - 1 ? String(last) : null };
    const answer = new Response(JSON.stringify(body), { headers: { "Content-Type": "application/json" } });
    if (!holding) return answer;
    return new Promise<Response>((resolve) => held.push(() => resolve(answer)));
  });
}

const pageRequests = (): Sent[] => sent.filter((s) => s.path === "/api/v1/jobs/7/items");

async function mountTable(refresh = 0): Promise<VueWrapper> {
  const pinia = createPinia();
  setActivePinia(pinia);
  const prefs = usePrefs();
  prefs.locale = "en";
  prefs.timeZone = "UTC";
  i18n.global.locale.value = "en";
  configureClient({ token: () => "by_test", language: () => "en", signedOut: () => undefined });
  const host = defineComponent({
    props: { refresh: { type: Number, default: 0 } },
    setup: (props) => () =>
      h(NMessageProvider, null, () => h(NDialogProvider, null, () => h(JobItemsTable, { jobId: 7, refresh: props.refresh }))),
  });
  const mounted = mount(host, { props: { refresh }, global: { plugins: [pinia, i18n] }, attachTo: document.body });
  await flushPromises();
  return mounted;
}

/** The user scrolls the table's body to its end (happy-dom lays nothing out: every distance is 0). */
async function scrollToEnd(wrapper: VueWrapper): Promise<void> {
  const body = wrapper.find(".v-vl");
  expect(body.exists()).toBe(true);
  await body.trigger("scroll");
  await flushPromises();
}

let wrapper: VueWrapper | undefined;
beforeEach(() => {
  document.body.innerHTML = "";
  holding = false;
  outputRefused = false;
  missingKeys.length = 0;
});
afterEach(() => {
  vi.restoreAllMocks();
  wrapper?.unmount();
  wrapper = undefined;
  expect(missingKeys).toEqual([]);
});

describe("items table paging", () => {
  it("reads only the first page at first, with no cursor", async () => {
    serve(1_000_000);
    wrapper = await mountTable();
    expect(pageRequests()).toHaveLength(1);
    const first = pageRequests()[0]!.query;
    expect(first.get("limit")).toBe(String(PAGE_SIZE));
    expect(first.has("cursor")).toBe(false);
    expect(first.has("status")).toBe(false);
    expect(wrapper.find('[data-test="items-loaded"]').text()).toBe("200 items loaded");
  });

  it("asks for the next cursor as the user scrolls near the end, one page at a time", async () => {
    serve(1_000_000);
    wrapper = await mountTable();
    holding = true;
    await scrollToEnd(wrapper);
    await scrollToEnd(wrapper); // a second scroll while the page is on its way asks nothing more
    expect(pageRequests()).toHaveLength(2);
    expect(pageRequests()[1]!.query.get("cursor")).toBe("199");
    held.forEach((release) => release());
    await flushPromises();
    expect(wrapper.find('[data-test="items-loaded"]').text()).toBe("400 items loaded");
    holding = false;
    await scrollToEnd(wrapper);
    expect(pageRequests()[2]!.query.get("cursor")).toBe("399");
  });

  it("stops at the end: no cursor, no more requests", async () => {
    serve(250);
    wrapper = await mountTable();
    await scrollToEnd(wrapper);
    expect(pageRequests()).toHaveLength(2);
    expect(wrapper.find('[data-test="items-loaded"]').text()).toBe("250 items loaded · All loaded");
    expect(wrapper.find('[data-test="items-more"]').exists()).toBe(false);
    await scrollToEnd(wrapper);
    expect(pageRequests()).toHaveLength(2);
  });

  it("offers a button for the next page too (for the keyboard)", async () => {
    serve(1_000);
    wrapper = await mountTable();
    await wrapper.find('[data-test="items-more"]').trigger("click");
    await flushPromises();
    expect(pageRequests()[1]!.query.get("cursor")).toBe("199");
  });

  it("starts again from the first page, with the status, when the filter changes", async () => {
    serve(1_000, (i) => (i % 10 === 3 ? "failed" : "succeeded"));
    wrapper = await mountTable();
    await scrollToEnd(wrapper);
    await wrapper.find('[data-test="items-filter-failed"] input').setValue(true);
    await flushPromises();
    const last = pageRequests().at(-1)!.query;
    expect(last.get("status")).toBe("failed");
    expect(last.has("cursor")).toBe(false);
    expect(wrapper.find('[data-test="items-loaded"]').text()).toBe("100 items loaded · All loaded");
    expect(wrapper.findAll('[data-test="status-badge"]').every((b) => b.attributes("data-status") === "failed")).toBe(true);
  });

  it("keeps the rows a user scrolled to when the job is read afresh", async () => {
    serve(1_000);
    wrapper = await mountTable();
    await wrapper.setProps({ refresh: 1 });
    await flushPromises();
    expect(pageRequests()).toHaveLength(2); // one page loaded: read again
    await scrollToEnd(wrapper);
    await wrapper.setProps({ refresh: 2 });
    await flushPromises();
    expect(pageRequests()).toHaveLength(3); // two pages: left alone
    expect(wrapper.find('[data-test="items-loaded"]').text()).toBe("400 items loaded");
  });
});

describe("items table reload", () => {
  it("reads the first page again on demand, showing the old rows until it arrives", async () => {
    serve(1_000);
    wrapper = await mountTable();
    await scrollToEnd(wrapper);
    holding = true;
    await wrapper.find('[data-test="items-reload"]').trigger("click");
    await flushPromises();
    expect(pageRequests().at(-1)!.query.has("cursor")).toBe(false);
    expect(wrapper.find('[data-test="items-loaded"]').text()).toBe("400 items loaded");
    held.forEach((release) => release());
    await flushPromises();
    expect(wrapper.find('[data-test="items-loaded"]').text()).toBe("200 items loaded");
  });
});

describe("items table rows", () => {
  it("shows the status as a symbol and a word, and downloads an item's output from its own address", async () => {
    serve(5, (i) => (i === 1 ? "failed" : i === 2 ? "skipped" : "succeeded"));
    globalThis.URL.createObjectURL = vi.fn(() => "blob:x");
    globalThis.URL.revokeObjectURL = vi.fn();
    const saved: string[] = [];
    // the download's click on a blob link would send happy-dom's window away: record the file instead
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      saved.push(this.download);
    });
    wrapper = await mountTable();
    const badges = wrapper.findAll('[data-test="status-badge"]').map((b) => b.text().replace(/\s+/g, " "));
    expect(badges.slice(0, 3)).toEqual(["✓ Succeeded", "✗ Failed", "– Skipped"]);
    const links = wrapper.findAll('[data-test="item-output"]');
    expect(links).toHaveLength(3); // succeeded items only
    expect(links[1]!.attributes("aria-label")).toBe("Download the output of item 3");
    await links[1]!.trigger("click");
    await flushPromises();
    expect(sent.at(-1)!.path).toBe("/api/v1/jobs/7/items/3/output");
    expect(saved).toEqual(["3.webp"]);

    // an export names the job's own file in its last item's output: that file is read as an artifact
    outputRefused = true;
    await links[1]!.trigger("click");
    await flushPromises();
    expect(sent.slice(-2).map((s) => s.path)).toEqual(["/api/v1/jobs/7/items/3/output", "/api/v1/artifacts/103"]);
    expect(saved).toHaveLength(2);
  });
});

describe("items table accessibility", () => {
  it("has a named, keyboard-reachable scrolling body and no structural problems", async () => {
    serve(1_000, (i) => (i % 4 === 1 ? "failed" : "succeeded"));
    wrapper = await mountTable();
    const body = wrapper.find(".v-vl");
    expect(body.attributes("tabindex")).toBe("0");
    expect(body.attributes("aria-label")).toBe("Items of job #7");
    const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
    expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 120)).join(" | ")}`)).toEqual([]);
  });
});
