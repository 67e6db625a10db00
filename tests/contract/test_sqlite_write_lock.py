"""SQLite's write lock: a writer asks for it again every few milliseconds while another process holds it (not
through SQLite's busy handler, whose pauses grow to 100 ms), gives up after the busy timeout as a transient
error, and one process's writers queue on a mutex of their own before asking."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from batchyard.errors import DatabaseUnavailable
from batchyard.store.sql import database
from batchyard.store.sql.database import Database
from batchyard.store.sql.raw import Sql

HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""

HAMMER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
for _ in range(int(sys.argv[2])):
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE tally SET n = n + 1")
    conn.execute("COMMIT")
"""


@pytest.fixture
def db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path}/lock.db")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE tally (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO tally VALUES (0)"))
    return db


@contextmanager
def _held(db: Database, seconds: float) -> Iterator[None]:
    """Another process holds the write lock for ``seconds`` from when this is entered."""
    path = db.url.removeprefix("sqlite:///")
    with subprocess.Popen([sys.executable, "-c", HOLDER, path, str(seconds)], stdout=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "held"
        try:
            yield
        finally:
            p.kill()


def test_a_writers_connection_has_sqlites_busy_handler_off(db: Database) -> None:
    with db.write() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 0
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == database.SQLITE_BUSY_TIMEOUT_MS


def test_a_writer_waits_for_another_processs_lock_then_writes(db: Database) -> None:
    with _held(db, 0.5):
        began = time.monotonic()
        with db.write() as conn:  # with the busy handler off and no loop this would fail at once: locked
            conn.execute(text("UPDATE tally SET n = n + 1"))
        assert time.monotonic() - began >= 0.3, "the lock was not held: the test proves nothing"
    with db.read() as conn:
        assert conn.execute(text("SELECT n FROM tally")).scalar_one() == 1


def test_a_raw_writer_waits_too(db: Database) -> None:
    with _held(db, 0.3), db.raw(write=True) as raw:
        raw.send(Sql("UPDATE tally SET n = n + 1"))
    with db.read() as conn:
        assert conn.execute(text("SELECT n FROM tally")).scalar_one() == 1


def test_a_lock_held_past_the_busy_timeout_is_a_transient_error(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 300)
    with _held(db, 5), pytest.raises(DatabaseUnavailable, match="locked"), db.write() as conn:
        conn.execute(text("UPDATE tally SET n = n + 1"))


def test_threads_and_another_process_writing_at_once_lose_nothing(db: Database) -> None:
    path = db.url.removeprefix("sqlite:///")
    hammer = subprocess.Popen([sys.executable, "-c", HAMMER, path, "400"])
    errors: list[BaseException] = []

    def add(times: int) -> None:
        try:
            for _ in range(times):
                with db.write() as conn:
                    conn.execute(text("UPDATE tally SET n = n + 1"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(100,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert hammer.wait(timeout=60) == 0
    assert errors == []
    with db.read() as conn:
        assert conn.execute(text("SELECT n FROM tally")).scalar_one() == 1000


def test_one_processs_databases_on_one_file_share_a_mutex(tmp_path: Path) -> None:
    first, second = Database(f"sqlite:///{tmp_path}/a.db"), Database(f"sqlite:///{tmp_path}/./a.db")
    other = Database(f"sqlite:///{tmp_path}/b.db")
    assert first._write_mutex is second._write_mutex
    assert first._write_mutex is not other._write_mutex
