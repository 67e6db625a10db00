"""An upgrade of a database that already holds jobs keeps them: finished jobs stay readable with their
items, and a job submitted before the upgrade runs to the end after it.

Written over the whole migration chain: the data is written at head, the schema is taken down to the first
revision and up again through every later one, then ``batchyard db upgrade`` runs twice more."""

from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory
from tests.acceptance.helpers import REPO, subprocess_env

from batchyard import Context, Yard
from batchyard.core.status import JobStatus
from batchyard.store.sql.database import Database
from batchyard.store.sql.migrate import alembic_config, current_revision, downgrade, head_revision


def _square(item: int, ctx: Context) -> int:
    if item % 10 == 7:
        raise ValueError(f"item {item} is unlucky")
    return item * item


def _yard(url: str) -> Yard:
    yard = Yard(url, lease_seconds=2.0)
    yard.job("square", chunk_size=10)(_square)
    return yard


def _first_revision() -> str:
    chain = list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
    return chain[-1].revision


def _down_to_first_revision(url: str) -> None:
    db = Database(url)
    try:
        downgrade(db, _first_revision())
        assert current_revision(db) == _first_revision()
    finally:
        db.dispose()


def _db_upgrade(url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "batchyard", "db", "upgrade"],
        cwd=REPO,
        env=subprocess_env(BATCHYARD_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_upgrade_keeps_finished_jobs_and_runs_jobs_submitted_before_it(database_url: str) -> None:
    yard = _yard(database_url)
    try:
        finished = yard.run_until_done(yard.submit("square", items=range(30), owner="alice").id, timeout=30)
        waiting = yard.submit("square", items=range(100, 150), owner="bob")
        before = [(r.index, r.status, r.output, r.error) for r in yard.items(finished.id)]
    finally:
        yard.close()
    assert (finished.status, finished.succeeded, finished.failed) == (JobStatus.PARTIALLY_SUCCEEDED, 27, 3)

    _down_to_first_revision(database_url)
    _db_upgrade(database_url)
    _db_upgrade(database_url)

    yard = _yard(database_url)
    try:
        db = Database(database_url)
        try:
            assert current_revision(db) == head_revision()
        finally:
            db.dispose()
        kept = yard.get(finished.id)
        assert (kept.status, kept.total, kept.succeeded, kept.failed, kept.owner) == (
            finished.status,
            30,
            27,
            3,
            "alice",
        )
        assert [(r.index, r.status, r.output, r.error) for r in yard.items(finished.id)] == before

        done = yard.run_until_done(waiting.id, timeout=30)
        assert done.status == JobStatus.PARTIALLY_SUCCEEDED
        assert (done.total, done.succeeded, done.failed) == (50, 45, 5)
        assert [r.output for r in yard.items(waiting.id, status="succeeded")] == [
            i * i for i in range(100, 150) if i % 10 != 7
        ]
        retried = yard.retry_failed(finished.id)
        assert retried.round == 2, "the old job takes a new round after the upgrade"
    finally:
        yard.close()
