"""Defects a fresh-eyed review found in small submissions and event retention; each test failed before its fix.

1. The event watch rebuilt a libpq URL from SQLAlchemy's: a space in ``options`` became ``+`` and a space in a
   password was refused, so live events fell back to polling with a warning per wait.
2. A resumed stream was checked against the oldest kept event once; a tidy between two pages it read from the
   database skipped events without a ``reset``.
3. Tidy deleted by age, not as a prefix of ids: an event whose clock ran ahead stayed below deleted ones, and a
   resume after it saw nothing missing.
4. A small submission was planned (a key per item, done-key lookups) before an idempotent repeat, an exclusive
   key held or too little quota was noticed; a repeat whose planning failed was an error, not the job.
5. The reaper's first sweep ran the whole tidy backlog in one go, while the worker may hold a chunk no heartbeat
   renews; a sweep now deletes one batch.
6. Progress events sent ``pg_notify``, which makes PostgreSQL serialise the commits that carry them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import text, update

from batchyard import Context, Yard
from batchyard.api.routes.events import _stream
from batchyard.core.users import Role
from batchyard.errors import Conflict, QuotaInsufficient
from batchyard.service.auth import AuthService
from batchyard.service.events import EventHub
from batchyard.store.sql import housekeeping
from batchyard.store.sql.rows import emit, utcnow
from batchyard.store.sql.store import SqlStore
from batchyard.store.sql.tables import events


def _db(yard: Yard) -> Any:
    return yard.store.db  # type: ignore[attr-defined]


def _emit_many(yard: Yard, job_id: int, n: int) -> list[int]:
    with _db(yard).write() as conn:
        for i in range(n):
            emit(conn, job_id, "note", i=i)
    with _db(yard).read() as conn:
        return list(conn.execute(text("SELECT id FROM by_events WHERE kind = 'note' ORDER BY id")).scalars())


def _age(yard: Yard, *, days: float, where: Any = None) -> None:
    stmt = update(events).values(created_at=utcnow() - timedelta(days=days))
    with _db(yard).write() as conn:
        conn.execute(stmt if where is None else stmt.where(where))


# 1
@pytest.mark.parametrize("password", ["", ":pass%20word"], ids=["options-with-a-space", "password-with-a-space"])
def test_the_event_watch_connects_with_any_url_the_store_accepts(
    pg_schema_url: str, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, _, query = pg_schema_url.partition("?")
    schema = query.rsplit("%3D", 1)[1]
    url = f"{server.replace('postgres@', f'postgres{password}@', 1)}?options=-c%20search_path%3D{schema}"
    store = SqlStore(url)
    watch = store.watch_events()
    try:
        with caplog.at_level(logging.WARNING, logger="batchyard.events"):
            for _ in range(3):
                watch.wait(0.02)
        assert [r.getMessage() for r in caplog.records] == []
        assert watch._pg is not None  # type: ignore[attr-defined]
    finally:
        watch.close()
        store.close()


# 2
class _Connected:
    async def is_disconnected(self) -> bool:
        return False


def test_a_tidy_between_two_pages_of_a_resumed_stream_sends_reset(yard: Yard) -> None:
    yard.job("noop")(lambda item, ctx: item)
    ids = _emit_many(yard, yard.submit("noop", items=[1]).id, 1_500)
    hub = EventHub(yard.store)
    hub.start()

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        stream = _stream(_Connected(), hub, ids[0], None, lambda e: True, resumed=True)  # type: ignore[arg-type]
        first_page = [await anext(stream) for _ in range(1_000)]
        _age(yard, days=8)
        yard.store.tidy()
        following = await anext(stream)
        await stream.aclose()
        return first_page, following

    try:
        first_page, following = asyncio.run(scenario())
    finally:
        hub.stop()
    assert all(m["event"] != "reset" for m in first_page)
    assert following["event"] == "reset"


# 3
def test_tidy_stops_at_an_event_younger_than_the_retention(yard: Yard) -> None:
    yard.job("noop")(lambda item, ctx: item)
    ids = _emit_many(yard, yard.submit("noop", items=[1]).id, 10)
    _age(yard, days=8)
    _age(yard, days=6.99, where=events.c.id == ids[3])  # stamped by a host whose clock runs ahead
    yard.store.tidy()
    assert [e.id for e in yard.store.events(None, after=ids[2])] == ids[3:]
    hub = EventHub(yard.store)
    hub.start()
    try:
        assert hub.resume_after(ids[2])
        assert not hub.resume_after(ids[1])
    finally:
        hub.stop()


# 4
class _Keyed:
    calls = 0
    fail = False

    def key(self, item: int) -> str:
        type(self).calls += 1
        if type(self).fail:
            raise ValueError("the key service is down")
        return f"k{item}"

    def process(self, item: int, ctx: Context) -> int:
        return item


@pytest.fixture
def done_key_lookups(yard: Yard, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    seen = {"count": 0}
    original = SqlStore.done_keys

    def done_keys(self: SqlStore, scope: str, keys: Any) -> set[str]:
        seen["count"] += 1
        return original(self, scope, keys)

    monkeypatch.setattr(SqlStore, "done_keys", done_keys)
    _Keyed.calls, _Keyed.fail = 0, False
    return seen


def test_an_idempotent_repeat_plans_nothing(yard: Yard, done_key_lookups: dict[str, int]) -> None:
    yard.job("keyed", chunk_size=1, skip_done="{type}")(_Keyed)
    first = yard.submit("keyed", items=list(range(500)), idempotency_key="abc")
    _Keyed.calls, done_key_lookups["count"] = 0, 0
    _Keyed.fail = True  # a key function that calls out and fails now: the job exists already
    again = yard.submit("keyed", items=list(range(500)), idempotency_key="abc")
    assert again.id == first.id
    assert (_Keyed.calls, done_key_lookups["count"]) == (0, 0)


def test_an_exclusive_conflict_is_answered_before_planning(yard: Yard, done_key_lookups: dict[str, int]) -> None:
    yard.job("keyed", chunk_size=1, skip_done="{type}", exclusive="{type}")(_Keyed)
    yard.submit("keyed", items=list(range(500)))
    _Keyed.calls, done_key_lookups["count"] = 0, 0
    with pytest.raises(Conflict):
        yard.submit("keyed", items=list(range(500)))
    assert (_Keyed.calls, done_key_lookups["count"]) == (0, 0)


def test_too_little_quota_is_answered_before_planning(yard: Yard, done_key_lookups: dict[str, int]) -> None:
    yard.job("keyed", chunk_size=1, unit_cost=1)(_Keyed)
    AuthService(yard.store).create_user("ann", role=Role.OPERATOR, quota=10)
    with pytest.raises(QuotaInsufficient):
        yard.submit("keyed", items=list(range(500)), owner="ann")
    assert _Keyed.calls == 0


# 5
def test_a_sweep_deletes_one_batch_and_the_next_sweeps_go_on(yard: Yard, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(housekeeping, "TIDY_BATCH", 3)
    yard.job("noop")(lambda item, ctx: item)
    ids = _emit_many(yard, yard.submit("noop", items=[1]).id, 8)
    _age(yard, days=8)
    kept = []
    for _ in range(4):
        yard.store.reap()
        with _db(yard).read() as conn:
            kept.append(conn.execute(text("SELECT count(*) FROM by_events")).scalar_one())
    total = len(ids) + 2  # the job's created and planned events too
    assert kept == [total - 3, total - 6, total - 9, 1], "one batch a sweep, until only the newest is left"


# 6
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_progress_events_do_not_notify_but_a_finish_does(yard: Yard, database_url: str) -> None:
    yard.job("noop", chunk_size=1)(lambda item, ctx: item)
    job = yard.submit("noop", items=[1, 2, 3])
    server = database_url.partition("?")[0]
    schema = database_url.rpartition("search_path%3D")[2]

    def ours(notices: Iterator[psycopg.Notify]) -> list[str]:
        """Tests running at the same time in other schemas notify the same channel: their payload differs."""
        return [n.payload for n in notices if n.payload == schema]

    with psycopg.connect(server, autocommit=True) as listener:
        listener.execute("LISTEN batchyard_events")
        with _db(yard).write() as conn:
            emit(conn, job.id, "progress", items=1)
        assert ours(listener.notifies(timeout=0.3)) == []
        with _db(yard).write() as conn:
            emit(conn, job.id, "finished", status="succeeded")
        assert ours(listener.notifies(timeout=1)) == [schema], "one notice, naming its schema"


# 6, as deployments sharing a database see it
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_schema_is_not_woken_by_another_schemas_events(database_url: str, postgres_server: str) -> None:
    other = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {other}")
    mine, theirs = Yard(database_url), Yard(f"{postgres_server}?options=-csearch_path%3D{other}")
    try:
        mine.job("noop")(lambda item, ctx: item)
        theirs.job("noop")(lambda item, ctx: item)
        watch = mine.store.watch_events()
        watch.wait(0.01)  # connected and listening
        job = theirs.submit("noop", items=[1])
        began = time.monotonic()
        watch.wait(0.5)
        assert time.monotonic() - began >= 0.45, "another schema's events are not ours"
        mine.submit("noop", items=[1])
        began = time.monotonic()
        watch.wait(5)
        assert time.monotonic() - began < 2, "our own events wake us"
        watch.close()
        assert job.id
    finally:
        mine.close()
        theirs.close()
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {other} CASCADE")


# 6, during a rolling upgrade: an older process notifies with an empty payload, which may be ours
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_empty_notification_from_an_older_version_wakes_the_watch(yard: Yard, postgres_server: str) -> None:
    watch = yard.store.watch_events()
    try:
        watch.wait(0.01)  # connected and listening
        with psycopg.connect(postgres_server, autocommit=True) as older:
            older.execute("SELECT pg_notify('batchyard_events', '')")
        began = time.monotonic()
        watch.wait(5)
        assert time.monotonic() - began < 2
    finally:
        watch.close()
