"""Waking an idle worker when work may have arrived, rather than leaving it to poll on a growing backoff.

PostgreSQL: a transaction that makes work claimable (chunks stored, a job to plan, a resume or retry, chunks
given back or requeued) sends a NOTIFY, delivered when it commits; an idle worker LISTENs on its own connection
while it waits. It LISTENs only while it waits, so notifications do not pile up in the driver of a busy worker.

SQLite: any other connection's commit changes the file's ``PRAGMA data_version``; an idle worker looks at it
every few milliseconds, which costs microseconds.

Either way the wait is bounded by the caller's timeout, so work that announces itself to nobody (a retry's
backoff running out, a lease expiring) is still found by polling.
"""

from __future__ import annotations

import time
from typing import Any

from batchyard.store.sql.database import Database
from batchyard.store.sql.raw import Raw, Sql
from batchyard.store.sql.rows import SomeConnection, as_raw

CHANNEL = "batchyard_work"
NOTIFY = Sql(f"SELECT pg_notify('{CHANNEL}', '')")
LISTEN, UNLISTEN = Sql(f"LISTEN {CHANNEL}"), Sql(f"UNLISTEN {CHANNEL}")
DATA_VERSION = Sql("PRAGMA data_version")
SQLITE_LOOK_EVERY = 0.003  # seconds between looks at SQLite's data_version


def announce_work(conn: SomeConnection) -> None:
    """Inside a transaction that makes work claimable: wake the idle workers once it commits (PostgreSQL)."""
    raw = as_raw(conn)
    if not raw.is_sqlite:
        raw.send(NOTIFY)


def wait_for_work(db: Database, seconds: float) -> None:
    """Return after ``seconds``, or as soon as work may have arrived."""
    with db.raw(write=False) as raw:
        if raw.is_sqlite:
            _watch_data_version(raw, seconds)
        else:
            _listen(raw, seconds)


def _listen(raw: Raw, seconds: float) -> None:
    conn: Any = raw.connection
    raw.send(LISTEN)
    try:
        for _ in conn.notifies(timeout=seconds, stop_after=1):
            pass
    finally:
        raw.send(UNLISTEN)


def _watch_data_version(raw: Raw, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    seen = raw.scalar(DATA_VERSION)
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, SQLITE_LOOK_EVERY))
        if raw.scalar(DATA_VERSION) != seen:
            return
