"""The Alembic migrations shipped in the package: head is exactly ``tables.metadata``, upgrades are idempotent
and safe to run from several processes at once, downgrade works, and the chain has one head."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from batchyard.store.sql.database import Database
from batchyard.store.sql.migrate import (
    _LOCK_ID,
    MIGRATIONS,
    VERSION_TABLE,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from batchyard.store.sql.tables import done_keys, metadata

TABLES = set(metadata.tables)
UPGRADE_SCRIPT = (
    "import sys\n"
    "from batchyard.store.sql.database import Database\n"
    "from batchyard.store.sql.migrate import upgrade\n"
    "db = Database(sys.argv[1])\n"
    "upgrade(db)\n"
    "db.dispose()\n"
)


@contextmanager
def opened(url: str) -> Iterator[Database]:
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()


def table_names(db: Database) -> set[str]:
    with db.read() as conn:
        return set(inspect(conn).get_table_names())


def schema_differences(db: Database) -> list[Any]:
    """What ``alembic revision --autogenerate`` would write for this database: nothing, at head."""
    with db.read() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        diffs = compare_metadata(context, metadata)
    return [d for d in diffs if VERSION_TABLE not in repr(d)]


def schema_shape(db: Database) -> dict[str, Any]:
    """Every table's columns (with types), indexes, unique constraints and foreign keys, as reflected."""
    with db.read() as conn:
        inspector = inspect(conn)
        return {
            name: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
                sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in inspector.get_indexes(name)),
                sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(name)),
                sorted((f["name"], tuple(f["constrained_columns"])) for f in inspector.get_foreign_keys(name)),
            )
            for name in sorted(inspector.get_table_names())
        }


def assert_at_head(db: Database) -> None:
    assert table_names(db) == TABLES | {VERSION_TABLE}
    assert current_revision(db) == head_revision()
    assert schema_differences(db) == []


# (a) head == tables --------------------------------------------------------------------------------------------


def test_upgrade_to_head_creates_exactly_the_tables_of_the_metadata(database_url: str) -> None:
    with opened(database_url) as db:
        assert table_names(db) == set()
        assert current_revision(db) is None

        upgrade(db)

        assert table_names(db) - {VERSION_TABLE} == TABLES
        assert VERSION_TABLE in table_names(db)
        assert current_revision(db) == head_revision()


def test_autogenerate_finds_no_difference_at_head(database_url: str) -> None:
    with opened(database_url) as db:
        upgrade(db)
        differences = schema_differences(db)
    assert differences == [], f"the migrations and tables.py disagree; autogenerate would write: {differences}"


def test_autogenerate_does_see_a_difference_when_there_is_one(database_url: str) -> None:
    """The comparison above is not vacuous: a column the migrations never created is reported."""
    with opened(database_url) as db:
        upgrade(db)
        with db.write() as conn:
            conn.execute(text("ALTER TABLE by_events ADD COLUMN stray_column INTEGER"))
        differences = schema_differences(db)
    assert [(d[0], d[2], d[3].name) for d in differences] == [("remove_column", "by_events", "stray_column")]


# (b) idempotent ------------------------------------------------------------------------------------------------


def test_upgrading_twice_is_a_no_op(database_url: str) -> None:
    with opened(database_url) as db:
        upgrade(db)
        before = schema_shape(db)
        with db.write() as conn:
            conn.execute(done_keys.insert().values(scope="s", key="k", job_id=1))

        upgrade(db)
        upgrade(db)

        assert schema_shape(db) == before
        assert_at_head(db)
        with db.read() as conn:
            assert conn.execute(select(done_keys.c.key)).scalars().all() == ["k"], "data survives a re-run"
            versions = conn.execute(text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one()
        assert versions == 1


# (c) concurrent upgrades ---------------------------------------------------------------------------------------


@contextmanager
def upgrades_held_back(db: Database) -> Iterator[None]:
    """Hold the lock that ``upgrade`` takes (SQLite's write lock, PostgreSQL's advisory lock) until the block
    ends, so that every upgrader started inside it is waiting at the same moment."""
    if db.is_sqlite:
        with db.write():  # BEGIN IMMEDIATE
            yield
        return
    server = db.url.removeprefix("postgresql+psycopg://").partition("?")[0]
    with psycopg.connect(f"postgresql://{server}", autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def tagged(url: str, name: str) -> str:
    """The URL with an application name, so that a test can find its own sessions among the server's."""
    return f"{url}&application_name={name}" if "?" in url else f"{url}?application_name={name}"


def waiting_upgraders(db: Database, name: str) -> int:
    """PostgreSQL only: this test's sessions waiting for the upgrade lock."""
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = :name"
    )
    with db.read() as conn:
        return int(conn.execute(query, {"name": name}).scalar_one())


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_concurrent_upgrades_of_a_fresh_database_all_succeed(database_url: str) -> None:
    errors: list[BaseException] = []
    name = f"by_upgrade_{uuid.uuid4().hex[:8]}"
    upgrader_url = database_url if database_url.startswith("sqlite") else tagged(database_url, name)

    def upgrader() -> None:
        try:
            with opened(upgrader_url) as db:
                upgrade(db)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with opened(database_url) as db:
        threads = [threading.Thread(target=upgrader) for _ in range(4)]
        with upgrades_held_back(db):
            for thread in threads:
                thread.start()
            if db.is_sqlite:
                time.sleep(0.5)  # let every thread reach BEGIN IMMEDIATE and wait there
            else:
                wait_until(lambda: waiting_upgraders(db, name) == len(threads))
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert_at_head(db)


def test_concurrent_upgrades_from_separate_processes_all_succeed(database_url: str) -> None:
    name = f"by_upgrade_{uuid.uuid4().hex[:8]}"
    upgrader_url = database_url if database_url.startswith("sqlite") else tagged(database_url, name)
    with opened(database_url) as db:
        with upgrades_held_back(db):
            processes = [
                subprocess.Popen(
                    [sys.executable, "-c", UPGRADE_SCRIPT, upgrader_url],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            if db.is_sqlite:
                time.sleep(2.0)  # interpreter start-up and imports, then both wait for the write lock
            else:
                wait_until(
                    lambda: (
                        waiting_upgraders(db, name) == len(processes)
                        or any(p.poll() not in (None, 0) for p in processes)
                    )
                )
        results = [p.communicate(timeout=60) for p in processes]
        assert [p.returncode for p in processes] == [0, 0], results
        assert_at_head(db)


# (d) downgrade -------------------------------------------------------------------------------------------------


def downgrade_to_base(db: Database) -> None:
    with db.write() as conn:
        command.downgrade(alembic_config(conn), "base")


def test_downgrade_to_base_then_upgrade_again(database_url: str) -> None:
    with opened(database_url) as db:
        upgrade(db)
        downgrade_to_base(db)

        assert table_names(db) - {VERSION_TABLE} == set(), "downgrade leaves no batchyard table behind"
        assert current_revision(db) is None

        upgrade(db)
        assert_at_head(db)


def test_every_revision_upgrades_and_downgrades_step_by_step(database_url: str) -> None:
    """Walk the chain one revision at a time, up and back down: each step runs on its own."""
    chain = list(reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions())))
    with opened(database_url) as db:
        for revision in chain:
            upgrade(db, revision.revision)
            assert current_revision(db) == revision.revision
        assert_at_head(db)
        for revision in reversed(chain):
            with db.write() as conn:
                command.downgrade(alembic_config(conn), "-1")
            assert current_revision(db) == revision.down_revision
        assert table_names(db) - {VERSION_TABLE} == set()


# (e) one head --------------------------------------------------------------------------------------------------


def test_the_migration_chain_has_a_single_head_and_base() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1, f"several heads, merge them: {heads}"
    assert heads[0] == head_revision()
    assert len(script.get_bases()) == 1
    revisions = list(script.walk_revisions())
    assert len(revisions) == len(list((MIGRATIONS / "versions").glob("*.py"))), "every file is in the chain"
    assert all(len(r.nextrev) <= 1 for r in revisions), "no branch points"
