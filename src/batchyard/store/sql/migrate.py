"""Applying the Alembic migrations shipped in the package, safely from many processes at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from batchyard.errors import StorageError
from batchyard.store.sql.database import Database, translated

VERSION_TABLE = "batchyard_alembic_version"
MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 0x6261746368  # "batch": the advisory lock that serialises upgrades on PostgreSQL


def alembic_config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.read() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    """Run the migrations in one transaction: SQLite's ``BEGIN IMMEDIATE`` or PostgreSQL's advisory lock
    makes a second process wait, then find the schema already current."""
    with _migration_transaction(db) as conn:
        command.upgrade(alembic_config(conn), revision)


def downgrade(db: Database, revision: str) -> None:
    with _migration_transaction(db) as conn:
        command.downgrade(alembic_config(conn), revision)


@contextmanager
def _migration_transaction(db: Database) -> Iterator[Connection]:
    """On SQLite, foreign keys are off while the schema changes: a table that must be rebuilt (SQLite cannot
    alter most things in place) is dropped and copied, and with foreign keys on, dropping the jobs table
    would delete every row that cascades from it — counters, chunks, events."""
    if not db.is_sqlite:
        with db.write() as conn:  # a long migration elsewhere is waited for, whatever the lock timeout says
            conn.execute(text("SET LOCAL lock_timeout = 0"))
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
            yield conn
        return
    with translated(), db.writer.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA foreign_keys=OFF")  # outside any transaction, or SQLite ignores it
        try:
            with conn.begin():
                yield conn
                if driver.execute("PRAGMA foreign_key_check").fetchone() is not None:
                    raise StorageError(reason="the migration left rows that break a foreign key")
        finally:
            driver.execute("PRAGMA foreign_keys=ON")


def ensure_schema(db: Database) -> None:
    if current_revision(db) != head_revision():
        upgrade(db)
