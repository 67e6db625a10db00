"""Connections: one engine per URL, SQLite tuned for many processes, PostgreSQL waits bounded, driver errors
translated — transient ones (the database away, a deadlock, a lock wait cut short) into DatabaseUnavailable."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from batchyard.errors import ConfigurationError, DatabaseUnavailable, StorageError
from batchyard.store.sql.raw import Raw, Sql

# Writers wait for SQLite's lock far longer than the longest commit takes, so contention is never an error.
# The page cache is kept small: the OS caches the file anyway, and a large cache would grow every process
# (a submitter storing 2M items grew 20 MiB with 16 MiB of cache, 3 MiB with 2 MiB).
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 2_048
# How often a writer asks again for SQLite's write lock while another process holds it: SQLite's own busy
# handler pauses up to 100 ms between tries, so a waiter slept through many short commits of busy workers.
SQLITE_LOCK_POLL = (0.0002, 0.002)  # the first and the longest pause, seconds
# The writers of one process queue here rather than at SQLite's lock (one mutex per database file).
_SQLITE_WRITE_MUTEXES: dict[str, threading.RLock] = {}
_MUTEXES_GUARD = threading.Lock()

# PostgreSQL errors that say "not now" rather than "never": the connection is gone or refused (class 08), the
# server is shutting down or restarting (57P01-57P03), too many connections (53300), a deadlock (40P01) or
# serialization failure (40001) that the server broke, a lock wait or statement cut short by lock_timeout
# (55P03) or statement_timeout (57014), a transaction ended by idle_in_transaction_session_timeout (25P03).
TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "40P01", "40001", "55P03", "57014", "25P03"})
TRANSIENT_SQLSTATE_CLASSES = ("08",)
# A refusal at connect time comes without a SQLSTATE, as "FATAL: <message>": these say "not now"; any other
# (an unknown database or role, a failed password) is a configuration error and stays one.
TRANSIENT_CONNECT_REFUSALS = (
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "too many clients",
    "remaining connection slots are reserved",
)


BEGIN, COMMIT = Sql("BEGIN"), Sql("COMMIT")


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (``postgresql://``, ``postgres://``) and use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    if not url.startswith(("sqlite", "postgresql+psycopg://")):
        raise ConfigurationError(reason=f"unsupported database URL {url!r}; use sqlite:/// or postgresql://")
    return url


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Bounds on PostgreSQL waits, in seconds (0 turns one off). ``lock`` and ``idle_in_transaction`` are
    well above anything a healthy commit does, a user's ``write`` included; see decision 0010."""

    connect: float = 10.0
    lock: float = 30.0
    idle_in_transaction: float = 60.0


class Database:
    """A writer and a reader engine. On SQLite, writers start with ``BEGIN IMMEDIATE`` so that two
    transactions never deadlock upgrading a read lock; readers use plain deferred transactions (WAL lets them
    run beside a writer). On PostgreSQL both are the same pool."""

    def __init__(
        self, url: str, *, pool_size: int = 4, timeouts: Timeouts | None = None, durable_chunks: bool = False
    ) -> None:
        self.url = normalize_url(url)
        self.durable_chunks = durable_chunks
        self._pins = threading.local()
        self.dialect = make_url(self.url).get_backend_name()
        self._write_mutex: threading.RLock | None = None
        if self.dialect == "sqlite":
            _ensure_parent(self.url)
            self.writer = _sqlite_engine(self.url, immediate=True)
            self.reader = _sqlite_engine(self.url, immediate=False)
            self._write_mutex = _sqlite_write_mutex(self.url)
        else:
            self.writer = _postgresql_engine(self.url, pool_size, timeouts or Timeouts())
            self.reader = self.writer

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._writing(), translated(), self.writer.begin() as conn, _lost_connection(conn):
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """SQLite: this process's writers one at a time, before SQLite's lock, which other processes share."""
        if self._write_mutex is None:
            yield
            return
        acquired = False
        try:  # acquired inside the try: an exception raised in this thread right after cannot leak the lock
            acquired = self._write_mutex.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
            if not acquired:
                raise DatabaseUnavailable(reason="another writer of this process held the database for too long")
            yield
        finally:
            if acquired:
                self._write_mutex.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with translated(), self.reader.begin() as conn, _lost_connection(conn):
            yield conn

    @contextmanager
    def raw(self, *, write: bool, pipelined: bool = False) -> Iterator[Raw]:
        """A transaction on a pooled (or this thread's pinned) connection, run on the driver itself (see
        ``raw.py``): a writer's takes SQLite's write lock from the start, as ``write()`` does. ``pipelined``
        (a writer's, on PostgreSQL): the whole transaction in pipeline mode, see ``_pipelined``."""
        with self._writing() if write else nullcontext():
            yield from self._raw(write=write, pipelined=pipelined)

    def _raw(self, *, write: bool, pipelined: bool) -> Iterator[Raw]:
        fairy, pinned = self._checkout(write)
        dbapi: Any = fairy.driver_connection
        try:
            with translated_driver_errors(fairy):
                try:
                    yield from self._transaction(dbapi, write=write, pipelined=pipelined)
                except BaseException:
                    if pinned:
                        _roll_back(dbapi, is_sqlite=self.is_sqlite)
                    raise
        except DatabaseUnavailable:
            if pinned:  # a fresh connection next time: this one may be the reason
                self._pins.fairy = None
                self._unpin(fairy)
            raise
        finally:
            if not pinned:
                fairy.close()  # back to the pool, which rolls back whatever is left open

    def _transaction(self, dbapi: Any, *, write: bool, pipelined: bool = False) -> Iterator[Raw]:
        """A writer's transaction (SQLite: with the write lock from the start), or a reader's statements, each
        seeing a snapshot of its own and costing no BEGIN or COMMIT."""
        raw = Raw(dbapi, is_sqlite=self.is_sqlite)
        if not write:
            if not self.is_sqlite:
                dbapi.autocommit = True
            try:
                yield raw
            finally:
                if not self.is_sqlite:
                    dbapi.autocommit = False
            return
        if self.is_sqlite:
            begin_immediate(dbapi)
            yield raw
            dbapi.execute("COMMIT")
        elif pipelined:
            yield from _pipelined(raw)
        else:
            yield raw
            dbapi.commit()

    def _checkout(self, write: bool) -> tuple[Any, bool]:
        """This thread's pinned connection when it has one (see ``pinned``), else one from the pool."""
        if getattr(self._pins, "active", False):
            if self._pins.fairy is None:
                with translated():
                    fairy = self.writer.raw_connection()
                try:
                    self._set_chunk_durability(fairy, pinned=True)
                except BaseException:
                    _discard(fairy)  # never pinned, never back in the pool half set up
                    raise
                self._pins.fairy = fairy
            return self._pins.fairy, True
        with translated():
            return (self.writer if write else self.reader).raw_connection(), False

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Keep one connection checked out for this thread's raw transactions while the block runs (a worker's
        loop): a claim and a commit then cost no trip through the pool."""
        self._pins.active, self._pins.fairy = True, None
        try:
            yield
        finally:
            fairy = self._pins.fairy
            self._pins.active, self._pins.fairy = False, None
            if fairy is not None:
                self._unpin(fairy)

    def _unpin(self, fairy: Any) -> None:
        """Give a pinned connection back to the pool durable again, or, if that cannot be made sure, close it."""
        try:
            self._set_chunk_durability(fairy, pinned=False)
        except (StorageError, AttributeError):
            _discard(fairy)
        else:
            fairy.close()

    def _set_chunk_durability(self, fairy: Any, *, pinned: bool) -> None:
        """A pinned connection carries a worker's claims and commits, which on PostgreSQL need not wait for
        the disk (decision 0015): a commit lost to a server crash is redone from the previous one, with every
        effect it held. Given back to the pool, the connection is durable again."""
        if self.is_sqlite or self.durable_chunks:
            return
        with translated_driver_errors(fairy):
            dbapi: Any = fairy.driver_connection
            dbapi.execute("SET synchronous_commit = off" if pinned else "RESET synchronous_commit")
            dbapi.commit()

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


@contextmanager
def translated() -> Iterator[None]:
    """Driver errors leave the store as batchyard errors; integrity errors are for callers to interpret.
    Connecting happens inside too (the pool connects on ``begin``), so a refused connection is translated."""
    try:
        yield
    except IntegrityError:
        raise
    except DBAPIError as exc:
        reason = _first_line(exc.orig)
        raise (DatabaseUnavailable(reason=reason) if is_transient(exc) else StorageError(reason=reason)) from exc
    except PoolTimeout as exc:
        raise DatabaseUnavailable(reason=f"no free connection in the pool: {_first_line(exc)}") from exc
    except (sqlite3.Error, psycopg.Error) as exc:  # a hot-path statement run on the driver itself (raw.py)
        if isinstance(exc, sqlite3.IntegrityError | psycopg.IntegrityError):
            raise
        raise _driver_error(exc, broken=False) from exc


def is_transient(exc: DBAPIError) -> bool:
    """True for an error that may well not happen again: worth a retry, never a reason to fail work."""
    if exc.connection_invalidated:
        return True
    return _transient_driver_error(exc.orig, operational=isinstance(exc, OperationalError))


def _transient_driver_error(orig: BaseException | None, *, operational: bool) -> bool:
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        return sqlstate in TRANSIENT_SQLSTATES or sqlstate.startswith(TRANSIENT_SQLSTATE_CLASSES)
    if type(orig).__module__.startswith("psycopg"):
        return operational and _connect_failure_is_transient(str(orig))
    return _sqlite_busy(orig)


@contextmanager
def translated_driver_errors(fairy: Any) -> Iterator[None]:
    """The driver's own errors, raised on a raw connection, leave as batchyard errors (integrity errors as
    they are); a connection that broke is dropped from the pool, so the next checkout gets a fresh one."""
    try:
        yield
    except (sqlite3.Error, psycopg.Error) as exc:
        if isinstance(exc, sqlite3.IntegrityError | psycopg.IntegrityError):
            raise
        broken = bool(getattr(fairy.driver_connection, "broken", False))
        if broken:
            fairy.invalidate()
        raise _driver_error(exc, broken=broken) from exc


def _pipelined(raw: Raw) -> Iterator[Raw]:
    """A PostgreSQL transaction in pipeline mode, BEGIN and COMMIT sent as statements on an autocommit
    connection: the driver's own BEGIN would cost a round trip of its own. Nothing waits for an answer until a
    result is read, and the COMMIT goes with whatever was sent last (a claim's UPDATE)."""
    dbapi = raw.connection
    dbapi.autocommit = True
    try:
        with dbapi.pipeline():
            raw.send(BEGIN)
            yield raw
            raw.send(COMMIT)
    except BaseException:
        _roll_back(dbapi, is_sqlite=False)
        raise
    finally:
        with suppress(psycopg.Error):  # a connection that broke is dropped by the caller
            dbapi.autocommit = False


def _discard(fairy: Any) -> None:
    """Close a pooled connection for good (it will be replaced), unless that already happened."""
    if fairy.is_valid:
        fairy.invalidate()
    else:
        fairy.close()


def _roll_back(dbapi: Any, *, is_sqlite: bool) -> None:
    """Leave a pinned connection outside any transaction after a failure; a broken one needs nothing."""
    with suppress(sqlite3.Error, psycopg.Error):
        if not is_sqlite:
            dbapi.rollback()
        elif dbapi.in_transaction:
            dbapi.execute("ROLLBACK")


def _driver_error(exc: sqlite3.Error | psycopg.Error, *, broken: bool) -> StorageError:
    operational = isinstance(exc, sqlite3.OperationalError | psycopg.OperationalError)
    transient = broken or _transient_driver_error(exc, operational=operational)
    reason = _first_line(exc)
    return DatabaseUnavailable(reason=reason) if transient else StorageError(reason=reason)


def _connect_failure_is_transient(message: str) -> bool:
    """No SQLSTATE: the server was not reached (refused, closed, timed out), or it refused the session."""
    if "FATAL:" not in message:
        return True
    return any(phrase in message for phrase in TRANSIENT_CONNECT_REFUSALS)


def _sqlite_busy(orig: BaseException | None) -> bool:
    name = str(getattr(orig, "sqlite_errorname", ""))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database is busy" in message


@contextmanager
def _lost_connection(conn: Connection) -> Iterator[None]:
    """Once the connection has died mid-transaction, SQLAlchemy refuses further use of it with errors that are
    not the driver's (``PendingRollbackError``, a closed-resource error): the cause is the lost connection."""
    try:
        yield
    except DBAPIError:
        raise
    except SQLAlchemyError as exc:
        if conn.invalidated:
            raise DatabaseUnavailable(reason=f"the connection was lost ({_first_line(exc)})") from exc
        raise


def _first_line(exc: BaseException | None) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _ensure_parent(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _postgresql_engine(url: str, pool_size: int, timeouts: Timeouts) -> Engine:
    """Every wait is bounded: connecting, waiting for a lock, and a session left idle inside a transaction (a
    worker frozen mid-commit), so nobody blocks the reaper or other workers for longer than that."""
    connect_args = {"connect_timeout": math.ceil(timeouts.connect)} if timeouts.connect > 0 else {}
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=4, pool_pre_ping=True, connect_args=connect_args, future=True
    )
    settings = {"lock_timeout": timeouts.lock, "idle_in_transaction_session_timeout": timeouts.idle_in_transaction}
    # SET on connect rather than ``options=-c...`` in the connect arguments: that would replace a URL's own
    # ``options`` (a search_path, say) instead of adding to it.
    statements = [f"SET {name} = {round(seconds * 1000)}" for name, seconds in settings.items()]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        dbapi_connection.commit()

    return engine


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, future=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if immediate:  # a writer waits for the write lock in begin_immediate, not in SQLite's busy handler
            cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if immediate:
            begin_immediate(conn.connection.driver_connection)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _sqlite_write_mutex(url: str) -> threading.RLock:
    """Reentrant: a thread that nests writes meets SQLite's lock as it did before, never a deadlock here."""
    path = str(Path(make_url(url).database or ":memory:").resolve())
    with _MUTEXES_GUARD:
        return _SQLITE_WRITE_MUTEXES.setdefault(path, threading.RLock())


def begin_immediate(dbapi: Any) -> None:
    """Take SQLite's write lock, asking again every few milliseconds while another process holds it, for as
    long as the busy timeout. A writer's connection has SQLite's busy handler off (its pauses grow to 100 ms);
    in WAL mode nothing after BEGIN IMMEDIATE waits for a lock, so this statement alone needs the loop."""
    pause, longest = SQLITE_LOCK_POLL
    deadline = 0.0
    while True:
        try:
            dbapi.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _sqlite_busy(exc):
                raise
            now = time.monotonic()
            deadline = deadline or now + SQLITE_BUSY_TIMEOUT_MS / 1000
            if now > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, longest)
