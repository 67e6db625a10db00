"""The operations pages in a real browser against a real service: a date-range sync (seed 004) picked, previewed,
started and watched to its summary; a second sync of the same range fetches nothing; a sync already running
is named with a link to it."""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from tests.acceptance.helpers import wait_for
from tests.e2e.conftest import screenshot, serious_violations, settled, sign_in
from tests.e2e.server import DemoServer


def _pick_range(page: Page, start: str, end: str) -> None:
    inputs = page.locator("[data-test=sync-range-picker] input")
    inputs.nth(0).click()
    inputs.nth(0).fill(start)
    inputs.nth(1).click()
    inputs.nth(1).fill(end)
    inputs.nth(1).press("Enter")
    page.keyboard.press("Escape")  # the picker's panel closes


def _symbol(page: Page, symbol: str) -> None:
    page.locator("[data-test=sync-form] input[type=text]").last.fill(symbol)


def _symbol_for(time_zone: str, n: int) -> str:
    """A symbol of its own per test and time zone: the tests share one server, and a synced day stays done."""
    return f"6{'01' if time_zone == 'UTC' else '02'}{n:03d}"


def test_sync_a_date_range_and_watch_each_day_to_the_summary(watched: Page, demo: DemoServer, time_zone: str) -> None:
    """2025-10-09 … 2025-10-24: sixteen days, twelve of trading, four of weekend."""
    symbol = _symbol_for(time_zone, 1)
    sign_in(watched, demo, path="/sync")
    _pick_range(watched, "2025-10-09", "2025-10-24")
    _symbol(watched, symbol)
    expect(watched.locator("[data-test=range-days]")).to_contain_text("16")
    expect(watched.locator("[data-test=preview-summary]")).to_contain_text("16", timeout=10_000)
    settled(watched)
    assert serious_violations(watched) == []
    screenshot(watched, "sync-form")
    watched.locator("[data-test=sync-start]").click()
    expect(watched.locator("[data-test=sync-current]")).to_contain_text("2025-10-", timeout=30_000)
    screenshot(watched, "sync-running")
    summary = watched.locator("[data-test=sync-summary]")
    expect(summary).to_contain_text("12", timeout=60_000)
    expect(summary).to_contain_text("4")
    screenshot(watched, "sync-finished")
    job_id = int(watched.url.split("job=")[1].split("&")[0])
    job = demo.http("alice").get(f"/jobs/{job_id}").json()
    assert (job["status"], job["succeeded"], job["failed"], job["skipped"]) == ("succeeded", 12, 0, 4)
    assert job["params"] == {"start": "2025-10-09", "end": "2025-10-24", "symbol": symbol}

    watched.locator("[data-test=sync-again]").click()  # the same range again: every day is done
    _pick_range(watched, "2025-10-09", "2025-10-24")
    _symbol(watched, symbol)
    expect(watched.locator("[data-test=preview-summary]")).to_contain_text("0", timeout=10_000)
    preview = (
        demo.http("alice")
        .post(
            "/job-types/quotes_sync/preview",
            json={"params": {"start": "2025-10-09", "end": "2025-10-24", "symbol": symbol}},
        )
        .json()
    )
    assert (preview["to_run"], preview["done"]) == (0, 16)


@pytest.mark.refusals(409)
def test_a_sync_already_running_is_named_with_a_link(watched: Page, demo: DemoServer, time_zone: str) -> None:
    http = demo.http("alice")
    symbol = _symbol_for(time_zone, 2)
    running = http.post(
        "/jobs",
        json={"type": "quotes_sync", "params": {"start": "2025-07-01", "end": "2025-09-20", "symbol": symbol}},
    ).json()
    sign_in(watched, demo, path="/sync")
    _pick_range(watched, "2025-07-01", "2025-07-05")
    _symbol(watched, symbol)
    with watched.expect_response(lambda r: r.url.endswith("/api/v1/jobs") and r.status == 409):
        watched.locator("[data-test=sync-start]").click()
    link = watched.locator("[data-test=conflict-job]")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"/jobs/{running['id']}")
    http.post(f"/jobs/{running['id']}/cancel")


def test_a_range_over_ninety_days_is_refused_before_it_is_sent(watched: Page, demo: DemoServer) -> None:
    sign_in(watched, demo, path="/sync")
    _pick_range(watched, "2025-01-01", "2025-04-01")
    expect(watched.locator("[data-test=range-error]")).to_contain_text("90")
    expect(watched.locator("[data-test=sync-start]")).to_be_disabled()


def test_create_a_schedule_with_its_next_five_fire_times_then_pause_it(
    watched: Page, demo: DemoServer, time_zone: str
) -> None:
    name = f"月结账单 {time_zone}"
    sign_in(watched, demo, path="/schedules/new")
    watched.locator("[data-test=field-name] input").fill(name)
    watched.locator("[data-test=field-type] .n-base-selection").click()
    watched.locator(".n-base-select-option").filter(has_text="Monthly bills").click()
    cron = watched.locator("[data-test=cron-input] input")
    cron.fill("0 2 1 * *")
    expect(watched.locator("[data-test=cron-preview] [data-test=fire-time]")).to_have_count(5, timeout=10_000)
    settled(watched)
    assert serious_violations(watched) == []
    screenshot(watched, "schedule-editor")
    watched.locator("[data-test=save]").click()
    expect(watched.locator("[data-test=schedule-title]")).to_contain_text(name, timeout=10_000)
    schedule_id = int(watched.url.rstrip("/").split("/")[-1])
    saved = demo.http("alice").get(f"/schedules/{schedule_id}").json()
    assert (saved["cron"], saved["type"], saved["timezone"]) == ("0 2 1 * *", "monthly_bills", "Asia/Shanghai")
    assert all(t.endswith("18:00:00Z") or t.endswith("18:00:00+00:00") for t in saved["next"])  # 02:00 in Shanghai

    watched.locator("[data-test=pause]").click()
    watched.locator("[data-test=pause-reason] input, [data-test=pause-reason] textarea").first.fill("月底封账")
    watched.locator("[data-test=pause-confirm]").click()
    expect(watched.locator("[data-test=paused-reason]")).to_contain_text("月底封账", timeout=10_000)
    assert demo.http("alice").get(f"/schedules/{schedule_id}").json()["paused"] is True


@pytest.mark.refusals(422)
def test_a_cron_the_server_refuses_is_explained_in_the_editor(watched: Page, demo: DemoServer) -> None:
    sign_in(watched, demo, path="/schedules/new")
    watched.locator("[data-test=cron-input] input").fill("61 * * * *")
    expect(watched.locator("[data-test=cron-error]")).to_contain_text("61", timeout=10_000)


@pytest.mark.slow  # waits for the server's own scheduler to reach the next minute
def test_a_schedule_started_by_the_server_shows_its_slot_and_job(
    watched: Page, demo: DemoServer, time_zone: str
) -> None:
    http = demo.http("alice")
    symbol = _symbol_for(time_zone, 3)
    body = {
        "name": f"sync {symbol}",
        "type": "quotes_sync",
        "cron": "* * * * *",
        "timezone": "UTC",
        "overlap": "skip",
        "params": {"start": "2025-06-02", "end": "2025-06-03", "symbol": symbol},
    }
    created = http.post("/schedules", json=body)
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]

    def started() -> list[dict[str, object]] | None:
        slots = http.get(f"/schedules/{schedule_id}/slots").json()["slots"]
        return [s for s in slots if s["outcome"] == "started"] or None

    first = wait_for(started, timeout=90, what="the scheduler to start a run", interval=1.0)
    http.post(f"/schedules/{schedule_id}/pause", json={"reason": "test over"})
    sign_in(watched, demo, path=f"/schedules/{schedule_id}")
    job_link = watched.locator("[data-test=slot-job]").first
    expect(job_link).to_have_attribute("href", f"/jobs/{first[0]['job_id']}", timeout=10_000)
    screenshot(watched, "schedule-slots")


def _choose(page: Page, select: str, option: str) -> None:
    page.locator(f"{select} .n-base-selection").first.click()
    page.locator(".n-base-select-option").filter(has_text=re.compile(option)).first.click()


def _total_price(demo: DemoServer) -> str:
    with sqlite3.connect(f"file:{demo.data_dir / 'batchyard.db'}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT sku, price FROM products ORDER BY sku").fetchall()
    return str(sum(Decimal(str(price)) for _, price in rows))


def test_raise_every_price_preview_apply_atomically_and_roll_back(watched: Page, demo: DemoServer) -> None:
    """Seed 003's +5% on every price: previewed (nothing changes), applied atomically, rolled back to the cent."""
    before = _total_price(demo)
    sign_in(watched, demo, path="/bulk")
    _choose(watched, "[data-test=bulk-resource]", "^products$")
    if watched.locator("[data-test=bulk-set-row]").count() == 0:
        watched.locator("[data-test=bulk-set-add]").click()
    _choose(watched, "[data-test=bulk-set-row] [data-test=bulk-set-field]", "价格|price")
    watched.locator("[data-test=bulk-set-expr] input").first.fill("round(price * 1.05, 2)")
    watched.locator("[data-test=bulk-apply-atomic]").click()
    watched.locator("[data-test=bulk-preview]").click()
    expect(watched.locator("[data-test=bulk-preview-counts]")).to_be_visible(timeout=20_000)
    expect(watched.locator("[data-test=bulk-preview-diffs]")).to_be_visible()
    assert _total_price(demo) == before  # a preview changes nothing
    settled(watched)
    assert serious_violations(watched) == []
    screenshot(watched, "bulk-preview")
    watched.locator("[data-test=bulk-apply]").click()
    watched.locator("[data-test=bulk-confirm]").click()
    expect(watched.locator("[data-test=bulk-live-summary]")).to_be_visible(timeout=60_000)
    after = _total_price(demo)
    assert Decimal(after) > Decimal(before)
    screenshot(watched, "bulk-applied")
    watched.locator("[data-test=bulk-rollback]").click()
    watched.locator("[data-test=rollback-confirm]").click()
    watched.wait_for_url(re.compile(r"/jobs/\d+"), timeout=20_000)
    expect(watched.locator("[data-test=job-status]")).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(watched.locator("[data-test=rollback-conflicts-none], [data-test=rollback-conflicts]").first).to_be_visible()
    assert _total_price(demo) == before


def test_a_migration_report_per_table_and_a_range_copied_again(watched: Page, demo: DemoServer) -> None:
    """Seed 003's legacy users, migrated from the demo's bundled SQLite file: the report on the job's page, then
    one range copied again from its button."""
    from batchyard.demo.legacy import migration_params

    http = demo.http("alice")
    params = migration_params(demo.data_dir / "sources" / "legacy.db")
    submitted = http.post("/jobs", json={"type": "migrate", "params": params})
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    sign_in(watched, demo, path=f"/jobs/{job_id}")
    expect(watched.locator("[data-test=job-status]")).to_have_attribute("data-status", "succeeded", timeout=120_000)
    report = watched.locator("[data-test=migration-report]")
    expect(report.locator("[data-test=report-verify]").first).to_contain_text(re.compile("通过|passed"), timeout=20_000)
    expect(report.locator("[data-test=report-ranges]")).to_be_visible()
    settled(watched)
    assert serious_violations(watched) == []
    screenshot(watched, "migration-report")
    table = http.get(f"/jobs/{job_id}/report").json()["tables"][0]
    assert (table["written"], table["rejected"]) == (19_988, 12)
    watched.locator("[data-test=range-recopy-0]").click()
    watched.locator("[data-test=recopy-confirm]").click()
    watched.wait_for_url(lambda url: url.rstrip("/").endswith(f"/jobs/{job_id}") is False, timeout=20_000)
    expect(watched.locator("[data-test=job-status]")).to_have_attribute("data-status", "succeeded", timeout=60_000)
