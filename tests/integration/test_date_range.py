"""Jobs over a date range (seed 004's stock sync), on SQLite and PostgreSQL: one item per date checked at submit,
dates synced or known empty remembered so a re-run fetches none, a preview of what a submit would fetch, the
date in hand as ``current``, and one sync at a time however many are submitted at once."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from batchyard import Context, Yard
from batchyard.demo import market
from batchyard.errors import DateRangeReversed, DateRangeTooLong, InvalidJobType, InvalidParams
from batchyard.jobs.dates import date_range
from tests.integration.images_server import API, FINISHED, images_server

# 2025-09-29 (Mon) … 2025-10-12 (Sun): National Day week 10-01…10-08 and a weekend, four trading days.
FIRST, LAST = "2025-09-29", "2025-10-12"
TRADING = ["2025-09-29", "2025-09-30", "2025-10-09", "2025-10-10"]


@pytest.fixture
def shop(database_url: str, tmp_path: Path) -> Iterator[Yard]:
    yard = Yard(database_url, data_dir=tmp_path, lease_seconds=2.0)
    market.declare(yard, seconds_per_day=0)
    try:
        yield yard
    finally:
        yard.close()


def _quotes(yard: Yard) -> list[tuple[str, int]]:
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        found = conn.execute(text("SELECT day, count(*) FROM quotes GROUP BY day ORDER BY day")).all()
    return [(str(day)[:10], count) for day, count in found]


def test_each_trading_day_is_synced_once_and_a_rerun_fetches_no_date(shop: Yard) -> None:
    first = shop.run_until_done(shop.submit("quotes_sync", params={"start": FIRST, "end": LAST}).id, timeout=60)
    assert (first.status, first.total, first.succeeded, first.skipped, first.failed) == ("succeeded", 14, 4, 10, 0)
    assert _quotes(shop) == [(day, len(market.SYMBOLS)) for day in TRADING]
    holiday = next(i for i in shop.items(first.id) if i.key == "2025-10-01")
    assert (holiday.status, holiday.error) == ("skipped", "no trading on this day")

    again = shop.submit("quotes_sync", params={"start": FIRST, "end": LAST})
    again = shop.run_until_done(again.id, timeout=60)
    assert (again.status, again.succeeded, again.skipped) == ("succeeded", 0, 14)

    wider = shop.run_until_done(shop.submit("quotes_sync", params={"start": "2025-10-09", "end": "2025-10-20"}).id)
    assert (wider.succeeded, wider.skipped) == (6, 6)  # 10-13…10-17 and 10-20 fetched; the rest done or weekend
    assert [i.key for i in shop.items(wider.id, status="succeeded")] == [
        "2025-10-13", "2025-10-14", "2025-10-15", "2025-10-16", "2025-10-17", "2025-10-20",
    ]  # fmt: skip


def test_a_preview_lists_the_dates_to_fetch_and_those_already_done(shop: Yard) -> None:
    before = shop.preview("quotes_sync", params={"start": FIRST, "end": LAST})
    assert (before["items"], before["to_run"], before["done"], before["done_keys"]) == (14, 14, 0, [])
    shop.run_until_done(shop.submit("quotes_sync", params={"start": FIRST, "end": "2025-10-02"}).id, timeout=60)
    after = shop.preview("quotes_sync", params={"start": FIRST, "end": LAST})
    assert after["done_keys"] == ["2025-09-29", "2025-09-30", "2025-10-01", "2025-10-02"]
    assert (after["to_run_keys"][0], after["to_run"]) == ("2025-10-03", 10)
    assert _quotes(shop) == [(day, len(market.SYMBOLS)) for day in TRADING[:2]]  # a preview fetched nothing
    other = shop.preview("quotes_sync", params={"start": FIRST, "end": LAST, "symbol": "600001"})
    assert other["done"] == 0  # remembered per symbol scope


def test_a_range_is_checked_at_submit_in_both_languages(shop: Yard) -> None:
    with pytest.raises(DateRangeReversed) as reversed_:
        shop.submit("quotes_sync", params={"start": "2025-10-09", "end": "2025-10-01"})
    assert reversed_.value.message("zh-CN") == "开始日期 2025-10-09（start）晚于结束日期 2025-10-01（end）。"
    with pytest.raises(DateRangeTooLong) as too_long:
        shop.submit("quotes_sync", params={"start": "2025-01-01", "end": "2025-04-01"})
    assert too_long.value.message("en") == "A range may span at most 90 days; 2025-01-01 to 2025-04-01 spans 91."
    assert too_long.value.message("zh-CN") == "日期范围最多 90 天；2025-01-01 至 2025-04-01 共 91 天。"
    ninety = shop.submit("quotes_sync", params={"start": "2025-01-01", "end": "2025-03-31"})
    assert ninety.total == 90
    shop.cancel(ninety.id)
    with pytest.raises(InvalidParams):
        shop.submit("quotes_sync", params={"start": "2025-02-30", "end": "2025-03-01"})
    with pytest.raises(InvalidParams):
        shop.submit("quotes_sync", params={"start": "2025-01-01"})
    assert [j.id for j in shop.store.list_jobs(limit=10)] == [ninety.id]  # no refused submit left a job


def test_a_function_form_job_receives_dates_and_shows_the_one_in_hand(database_url: str, tmp_path: Path) -> None:
    yard = Yard(database_url, data_dir=tmp_path, lease_seconds=2.0)
    seen: list[tuple[datetime.date, str | None]] = []

    @yard.job("days", source=date_range("from_day", "to_day", max_days=7), skip_done="days")
    def day(item: datetime.date, ctx: Context) -> str:
        seen.append((item, ctx.current))
        return item.strftime("%A")

    try:
        job = yard.run_until_done(yard.submit("days", params={"from_day": "2026-03-27", "to_day": "2026-03-30"}).id)
        assert [o.output for o in yard.items(job.id)] == ["Friday", "Saturday", "Sunday", "Monday"]
        assert seen == [(datetime.date(2026, 3, 27 + i), f"2026-03-{27 + i}") for i in range(4)]
        assert job.current is None  # nothing is in hand once it has finished
        with pytest.raises(DateRangeTooLong):
            yard.submit("days", params={"from_day": "2026-03-01", "to_day": "2026-03-08"})
    finally:
        yard.close()


@pytest.mark.parametrize(
    "make",
    [lambda: date_range(max_days=0), lambda: date_range("day", "day"), lambda: date_range(max_days=True)],
)
def test_a_range_declared_wrong_is_refused_at_once(make: Any) -> None:
    with pytest.raises(InvalidJobType):
        make()


def _submit(http: httpx.Client, start: str, end: str) -> httpx.Response:
    return http.post(f"{API}/jobs", json={"type": "quotes_sync", "params": {"start": start, "end": end}})


def test_twenty_concurrent_syncs_one_runs_the_rest_are_told_which(database_url: str, tmp_path: Path) -> None:
    """A real ``batchyard serve`` with the demo's market: twenty submits at once, one 202 and nineteen 409 naming
    it; while it runs its ``current`` is a date; once done, a second sync of the range fetches nothing."""
    with images_server(database_url, tmp_path, app="batchyard.demo:yard") as server:
        user = server.user()
        answers: list[httpx.Response] = []
        go = threading.Barrier(20)

        def submit() -> None:
            go.wait()
            answers.append(_submit(user.http, "2025-10-09", "2025-10-24"))

        threads = [threading.Thread(target=submit) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        codes = sorted(a.status_code for a in answers)
        assert codes == [202] + [409] * 19, [a.text for a in answers]
        winner = next(a.json()["id"] for a in answers if a.status_code == 202)
        assert {a.json()["error"]["details"]["job_id"] for a in answers if a.status_code == 409} == {winner}
        currents = set()
        while (job := user.job(winner))["status"] not in FINISHED:
            currents.add(job["current"])
        assert (job["status"], job["succeeded"], job["skipped"]) == ("succeeded", 12, 4)
        dates = currents - {None}
        assert dates <= {f"2025-10-{d:02d}" for d in range(9, 25)}
        assert len(dates) >= 2
        again = user.finished(_submit(user.http, "2025-10-09", "2025-10-24").json()["id"])
        assert (again["succeeded"], again["skipped"]) == (0, 16)
