"""Connections: one engine per URL, SQLite tuned for many processes, driver errors translated."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from batchyard.errors import ConfigurationError, StorageError

# Writers wait for SQLite's lock far longer than the longest commit takes, so contention is never an error.
# The page cache is kept small: the OS caches the file anyway, and a large cache would grow every process
# (a submitter storing 2M items grew 20 MiB with 16 MiB of cache, 3 MiB with 2 MiB).
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 2_048


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (``postgresql://``, ``postgres://``) and use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    if not url.startswith(("sqlite", "postgresql+psycopg://")):
        raise ConfigurationError(reason=f"unsupported database URL {url!r}; use sqlite:/// or postgresql://")
    return url


class Database:
    """A writer and a reader engine. On SQLite, writers start with ``BEGIN IMMEDIATE`` so that two
    transactions never deadlock upgrading a read lock; readers use plain deferred transactions (WAL lets them
    run beside a writer). On PostgreSQL both are the same pool."""

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            _ensure_parent(self.url)
            self.writer = _sqlite_engine(self.url, immediate=True)
            self.reader = _sqlite_engine(self.url, immediate=False)
        else:
            self.writer = create_engine(self.url, pool_size=pool_size, max_overflow=4, pool_pre_ping=True, future=True)
            self.reader = self.writer

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with translated(), self.writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with translated(), self.reader.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


@contextmanager
def translated() -> Iterator[None]:
    """Driver errors leave the store as batchyard errors; integrity errors are for callers to interpret."""
    try:
        yield
    except IntegrityError:
        raise
    except DBAPIError as exc:
        raise StorageError(reason=str(exc.orig).strip().splitlines()[0]) from exc


def _ensure_parent(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, future=True)
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine
