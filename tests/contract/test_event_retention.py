"""Events are kept for a retention period (the newest always), stale failed sign-ins go too, the reaper sweep
tidies now and then, a resume from before the oldest kept event is refused (the stream sends `reset`), and
the event reader is woken by a commit instead of waiting out its poll."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text, update

from batchyard import Yard
from batchyard.core.users import Role
from batchyard.service.auth import AuthService
from batchyard.service.events import EventHub
from batchyard.store.sql import housekeeping
from batchyard.store.sql import store as sql_store
from batchyard.store.sql.rows import as_utc, emit, utcnow
from batchyard.store.sql.tables import deliveries, events


def _sql(yard: Yard):  # type: ignore[no-untyped-def]
    return yard.store.db  # type: ignore[attr-defined]


def _age_events(yard: Yard, *, ids_below: int, days: float) -> None:
    with _sql(yard).write() as conn:
        conn.execute(update(events).where(events.c.id < ids_below).values(created_at=utcnow() - timedelta(days=days)))


def _event_ids(yard: Yard) -> list[int]:
    with _sql(yard).read() as conn:
        return list(conn.execute(text("SELECT id FROM by_events ORDER BY id")).scalars())


@pytest.fixture
def noisy(yard: Yard) -> Yard:
    yard.job("noop", chunk_size=1)(lambda item, ctx: item)
    for _ in range(3):
        yard.run_until_done(yard.submit("noop", items=range(3)).id, timeout=30)
    return yard


def test_tidy_deletes_events_past_retention_and_keeps_the_rest(noisy: Yard) -> None:
    ids = _event_ids(noisy)
    middle = ids[len(ids) // 2]
    _age_events(noisy, ids_below=middle, days=8)
    deleted = noisy.store.tidy()
    assert deleted == len([i for i in ids if i < middle])
    assert _event_ids(noisy) == [i for i in ids if i >= middle]
    assert noisy.store.oldest_event_id() == middle


def test_tidy_keeps_the_newest_event_however_old(noisy: Yard) -> None:
    """On SQLite a deleted newest id would be handed out again, and a resuming client would skip it."""
    ids = _event_ids(noisy)
    _age_events(noisy, ids_below=ids[-1] + 1, days=30)
    noisy.store.tidy()
    assert _event_ids(noisy) == [ids[-1]]
    job = noisy.submit("noop", items=[1])
    assert min(e.id for e in noisy.store.events(job.id)) > ids[-1], "an id was handed out twice"


def test_tidy_works_through_a_backlog_in_batches(noisy: Yard, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(housekeeping, "TIDY_BATCH", 2)
    ids = _event_ids(noisy)
    _age_events(noisy, ids_below=ids[-1], days=8)
    assert noisy.store.tidy() == len(ids) - 1
    assert _event_ids(noisy) == [ids[-1]]


def test_tidy_forgets_failed_sign_ins_older_than_a_day(yard: Yard) -> None:
    now_minute = int(time.time() // 60)
    yard.store.record_login_failure(("name:old",), now_minute - 2 * 24 * 60)
    yard.store.record_login_failure(("name:recent",), now_minute - 10)
    yard.store.tidy()
    with _sql(yard).read() as conn:
        kept = set(conn.execute(text("SELECT subject FROM by_login_failures")).scalars())
    assert kept == {"name:recent"}


def test_the_reaper_sweep_tidies_once_per_interval(noisy: Yard, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _event_ids(noisy)
    noisy.store.reap()  # the first sweep of this process (if the worker's was not): tidies nothing old yet
    _age_events(noisy, ids_below=ids[1], days=8)
    noisy.store.reap()
    assert _event_ids(noisy) == ids, "tidied again before the interval passed"
    monkeypatch.setattr(sql_store, "TIDY_EVERY", 0.0)
    noisy.store.reap()
    assert _event_ids(noisy) == ids[1:]


def test_a_resume_is_refused_from_before_the_oldest_kept_event_or_past_the_newest(noisy: Yard) -> None:
    ids = _event_ids(noisy)
    _age_events(noisy, ids_below=ids[5], days=8)
    noisy.store.tidy()
    hub = EventHub(noisy.store)
    hub.start()
    try:
        assert hub.resume_after(ids[4]), "the next event is the oldest kept: nothing is missing"
        assert not hub.resume_after(ids[3]), "the event after it was deleted"
        assert not hub.resume_after(0)
        assert hub.resume_after(ids[-1])
        assert not hub.resume_after(ids[-1] + 1_000), "an id from another (or an older) database"
    finally:
        hub.stop()


def test_a_watch_returns_when_an_event_is_committed(noisy: Yard) -> None:
    job = noisy.submit("noop", items=[1])
    watch = noisy.store.watch_events()
    try:
        watch.wait(0.01)  # connected and listening before the event
        timer = threading.Timer(0.3, lambda: _emit(noisy, job.id))
        timer.start()
        began = time.monotonic()
        watch.wait(30)
        waited = time.monotonic() - began
        timer.join()
    finally:
        watch.close()
    assert 0.2 < waited < 20, f"woke after {waited:.2f} s: not by the commit"


def _emit(yard: Yard, job_id: int) -> None:
    with _sql(yard).write() as conn:
        emit(conn, job_id, "note")


def test_a_watch_on_a_broken_connection_sleeps_instead_and_recovers(noisy: Yard) -> None:
    watch = noisy.store.watch_events()
    try:
        watch.wait(0.01)
        broken = watch._pg or watch._sqlite  # type: ignore[attr-defined]
        broken.close()
        began = time.monotonic()
        watch.wait(0.3)  # fails inside, sleeps out the rest of its time
        assert time.monotonic() - began >= 0.25
        job = noisy.submit("noop", items=[1])
        watch.wait(0.01)
        timer = threading.Timer(0.2, lambda: _emit(noisy, job.id))
        timer.start()
        began = time.monotonic()
        watch.wait(30)
        timer.join()
        assert time.monotonic() - began < 20, "the watch did not connect again"
    finally:
        watch.close()


def test_tidy_deletes_deliveries_that_ended_long_ago_and_keeps_pending_ones(yard: Yard) -> None:
    user, _ = AuthService(yard.store).create_user("ann", role=Role.OPERATOR, quota=0)
    old, recent = utcnow() - timedelta(days=31), utcnow() - timedelta(days=1)
    rows = [("delivered", old), ("failed", old), ("pending", old), ("delivered", recent), ("failed", recent)]
    with _sql(yard).write() as conn:
        for status, created in rows:
            conn.execute(
                insert(deliveries).values(
                    user_id=user.id,
                    channel="webhook",
                    target_id=1,
                    event="ping",
                    data="{}",
                    status=status,
                    attempts=0,
                    log="[]",
                    next_attempt_at=created,
                    created_at=created,
                )
            )
    yard.store.tidy()
    with _sql(yard).read() as conn:
        kept = sorted(
            (r.status, as_utc(r.created_at) > utcnow() - timedelta(days=2)) for r in conn.execute(select(deliveries))
        )
    assert kept == [("delivered", True), ("failed", True), ("pending", False)]


def test_a_commit_between_two_waits_wakes_the_second_at_once(noisy: Yard) -> None:
    """The reader reads between waits: an event committed meanwhile must not wait for the next poll."""
    job = noisy.submit("noop", items=[1])
    watch = noisy.store.watch_events()
    try:
        watch.wait(0.01)
        _emit(noisy, job.id)  # while nobody waits
        began = time.monotonic()
        watch.wait(10)
        assert time.monotonic() - began < 5, "the commit made before the wait was missed"
    finally:
        watch.close()
