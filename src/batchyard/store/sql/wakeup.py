"""Waking an idle worker when work may have arrived, rather than leaving it to poll on a growing backoff.

PostgreSQL: a transaction that makes work claimable (chunks stored, a job to plan, a resume or retry, chunks
given back or requeued) sends a NOTIFY, delivered when it commits; an idle worker LISTENs on its own connection
while it waits. It LISTENs only while it waits, so notifications do not pile up in the driver of a busy worker.

SQLite: any other connection's commit changes the file's ``PRAGMA data_version``; an idle worker looks at it
every few milliseconds, which costs microseconds.

Either way the wait is bounded by the caller's timeout, so work that announces itself to nobody (a retry's
backoff running out, a lease expiring) is still found by polling.

``EventWatch`` does the same for an API process's event reader, on a connection of its own that stays open
(PostgreSQL: LISTENing all along, since the reader drains it at once; a transaction that stores an event
notifies its channel).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg

from batchyard.store.sql.database import Database
from batchyard.store.sql.queries import EVENTS_CHANNEL
from batchyard.store.sql.raw import Raw, Sql
from batchyard.store.sql.rows import SomeConnection, as_raw

CHANNEL = "batchyard_work"
NOTIFY = Sql(f"SELECT pg_notify('{CHANNEL}', current_schema())")  # a schema wakes only its own listeners
SCHEMA = Sql("SELECT current_schema()")
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
    schema = raw.scalar(SCHEMA)
    raw.send(LISTEN)
    try:
        _until_notified(conn, schema, seconds)
    finally:
        raw.send(UNLISTEN)


def _until_notified(conn: psycopg.Connection[Any], schema: object, seconds: float) -> None:
    """Return on the first notification from ``schema`` (another schema's are passed over; an empty payload,
    from a process of an older version during an upgrade, may be anyone's and wakes too), or after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        for notice in conn.notifies(timeout=left, stop_after=1):
            if notice.payload in (schema, ""):
                return


def _watch_data_version(raw: Raw, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    seen = raw.scalar(DATA_VERSION)
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, SQLITE_LOOK_EVERY))
        if raw.scalar(DATA_VERSION) != seen:
            return


log = logging.getLogger("batchyard.events")


class EventWatch:
    """Waits until new events may have been committed. Any trouble with its connection is logged and turns
    the wait into a plain sleep; the next wait connects again."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sqlite: Any = None
        self._seen_version: Any = None  # SQLite: the data_version last seen, kept between waits
        self._pg: psycopg.Connection[Any] | None = None  # made by the pool, then detached from it
        self._schema: object = None  # the schema whose notifications are ours

    def wait(self, seconds: float) -> None:
        began = time.monotonic()
        try:
            if self.db.is_sqlite:
                self._wait_sqlite(seconds)
            else:
                self._wait_postgresql(seconds)
        except Exception as exc:  # noqa: BLE001 - a wake-up is an optimisation: polling goes on without one
            log.warning("waiting for events failed, polling instead: %s", " ".join(str(exc).split()))
            self.close()
            time.sleep(max(0.0, seconds - (time.monotonic() - began)))

    def _wait_sqlite(self, seconds: float) -> None:
        """Return once data_version differs from the last one seen, by the previous wait included: a commit
        between two waits (while the reader read) must wake the second one at once."""
        if self._sqlite is None:
            self._sqlite = self.db.reader.raw_connection()
            self._seen_version = None
        raw = Raw(self._sqlite.driver_connection, is_sqlite=True)
        deadline = time.monotonic() + seconds
        while True:
            version = raw.scalar(DATA_VERSION)
            if self._seen_version is None:
                self._seen_version = version
            elif version != self._seen_version:
                self._seen_version = version
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, SQLITE_LOOK_EVERY))

    def _wait_postgresql(self, seconds: float) -> None:
        if self._pg is None:
            # made by the engine, as every other connection is (whatever the URL's options or password hold),
            # then detached from the pool: LISTEN stays with it until it is closed
            fairy = self.db.writer.raw_connection()
            conn = fairy.driver_connection
            assert isinstance(conn, psycopg.Connection)
            fairy.detach()
            self._pg = conn
            conn.rollback()
            conn.autocommit = True
            row = conn.execute("SELECT current_schema()").fetchone()
            self._schema = row[0] if row else None
            conn.execute(f"LISTEN {EVENTS_CHANNEL}")
        _until_notified(self._pg, self._schema, seconds)

    def close(self) -> None:
        sqlite, pg, self._sqlite, self._pg = self._sqlite, self._pg, None, None
        for conn in (sqlite, pg):
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # closing what may be broken already
                    log.debug("closing an event watch's connection failed", exc_info=True)
