"""A migration survives 20 random ``kill -9``s of its workers: the target ends with exactly the source's valid rows
(count and checksum equal, no key twice), on a SQLite and a PostgreSQL state database."""

from __future__ import annotations

import datetime
import random
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select, text

from batchyard import JobStatus, Yard
from batchyard.demo import legacy
from batchyard.jobs.migrate.checksums import checksum, row_hash
from batchyard.jobs.migrate.mapping import utc
from batchyard.store.sql.resource_rows import resource_table
from tests.acceptance.helpers import REPO, stop_process, subprocess_env, wait_for

ROWS = 60_000
RANGE_ROWS = 300
KILLS = 20
WORKERS = 3
APP = "tests.acceptance.test_migrate_kill:yard"

pytestmark = pytest.mark.slow

yard = Yard()  # the app the worker subprocesses load: the target resource, nothing else
yard.resource("users", legacy.User, key=["id"])


def _worker(database_url: str, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = subprocess_env(
        BATCHYARD_DATABASE_URL=database_url, BATCHYARD_DATA_DIR=str(data_dir), BATCHYARD_LEASE_SECONDS="1"
    )
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "batchyard", "worker", "--app", APP],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _expected_checksum() -> tuple[int, str]:
    """Count and checksum of the valid legacy rows as the map makes them, computed here from the generator."""
    found = checksum(
        row_hash((uid, name.strip(), email or None, utc(datetime.datetime.fromisoformat(reg)), vip == "Y", int(score)))
        for uid, name, email, reg, vip, score, _ in legacy.legacy_rows(ROWS)
        if email != "not-an-address"
    )
    return found.count, found.hex


def _target_checksum(target: Yard) -> tuple[int, str, int]:
    with target.store.db.read() as conn:  # type: ignore[attr-defined]
        table = resource_table(conn, target.resources["users"], create=False)
        rows = conn.execute(select(*table.c)).all()
        distinct = conn.execute(text("SELECT COUNT(DISTINCT id) FROM users")).scalar_one()
    found = checksum(row_hash(tuple(row)) for row in rows)
    return found.count, found.hex, int(distinct)


def _beyond(target: Yard, job_id: int, seen: int) -> bool:
    return target.get(job_id).processed > seen


def test_twenty_kill_9s_leave_the_target_equal_to_the_source(database_url: str, tmp_path: Path) -> None:
    target = Yard(database_url, data_dir=tmp_path, lease_seconds=1.0)
    target.resource("users", legacy.User, key=["id"])
    source = legacy.write_legacy_db(tmp_path / "sources" / "legacy.db", ROWS)  # where a migration may read
    rng = random.Random(20261201)
    logs = tmp_path / "workers.log"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        params = {**legacy.migration_params(source), "range_rows": RANGE_ROWS, "max_rejects": 100}
        job_id = target.submit("migrate", params=params, owner="alice").id
        workers = [_worker(database_url, tmp_path, logs) for _ in range(WORKERS)]
        for _ in range(KILLS):
            seen = target.get(job_id).processed
            wait_for(partial(_beyond, target, job_id, seen), timeout=120, what="a range to be committed")
            time.sleep(rng.uniform(0.0, 0.4))  # a random moment: reading, writing or committing a range
            assert not target.store.job_status(job_id).is_finished, "the migration ended before all kills"
            victim = rng.randrange(WORKERS)
            workers[victim].kill()
            workers[victim].wait(timeout=10)
            workers[victim] = _worker(database_url, tmp_path, logs)
        wait_for(lambda: target.store.job_status(job_id).is_finished, timeout=300, what="the migration to end")
        job = target.get(job_id)
        assert job.status == JobStatus.SUCCEEDED, job.error
        count, digest, distinct = _target_checksum(target)
        assert (count, digest) == _expected_checksum()
        assert distinct == count
        report = target.registry.get("migrate").report(job)  # type: ignore[attr-defined]
        table = report["tables"][0]
        assert (table["read"], table["written"], table["rejected"]) == (ROWS, count, ROWS - count)
        assert table["verify"]["status"] == "passed"
    finally:
        for worker in workers:
            stop_process(worker)
        target.close()
