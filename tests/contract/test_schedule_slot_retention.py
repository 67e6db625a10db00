"""A schedule's slots do not pile up forever (an every-minute schedule decides half a million a year): tidying
deletes decided slots older than 30 days, but never a schedule's newest hundred, never one a ticker holds or a
buffered one, and never one less than a week behind the schedule's cursor — its row is what keeps a ticker that
read an old cursor from starting that slot's run a second time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batchyard import Yard
from batchyard.core.schedules import NewSchedule, Slot, SlotOutcome
from batchyard.store.sql import housekeeping

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def _schedule(yard: Yard, name: str, *, cursor: datetime) -> int:
    new = NewSchedule(name=name, owner="alice", type="noop", params={}, cron="* * * * *", timezone="UTC")
    return yard.store.schedules.create(new, now=cursor).id  # type: ignore[attr-defined]


def _slots(yard: Yard, schedule_id: int, times: list[datetime], outcome: SlotOutcome) -> None:
    store = yard.store.schedules  # type: ignore[attr-defined]
    for at in times:
        assert store.claim_slot(Slot(schedule_id, at, SlotOutcome.CLAIMED))
        if outcome is not SlotOutcome.CLAIMED:
            store.settle_slot(schedule_id, at, outcome, reason="overlap" if outcome is SlotOutcome.SKIPPED else None)


def _kept(yard: Yard, schedule_id: int) -> list[datetime]:
    found = yard.store.schedules.slots(schedule_id, limit=10_000)  # type: ignore[attr-defined]
    return sorted(slot.slot_at for slot in found)


def test_old_decided_slots_beyond_the_newest_hundred_are_deleted(yard: Yard) -> None:
    schedule = _schedule(yard, "minutely", cursor=NOW)
    old = [NOW - timedelta(days=40, minutes=m) for m in range(150)]
    recent = [NOW - timedelta(days=2, minutes=m) for m in range(30)]
    _slots(yard, schedule, old[:100], SlotOutcome.STARTED)
    _slots(yard, schedule, old[100:], SlotOutcome.SKIPPED)
    _slots(yard, schedule, recent, SlotOutcome.STARTED)
    deleted = yard.store.tidy()
    kept = _kept(yard, schedule)
    assert deleted == 180 - 100
    assert kept == sorted([*old, *recent])[-100:]  # the newest hundred, the 30 recent ones among them


def test_a_claimed_or_buffered_slot_is_never_deleted(yard: Yard) -> None:
    schedule = _schedule(yard, "held", cursor=NOW)
    held = [NOW - timedelta(days=90, minutes=m) for m in range(3)]
    buffered = [NOW - timedelta(days=80, minutes=m) for m in range(3)]
    _slots(yard, schedule, held, SlotOutcome.CLAIMED)
    _slots(yard, schedule, buffered, SlotOutcome.BUFFERED)
    _slots(yard, schedule, [NOW - timedelta(minutes=m) for m in range(100)], SlotOutcome.STARTED)
    yard.store.tidy()
    assert set(held + buffered) <= set(_kept(yard, schedule))


def test_slots_less_than_a_week_behind_the_cursor_are_kept_however_old(yard: Yard) -> None:
    """A schedule paused for months: its cursor is old, and so are the slots just behind it."""
    cursor = NOW - timedelta(days=200)
    schedule = _schedule(yard, "paused", cursor=cursor)
    near = [cursor - timedelta(days=3, minutes=m) for m in range(120)]
    far = [cursor - timedelta(days=10, minutes=m) for m in range(20)]
    _slots(yard, schedule, near + far, SlotOutcome.STARTED)
    yard.store.tidy()
    assert _kept(yard, schedule) == sorted(near)


def test_a_backlog_is_worked_through_in_batches(yard: Yard, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(housekeeping, "TIDY_BATCH", 7)
    schedule = _schedule(yard, "backlog", cursor=NOW)
    _slots(yard, schedule, [NOW - timedelta(days=60, minutes=m) for m in range(125)], SlotOutcome.STARTED)
    assert yard.store.tidy() == 25
    assert len(_kept(yard, schedule)) == 100


def test_an_old_slot_whose_run_has_not_finished_is_kept(yard: Yard) -> None:
    """Overlap and pause-on-failure find a schedule's runs through its slots: a run paused for months keeps its."""
    yard.job("noop")(lambda item, ctx: item)
    job = yard.submit("noop", items=[1], owner="alice")  # never run here: unfinished
    schedule = _schedule(yard, "long-run", cursor=NOW)
    at = NOW - timedelta(days=45)
    store = yard.store.schedules  # type: ignore[attr-defined]
    assert store.claim_slot(Slot(schedule, at, SlotOutcome.CLAIMED))
    store.settle_slot(schedule, at, SlotOutcome.STARTED, job_id=job.id)
    _slots(yard, schedule, [NOW - timedelta(days=40, minutes=m) for m in range(150)], SlotOutcome.SKIPPED)
    yard.store.tidy()
    assert at in _kept(yard, schedule)
    assert len(_kept(yard, schedule)) == 101
