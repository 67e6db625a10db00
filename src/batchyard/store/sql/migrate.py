"""Applying the Alembic migrations shipped in the package, safely from many processes at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from batchyard.store.sql.database import Database

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
    with db.write() as conn:
        if not db.is_sqlite:  # a long migration elsewhere is waited for, whatever the lock timeout says
            conn.execute(text("SET LOCAL lock_timeout = 0"))
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        command.upgrade(alembic_config(conn), revision)


def ensure_schema(db: Database) -> None:
    if current_revision(db) != head_revision():
        upgrade(db)
