"""A real worker process meets what a job's code can throw at it (an output the database cannot hold, params
that stopped parsing, a constraint checked only at COMMIT): the items concerned fail with their reason, and
the same process lives on to run the next job.

Every test runs on SQLite and on PostgreSQL, with one worker subprocess started as an operator would.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from batchyard import Job, JobStatus, Yard
from tests.acceptance.helpers import REPO, Workers, subprocess_env, wait_until_finished
from tests.support.hardening_apps import create_deferred_table

pytestmark = pytest.mark.slow

COMMAND = [sys.executable, "-m", "batchyard", "worker", "--app", "tests.support.hardening_apps:yard"]
LEASE = 2.0


class AppWorkers(Workers):
    """Worker subprocesses running the hardening job types."""

    def start(self, *, item_seconds: float | None = None, database_url: str | None = None) -> subprocess.Popen[bytes]:
        env = subprocess_env(
            BATCHYARD_DATABASE_URL=database_url or self.database_url, BATCHYARD_LEASE_SECONDS=str(self.lease)
        )
        log = self.log_dir / f"worker-{len(self.started)}.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                COMMAND, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
        self.started.append(proc)
        self.logs[proc.pid] = log
        return proc


@contextmanager
def one_worker(database_url: str, log_dir: Path) -> Iterator[Workers]:
    """One worker subprocess, killed when the block ends."""
    pool = AppWorkers(database_url, log_dir, lease=LEASE, item_seconds=0.0)
    try:
        pool.start()
        yield pool
    finally:
        pool.close()


@pytest.fixture
def app_yard(yard: Yard) -> Yard:
    """The test database, with the job types the worker subprocess runs known to the submitting side."""
    from tests.support.hardening_apps import yard as app

    for name in app.registry.names:
        yard.registry.add(app.registry.get(name))
    return yard


def _run_alone(yard: Yard, pool: Workers, job_id: int) -> subprocess.Popen[bytes]:
    """Wait for the job with the pool's one worker; that worker must still be alive afterwards."""
    done = wait_until_finished(yard, job_id, pool, timeout=60)
    [proc] = pool.started
    assert proc.poll() is None, f"the worker exited after job {job_id} ({done.status})\n{pool.describe()}"
    return proc


def _next_job_runs(yard: Yard, pool: Workers, proc: subprocess.Popen[bytes], job: Job) -> None:
    """The same worker process runs a healthy job to the end and is still alive."""
    done = wait_until_finished(yard, job.id, pool, timeout=60)
    assert done.status == JobStatus.SUCCEEDED, (done.error, pool.describe())
    assert pool.started == [proc]
    assert proc.poll() is None, pool.describe()


def test_worker_survives_outputs_that_cannot_be_stored(app_yard: Yard, database_url: str, tmp_path: Path) -> None:
    job = app_yard.submit("unstorable", items=range(10))
    with one_worker(database_url, tmp_path) as pool:
        proc = _run_alone(app_yard, pool, job.id)
        done = app_yard.get(job.id)
        assert done.status == JobStatus.PARTIALLY_SUCCEEDED
        failed = list(app_yard.items(job.id, status="failed"))
        assert [r.index for r in failed] == [3, 7]
        assert all(r.error is not None and "cannot be stored" in r.error for r in failed), failed
        assert done.succeeded == 8
        _next_job_runs(app_yard, pool, proc, app_yard.submit("unstorable", items=range(10, 20)))


def test_worker_survives_a_label_that_is_not_text(app_yard: Yard, database_url: str, tmp_path: Path) -> None:
    job = app_yard.submit("labelled", items=range(10))
    with one_worker(database_url, tmp_path) as pool:
        proc = _run_alone(app_yard, pool, job.id)
        done = app_yard.get(job.id)
        assert (done.status, done.succeeded) == (JobStatus.SUCCEEDED, 10), (done.error, pool.describe())
        _next_job_runs(app_yard, pool, proc, app_yard.submit("labelled", items=range(10, 20)))


def test_worker_survives_params_that_no_longer_parse(app_yard: Yard, database_url: str, tmp_path: Path) -> None:
    job = app_yard.submit("scaled", items=range(10), params={"factor": 3})
    with app_yard.store.db.write() as conn:
        conn.execute(text("UPDATE by_jobs SET params = :p WHERE id = :id"), {"p": '{"factor": []}', "id": job.id})
    with one_worker(database_url, tmp_path) as pool:
        proc = _run_alone(app_yard, pool, job.id)
        done = app_yard.get(job.id)
        assert done.status == JobStatus.FAILED
        assert done.error is not None
        assert "cannot run" in done.error
        assert done.succeeded == 0
        _next_job_runs(app_yard, pool, proc, app_yard.submit("scaled", items=range(10), params={"factor": 3}))


def test_worker_survives_a_constraint_checked_at_commit(app_yard: Yard, database_url: str, tmp_path: Path) -> None:
    create_deferred_table(app_yard, range(100), {7})
    job = app_yard.submit("deferred", items=range(10))
    with one_worker(database_url, tmp_path) as pool:
        proc = _run_alone(app_yard, pool, job.id)
        done = app_yard.get(job.id)
        assert done.status == JobStatus.PARTIALLY_SUCCEEDED
        failed = [r.index for r in app_yard.items(job.id, status="failed")]
        assert failed == ([5, 6, 7, 8, 9] if app_yard.store.db.is_sqlite else [7])
        _next_job_runs(app_yard, pool, proc, app_yard.submit("deferred", items=range(20, 30)))
