"""Faults are a pause, not a failure: the database going away, deadlocks, lock and idle timeouts.

The first tests provoke real errors (a refused port, a terminated backend, a deadlock between two sessions, a
lock wait past ``lock_timeout``, SQLite's write lock) and check how the store classifies them. The others run
real worker subprocesses whose connections go through a TCP proxy that the test cuts in mid-job.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, select, text

from batchyard import Yard
from batchyard.errors import DatabaseUnavailable, StorageError
from batchyard.store.sql.database import Database, Timeouts, translated
from batchyard.store.sql.tables import chunks
from tests.acceptance.helpers import (
    Workers,
    all_events,
    assert_ledger_done_exactly_once,
    create_effects_table,
    free_port,
    log_records,
    running_chunks,
    use_test_app,
    wait_for,
    wait_until_finished,
    worker_pid,
    workers,
)
from tests.support.proxy import Proxy

pytestmark = pytest.mark.slow


# --- classification of real errors -------------------------------------------------------------------------


def test_a_refused_connection_is_transient(postgres_server: str) -> None:
    db = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/test", timeouts=Timeouts(connect=2))
    try:
        with pytest.raises(DatabaseUnavailable), db.read() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        db.dispose()


def test_a_server_that_never_answers_is_transient_after_connect_timeout(postgres_server: str) -> None:
    with _silent_server() as port:
        db = Database(f"postgresql://postgres@127.0.0.1:{port}/test", timeouts=Timeouts(connect=2))
        try:
            with pytest.raises(DatabaseUnavailable), db.read() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            db.dispose()


def test_a_connection_dropped_mid_transaction_is_transient(pg_schema_url: str) -> None:
    with Proxy() as proxy:
        db = Database(proxy.url(pg_schema_url))
        try:
            with pytest.raises(DatabaseUnavailable):
                _interrupted_transaction(db, lambda _pid: proxy.drop_all())
            with db.read() as conn:  # the pool hands out a fresh connection afterwards
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
        finally:
            db.dispose()


def test_a_terminated_backend_is_transient(pg_schema_url: str) -> None:
    db = Database(pg_schema_url)
    try:
        with pytest.raises(DatabaseUnavailable):
            _interrupted_transaction(db, lambda pid: _terminate(pg_schema_url, pid))
    finally:
        db.dispose()


def test_a_deadlock_is_transient(pg_schema_url: str) -> None:
    db = Database(pg_schema_url)
    try:
        with db.write() as conn:
            conn.execute(text("CREATE TABLE rows_ (id int PRIMARY KEY)"))
            conn.execute(text("INSERT INTO rows_ VALUES (1), (2)"))
        both_hold_one = threading.Barrier(2, timeout=10)
        errors: list[BaseException] = []

        def lock_in_order(first: int, second: int) -> None:
            try:
                with db.write() as conn:
                    conn.execute(text("SELECT id FROM rows_ WHERE id = :id FOR UPDATE"), {"id": first})
                    both_hold_one.wait()
                    conn.execute(text("SELECT id FROM rows_ WHERE id = :id FOR UPDATE"), {"id": second})
            except StorageError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=lock_in_order, args=order) for order in ((1, 2), (2, 1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(errors) == 1, errors
        assert isinstance(errors[0], DatabaseUnavailable), errors
        assert "deadlock" in str(errors[0])
    finally:
        db.dispose()


def test_a_lock_wait_past_lock_timeout_is_transient(pg_schema_url: str) -> None:
    db = Database(pg_schema_url, timeouts=Timeouts(lock=0.2))
    try:
        with db.write() as conn:
            conn.execute(text("CREATE TABLE rows_ (id int PRIMARY KEY)"))
            conn.execute(text("INSERT INTO rows_ VALUES (1)"))
        with db.write() as holder:
            holder.execute(text("SELECT id FROM rows_ FOR UPDATE"))
            with pytest.raises(DatabaseUnavailable, match="lock timeout"), db.write() as waiter:
                waiter.execute(text("UPDATE rows_ SET id = 2"))
    finally:
        db.dispose()


def test_an_idle_transaction_is_ended_by_the_server_and_that_is_transient(pg_schema_url: str) -> None:
    db = Database(pg_schema_url, timeouts=Timeouts(idle_in_transaction=0.3))
    try:
        with pytest.raises(DatabaseUnavailable):
            _interrupted_transaction(
                db,
                lambda pid: wait_for(
                    lambda: not _backend_alive(pg_schema_url, pid), timeout=10, what="the idle session to end"
                ),
            )
    finally:
        db.dispose()


def test_the_session_settings_keep_the_urls_own_options(pg_schema_url: str) -> None:
    db = Database(pg_schema_url, timeouts=Timeouts(lock=1.5, idle_in_transaction=7))
    try:
        with db.read() as conn:
            assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "1500ms"
            assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar_one() == "7s"
            assert conn.execute(text("SHOW search_path")).scalar_one().startswith("t_")
    finally:
        db.dispose()


def test_sqlite_busy_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x int)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with pytest.raises(DatabaseUnavailable), translated(), engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        engine.dispose()
        holder.execute("ROLLBACK")
        holder.close()


def test_permanent_errors_stay_storage_errors(database_url: str) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(StorageError) as raised, db.read() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
        assert not isinstance(raised.value, DatabaseUnavailable)
    finally:
        db.dispose()


def test_an_unknown_database_is_not_transient(postgres_server: str) -> None:
    db = Database(postgres_server.rpartition("/")[0] + "/no_such_database_here")
    try:
        with pytest.raises(StorageError) as raised, db.read() as conn:
            conn.execute(text("SELECT 1"))
        assert not isinstance(raised.value, DatabaseUnavailable)
    finally:
        db.dispose()


# --- workers through a proxy that the test cuts --------------------------------------------------------------


@pytest.fixture
def pg_ledger(pg_schema_url: str) -> Iterator[Yard]:
    """A PostgreSQL test schema with the subprocesses' job types known and the effects table created."""
    yard = Yard(pg_schema_url, lease_seconds=2.0)
    use_test_app(yard, "ledger", "stalling_ledger")
    create_effects_table(yard)
    yield yard
    yard.close()


def test_an_outage_longer_than_the_lease_fails_nothing_and_burns_no_attempt(
    pg_ledger: Yard, pg_schema_url: str, tmp_path: Path
) -> None:
    items = range(600)
    job = pg_ledger.submit("ledger", items=items)
    with Proxy() as proxy, workers(proxy.url(pg_schema_url), tmp_path, lease=2.0, item_seconds=0.01) as pool:
        procs = [pool.start(), pool.start()]
        wait_for(lambda: pg_ledger.get(job.id).processed >= 100, timeout=60, what="some chunks committed")
        assert running_chunks(pg_ledger, job.id), "no chunk in hand when the database went away: make it bigger"
        proxy.outage(5.0)
        wait_for(lambda: not proxy.refusing, timeout=10, what="the end of the outage")
        wait_until_finished(pg_ledger, job.id, pool, timeout=90)
        assert [p.pid for p in pool.alive] == [p.pid for p in procs], pool.describe()
        _assert_nothing_lost_or_failed(pg_ledger, job.id, items)
        assert _logged(pool, procs, "database is back"), "no worker noticed the outage\n" + pool.describe()


def test_a_worker_survives_outages_while_idle_and_mid_chunk(
    pg_ledger: Yard, pg_schema_url: str, tmp_path: Path
) -> None:
    with Proxy() as proxy, workers(proxy.url(pg_schema_url), tmp_path, lease=2.0, item_seconds=0.2) as pool:
        worker = pool.start()
        first = pg_ledger.submit("ledger", items=range(10))
        wait_until_finished(pg_ledger, first.id, pool, timeout=60)  # the worker is up, and now idle
        proxy.outage(3.0)  # idle: nothing to do, only polls that fail
        wait_for(lambda: not proxy.refusing, timeout=10, what="the end of the first outage")

        items = range(30)
        job = pg_ledger.submit("ledger", items=items)
        wait_for(lambda: running_chunks(pg_ledger, job.id), timeout=60, what="a chunk in hand")
        proxy.outage(3.0)  # mid-chunk: the heartbeat and the commit meet a dead database
        wait_until_finished(pg_ledger, job.id, pool, timeout=60)
        assert worker.poll() is None, pool.describe()

    _assert_nothing_lost_or_failed(pg_ledger, job.id, items)


def test_a_worker_frozen_inside_its_commit_does_not_block_the_others(
    pg_ledger: Yard, pg_schema_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGSTOP inside the commit transaction: the server ends the idle session after the configured bound, the
    chunk is reclaimed, and the thawed worker's commit is refused by the fence."""
    monkeypatch.setenv("BATCHYARD_TEST_STALL_DIR", str(tmp_path))
    monkeypatch.setenv("BATCHYARD_PG_IDLE_IN_TRANSACTION_TIMEOUT", "1")
    (tmp_path / "hold").touch()
    items = range(40)
    job = pg_ledger.submit("stalling_ledger", items=items)
    with workers(pg_schema_url, tmp_path, lease=2.0, item_seconds=0.01) as pool:
        frozen = pool.start()
        wait_for((tmp_path / "stalled").exists, timeout=60, what="the first worker to stall in its commit")
        [(seq, _)] = running_chunks(pg_ledger, job.id)
        frozen.send_signal(signal.SIGSTOP)

        pool.start()
        wait_until_finished(pg_ledger, job.id, pool, timeout=60)

        (tmp_path / "hold").unlink()
        frozen.send_signal(signal.SIGCONT)
        wait_for(
            lambda: _logged(pool, [frozen], f"commit of chunk {seq} of job {job.id} refused"),
            timeout=30,
            what="the thawed worker's commit to be refused\n" + pool.describe(),
        )
        frozen.send_signal(signal.SIGTERM)
        assert frozen.wait(timeout=15) == 0, pool.describe()

    assert_ledger_done_exactly_once(pg_ledger, job.id, items)
    lost = [e.data for e in all_events(pg_ledger, job.id) if e.kind == "lost"]
    assert [d["chunk"] for d in lost] == [seq]
    assert worker_pid(lost[0]["worker"]) == frozen.pid


# --- helpers -------------------------------------------------------------------------------------------------


def _assert_nothing_lost_or_failed(yard: Yard, job_id: int, items: range) -> None:
    assert_ledger_done_exactly_once(yard, job_id, items)
    events = all_events(yard, job_id)
    assert [e.data for e in events if e.kind == "lost"] == [], "a chunk was taken for lost"
    with yard.store.db.read() as conn:
        lost = conn.execute(select(chunks.c.seq, chunks.c.lost).where(chunks.c.job_id == job_id)).all()
    assert [(seq, n) for seq, n in lost if n] == [], "an attempt was burnt"
    assert yard.get(job_id).failed == 0


def _logged(pool: Workers, procs: list[object], fragment: str) -> list[str]:
    pids = {getattr(p, "pid", None) for p in procs}
    return [
        str(record.get("message"))
        for pid, path in pool.logs.items()
        if pid in pids
        for record in log_records(path)
        if fragment in str(record.get("message"))
    ]


def _interrupted_transaction(db: Database, interrupt: Callable[[int], object]) -> None:
    """Open a transaction, let ``interrupt(backend pid)`` happen to it, then use it again."""
    with db.write() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        interrupt(pid)
        conn.execute(text("SELECT 1"))


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url.partition("?")[0], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _backend_alive(url: str, pid: int) -> bool:
    with psycopg.connect(url.partition("?")[0], autocommit=True) as admin:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return bool(row and row[0])


@contextmanager
def _silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word: a hung server, or a half-open network."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as sock:
        port: int = sock.getsockname()[1]
        yield port
