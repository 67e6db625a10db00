"""The live feed hands events out in id order, each once, even when PostgreSQL transactions commit their
events out of id order; a gap left by a transaction that rolled back is passed after the gap wait."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from tests.contract.invariants import wait_for

from batchyard import Yard
from batchyard.service.events import EventHub

INSERT = "INSERT INTO by_events (job_id, kind, data, created_at) VALUES (%s, 'note', '{}', now()) RETURNING id"


@pytest.fixture
def pg_yard(pg_schema_url: str) -> Iterator[Yard]:
    yard = Yard(pg_schema_url)
    yard.job("steady", chunk_size=1)(lambda item, ctx: item)
    yield yard
    yard.close()


def _open_transaction(url: str, job_id: int) -> tuple[psycopg.Connection, int]:
    conn = psycopg.connect(url)
    row = conn.execute(INSERT, (job_id,)).fetchone()
    assert row is not None
    return conn, int(row[0])


def test_a_later_event_waits_for_an_earlier_one_still_uncommitted(pg_yard: Yard, pg_schema_url: str) -> None:
    job = pg_yard.submit("steady", items=range(2))
    other = pg_yard.submit("steady", items=range(2))  # its row is not the one the open insert's key check locks
    hub = EventHub(pg_yard.store, poll=0.01, gap_wait=60)
    hub.start()
    before = hub.head
    slow, held = _open_transaction(pg_schema_url, job.id)  # takes an id, does not commit yet
    try:
        pg_yard.pause(other.id)  # commits a later event
        later = pg_yard.store.last_event_id()
        assert later > held
        reads = hub.reads
        wait_for(lambda: hub.reads >= reads + 5, what="the hub read the table a few times")
        assert hub.head == before, "an event was handed out past an id still in flight"
        slow.commit()
        slow.close()
        wait_for(lambda: hub.head == later, what="both events handed out")
        events, complete_to = hub.after(before)
        assert [e.id for e in events] == list(range(held, later + 1))
        assert complete_to == later
    finally:
        slow.close()
        hub.stop()


def test_a_gap_left_by_a_rollback_is_passed_after_the_gap_wait(pg_yard: Yard, pg_schema_url: str) -> None:
    job = pg_yard.submit("steady", items=range(2))
    other = pg_yard.submit("steady", items=range(2))
    hub = EventHub(pg_yard.store, poll=0.01, gap_wait=0.3)
    hub.start()
    failed, lost = _open_transaction(pg_schema_url, job.id)
    try:
        pg_yard.pause(other.id)
        later = pg_yard.store.last_event_id()
        failed.rollback()
        failed.close()
        wait_for(lambda: hub.head == later, what="the hub passed the gap")
        events, _ = hub.after(lost - 1)
        assert lost not in [e.id for e in events]
        assert events[-1].id == later
    finally:
        failed.close()
        hub.stop()
