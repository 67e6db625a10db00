"""Cron schedules on SQLite and PostgreSQL, ticked over simulated time (the tick takes ``now``; the database and
the processes are real): one run per slot however many tickers, DST days fire once, overlap and missed-run
policies record every skipped slot with its reason, pause on failure, ``scheduled_for`` delivered."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from batchyard import Yard
from batchyard.core.schedules import NewSchedule, ScheduleChange, SlotOutcome
from batchyard.core.slot_rules import MissedPolicy, Overlap
from batchyard.errors import InvalidSchedule, ScheduleExists, UnknownJobType
from tests.acceptance.helpers import REPO, subprocess_env
from tests.support.schedule_apps import yard as app_yard

T0 = datetime(2026, 1, 5, 0, 0, 30, tzinfo=UTC)


@pytest.fixture
def yard(database_url: str, tmp_path: Path) -> Iterator[Yard]:
    made = Yard(database_url, data_dir=tmp_path)
    for job_type in app_yard.registry:
        made.registry.add(job_type, replaceable=True)
    try:
        yield made
    finally:
        made.close()


def _new(cron: str, *, type: str = "stamped", tz: str = "UTC", **options: object) -> NewSchedule:
    return NewSchedule(name=f"s-{cron}-{tz}", owner="ops", type=type, params={}, cron=cron, timezone=tz, **options)  # type: ignore[arg-type]


def _runs(yard: Yard, schedule_id: int) -> list[datetime]:
    slots = yard.store.schedules.slots(schedule_id, outcomes=[SlotOutcome.STARTED], limit=10_000)
    return sorted(slot.slot_at for slot in slots)


def test_four_ticking_processes_start_exactly_one_run_per_minute(yard: Yard, database_url: str) -> None:
    schedule = yard.schedules.create(_new("* * * * *", overlap=Overlap.ALLOW), now=T0)
    end = T0 + timedelta(minutes=10)
    env = subprocess_env(BATCHYARD_DATABASE_URL=database_url)
    tickers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.schedule_apps", T0.isoformat(), end.isoformat(), "4", str(seed)],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
        )
        for seed in range(4)
    ]
    for ticker in tickers:
        _, err = ticker.communicate(timeout=240)
        assert ticker.returncode == 0, err.decode()[-2000:]
    assert _runs(yard, schedule.id) == [T0.replace(second=0) + timedelta(minutes=m) for m in range(1, 11)]
    jobs = yard.store.list_jobs(type="stamped", limit=100)
    assert len(jobs) == 10
    assert sorted(datetime.fromisoformat(job.params["scheduled_for"]) for job in jobs) == _runs(yard, schedule.id)
    assert yard.store.schedules.count_slots(schedule.id) == {"started": 10}


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_a_daily_run_at_half_past_two_fires_once_a_day_across_both_dst_changes(yard: Yard, zone: str) -> None:
    """March 2026 holds both zones' spring change (NY 03-08, Berlin 03-29), and late October to November both
    fall changes (Berlin 10-25, NY 11-01): thirty days each, one run a local day, none doubled or lost."""
    for first in (datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 10, 15, tzinfo=UTC)):
        new = NewSchedule(f"daily-{first:%m}", "ops", "plain", {}, "30 2 * * *", zone, Overlap.ALLOW)
        schedule = yard.schedules.create(new, now=first)
        now = first
        while now < first + timedelta(days=30):
            now += timedelta(hours=2)
            yard.tick_schedules(now)
        days = [slot.astimezone(ZoneInfo(zone)).date() for slot in _runs(yard, schedule.id)]
        assert days == [first.date() + timedelta(days=d) for d in range(30)]
        assert yard.store.schedules.count_slots(schedule.id) == {"started": 30}


def test_overlap_skip_records_the_slot_and_its_reason(yard: Yard) -> None:
    schedule = yard.schedules.create(_new("*/5 * * * *", overlap=Overlap.SKIP), now=T0)
    yard.tick_schedules(T0 + timedelta(minutes=5))  # 00:05 starts; nobody works it, so it stays pending
    yard.tick_schedules(T0 + timedelta(minutes=10))  # 00:10: the previous run is still active
    slots = {s.slot_at.minute: s for s in yard.store.schedules.slots(schedule.id)}
    assert (slots[5].outcome, slots[10].outcome, slots[10].reason) == ("started", "skipped", "previous_running")
    yard.cancel(slots[5].job_id or 0)
    yard.tick_schedules(T0 + timedelta(minutes=15))
    assert len(_runs(yard, schedule.id)) == 2


def test_buffer_one_waits_for_the_previous_run_and_skips_a_second_waiter(yard: Yard) -> None:
    schedule = yard.schedules.create(_new("*/5 * * * *", overlap=Overlap.BUFFER_ONE), now=T0)
    for minutes in (5, 10, 15):
        yard.tick_schedules(T0 + timedelta(minutes=minutes))
    slots = {s.slot_at.minute: s for s in yard.store.schedules.slots(schedule.id)}
    assert [(slots[m].outcome, slots[m].reason) for m in (5, 10, 15)] == [
        ("started", None), ("buffered", None), ("skipped", "buffer_full"),
    ]  # fmt: skip
    yard.cancel(slots[5].job_id or 0)
    yard.tick_schedules(T0 + timedelta(minutes=16))
    again = {s.slot_at.minute: s for s in yard.store.schedules.slots(schedule.id)}
    assert again[10].outcome == "started"
    stamp = yard.get(again[10].job_id or 0).params["scheduled_for"]
    assert datetime.fromisoformat(stamp) == T0.replace(second=0) + timedelta(minutes=10)


def test_cancel_previous_cancels_the_run_in_flight_and_starts_the_new_one(yard: Yard) -> None:
    schedule = yard.schedules.create(_new("*/5 * * * *", overlap=Overlap.CANCEL_PREVIOUS), now=T0)
    yard.tick_schedules(T0 + timedelta(minutes=5))
    yard.tick_schedules(T0 + timedelta(minutes=10))
    slots = {s.slot_at.minute: s for s in yard.store.schedules.slots(schedule.id)}
    assert yard.get(slots[5].job_id or 0).status in ("cancelling", "cancelled")
    assert yard.get(slots[10].job_id or 0).status == "pending"


def test_missed_runs_after_a_pause_start_the_latest_once_and_sum_up_the_rest(yard: Yard) -> None:
    new = NewSchedule("hourly", "ops", "stamped", {}, "0 * * * *", "UTC", Overlap.ALLOW, MissedPolicy("latest_once"))
    schedule = yard.schedules.create(new, now=T0)
    yard.tick_schedules(T0 + timedelta(days=3))
    assert len(_runs(yard, schedule.id)) == 1
    assert yard.store.schedules.count_slots(schedule.id) == {"started": 1, "skipped": 71}
    skipped = yard.store.schedules.slots(schedule.id, outcomes=[SlotOutcome.SKIPPED], limit=100)
    assert {s.reason for s in skipped} == {"superseded"}


def test_catch_up_all_runs_the_slots_in_its_window_up_to_its_limit(yard: Yard) -> None:
    policy = MissedPolicy("catch_up_all", window=timedelta(hours=6), max_runs=4)
    new = NewSchedule("catch", "ops", "stamped", {}, "0 * * * *", "UTC", Overlap.ALLOW, policy)
    schedule = yard.schedules.create(new, now=T0)
    yard.tick_schedules(T0 + timedelta(hours=10))
    assert [r.hour for r in _runs(yard, schedule.id)] == [7, 8, 9, 10]
    reasons = {
        s.slot_at.hour: s.reason for s in yard.store.schedules.slots(schedule.id, outcomes=[SlotOutcome.SKIPPED])
    }
    # the window reaches back six hours from 10:00:30: 04:00 is just outside it
    assert reasons == {h: "outside_window" for h in (1, 2, 3, 4)} | {5: "over_limit", 6: "over_limit"}


def test_a_failed_run_pauses_a_schedule_that_asks_for_it_once(yard: Yard) -> None:
    new = NewSchedule("fails", "ops", "failing", {}, "*/5 * * * *", "UTC", Overlap.ALLOW, pause_on_failure=True)
    schedule = yard.schedules.create(new, now=T0)
    yard.tick_schedules(T0 + timedelta(minutes=5))
    job_id = _only_job(yard, schedule.id)
    assert yard.run_until_done(job_id, timeout=60).status == "failed"
    yard.tick_schedules(T0 + timedelta(minutes=10))
    paused = yard.schedules.get(schedule.id)
    assert (paused.paused, paused.paused_reason) == (True, f"run {job_id} failed")
    yard.schedules.resume(schedule.id, now=T0 + timedelta(minutes=11))
    yard.tick_schedules(T0 + timedelta(minutes=15))
    assert not yard.schedules.get(schedule.id).paused  # the same failure does not pause it again
    assert len(_runs(yard, schedule.id)) == 2


def _only_job(yard: Yard, schedule_id: int) -> int:
    (slot,) = yard.store.schedules.slots(schedule_id, outcomes=[SlotOutcome.STARTED])
    assert slot.job_id is not None
    return slot.job_id


def test_a_refused_submit_is_recorded_with_its_reason_in_both_languages(yard: Yard) -> None:
    schedule = yard.schedules.create(_new("*/5 * * * *", overlap=Overlap.ALLOW), now=T0)
    yard.store.schedules.change(schedule.id, ScheduleChange(params={"label": 5}))  # past the service's checks
    yard.tick_schedules(T0 + timedelta(minutes=5))
    (slot,) = yard.store.schedules.slots(schedule.id)
    assert (slot.outcome, slot.reason, slot.job_id) == ("refused", "invalid_params", None)
    assert "label" in (slot.detail or "")
    assert (slot.detail_zh or "").startswith("参数无效")


def test_declaring_checks_cron_zone_type_and_params_and_names_are_unique(yard: Yard) -> None:
    with pytest.raises(InvalidSchedule):
        yard.schedules.create(_new("61 * * * *"))
    with pytest.raises(InvalidSchedule):
        yard.schedules.create(_new("* * * * *", tz="Mars/Olympus"))
    with pytest.raises(UnknownJobType):
        yard.schedules.create(_new("* * * * *", type="nope"))
    yard.schedules.create(_new("* * * * *"))
    with pytest.raises(ScheduleExists):
        yard.schedules.create(_new("* * * * *"))
    assert [t.isoformat() for t in yard.schedules.preview("0 9 * * 1", "Asia/Shanghai", after=T0, count=2)] == [
        "2026-01-05T01:00:00+00:00", "2026-01-12T01:00:00+00:00",
    ]  # fmt: skip
