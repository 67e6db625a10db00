"""Chaos: real worker processes killed, stalled and stopped mid-chunk; the chunk protocol's guarantees hold.

Every test runs on SQLite and on PostgreSQL. The ``ledger`` job type writes one row per item into
``test_effects`` inside the chunk's commit, a table with no unique key, so a chunk committed twice shows up as
duplicate rows and a chunk lost shows up as missing ones.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from batchyard import Yard
from tests.acceptance.helpers import (
    Workers,
    all_events,
    assert_ledger_done_exactly_once,
    create_effects_table,
    effects,
    log_records,
    running_chunks,
    use_test_app,
    wait_for,
    wait_until_finished,
    worker_pid,
    workers,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def ledger(yard: Yard) -> Yard:
    """The test database, with the subprocesses' job types known and the effects table created."""
    use_test_app(yard, "ledger", "slow_square")
    create_effects_table(yard)
    return yard


def _claimed_by(yard: Yard, job_id: int, proc: subprocess.Popen[bytes]) -> list[int]:
    return [seq for seq, worker in running_chunks(yard, job_id) if worker_pid(worker) == proc.pid]


def test_kill_9_of_random_busy_workers_loses_and_duplicates_nothing(ledger: Yard, database_url: str, tmp_path: Path):
    items = range(1500)
    job = ledger.submit("ledger", items=items)
    rng = random.Random(20240601)
    kills = 0
    with workers(database_url, tmp_path, lease=1.5, item_seconds=0.01) as pool:
        for _ in range(3):
            pool.start()
        deadline = time.monotonic() + 60
        while kills < 10 and not ledger.get(job.id).status.is_finished:
            assert time.monotonic() < deadline, f"only {kills} kills before the deadline\n{pool.describe()}"
            time.sleep(rng.uniform(0.3, 0.4))
            busy = {worker_pid(worker) for _, worker in running_chunks(ledger, job.id)}
            victims = [proc for proc in pool.alive if proc.pid in busy]  # each kill lands in the middle of a chunk
            if victims:
                pool.kill9(rng.choice(victims))
                kills += 1
                pool.start()
        wait_until_finished(ledger, job.id, pool, timeout=60)

    assert kills >= 10, "the job finished before the chaos was over: make it bigger"
    assert_ledger_done_exactly_once(ledger, job.id, items)
    events = all_events(ledger, job.id)
    assert any(e.kind == "lost" for e in events), "no chunk was ever reclaimed from a killed worker"


def _stop_outside_a_transaction(proc: subprocess.Popen[bytes], yard: Yard, database_url: str, app_name: str) -> None:
    """SIGSTOP ``proc`` at a moment it holds no database lock, as a process stalled in user code (GC pause,
    swapped out, a debugger) would: a writer frozen inside a transaction blocks everyone, which is a different
    failure than the one under test."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        proc.send_signal(signal.SIGSTOP)
        if not _in_a_transaction(yard, database_url, app_name):
            return
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("could not catch the worker outside a transaction")


def _in_a_transaction(yard: Yard, database_url: str, app_name: str) -> bool:
    if database_url.startswith("sqlite"):
        probe = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0.5, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    with yard.store.db.read() as conn:
        busy = conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND state <> 'idle'"),
            {"name": app_name},
        ).scalar_one()
    return bool(busy)


def _tagged(database_url: str, app_name: str) -> str:
    """The URL with a PostgreSQL application name, so the worker's sessions can be found in pg_stat_activity."""
    if database_url.startswith("sqlite"):
        return database_url
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}application_name={app_name}"


def _lease_loss_noticed(pool: Workers, proc: subprocess.Popen[bytes], seq: int, job_id: int) -> list[str]:
    """The stalled worker's warnings that it did not commit the chunk because its lease was gone."""
    return [
        r["message"]
        for r in log_records(pool.logs[proc.pid])
        if r.get("level") == "warning"
        and f"chunk {seq} of job {job_id}" in r["message"]
        and "lease was lost" in r["message"]
        and r["message"].startswith(("not committing", "commit of chunk"))
    ]


def test_worker_stalled_past_its_lease_cannot_commit_the_reclaimed_chunk(
    ledger: Yard, database_url: str, tmp_path: Path
):
    items = range(20)
    job = ledger.submit("ledger", items=items)
    stalled_name = f"stalled_{uuid.uuid4().hex[:12]}"
    with workers(database_url, tmp_path, lease=1.0, item_seconds=0.3) as pool:
        stalled = pool.start(database_url=_tagged(database_url, stalled_name))
        [seq] = wait_for(lambda: _claimed_by(ledger, job.id, stalled), timeout=60, what="the first worker's claim")
        time.sleep(0.5)  # an item or two into the chunk
        _stop_outside_a_transaction(stalled, ledger, database_url, stalled_name)
        time.sleep(2.5)  # well past the lease: the chunk is up for grabs

        pool.start(item_seconds=0.01)
        wait_until_finished(ledger, job.id, pool, timeout=60)
        assert stalled.poll() is None

        stalled.send_signal(signal.SIGCONT)
        wait_for(
            lambda: _lease_loss_noticed(pool, stalled, seq, job.id) or len(effects(ledger, job.id)) > len(items),
            timeout=15,
            what="the stalled worker to give up its commit",
        )
        stalled.send_signal(signal.SIGTERM)
        assert stalled.wait(timeout=10) == 0

    assert_ledger_done_exactly_once(ledger, job.id, items)
    assert _lease_loss_noticed(pool, stalled, seq, job.id)
    lost = [e.data for e in all_events(ledger, job.id) if e.kind == "lost"]
    assert [d["chunk"] for d in lost] == [seq]
    assert worker_pid(lost[0]["worker"]) == stalled.pid


def test_racing_workers_claim_and_commit_each_chunk_exactly_once(ledger: Yard, database_url: str, tmp_path: Path):
    items = range(8_000)  # 800 chunks of 10 instant items: the workers spend their time claiming and committing
    job = ledger.submit("ledger", items=items)
    with workers(database_url, tmp_path, lease=30.0, item_seconds=0) as pool:
        for _ in range(4):
            pool.start()
        wait_until_finished(ledger, job.id, pool, timeout=150)
        pids = {proc.pid for proc in pool.started}

    assert_ledger_done_exactly_once(ledger, job.id, items)
    events = all_events(ledger, job.id)
    assert [e for e in events if e.kind == "lost"] == []
    with ledger.store.db.read() as conn:
        by_worker = conn.execute(
            text("SELECT worker, count(*) FROM by_chunks WHERE job_id = :job GROUP BY worker"), {"job": job.id}
        ).all()
    assert {worker_pid(name) for name, _ in by_worker} <= pids
    assert len(by_worker) >= 2, f"no race happened: {by_worker}"


def test_sigterm_commits_the_items_done_and_releases_the_rest_at_once(ledger: Yard, database_url: str, tmp_path: Path):
    items = range(20)
    job = ledger.submit("ledger", items=items)
    with workers(database_url, tmp_path, lease=30.0, item_seconds=0.2) as pool:
        first = pool.start()
        wait_for(lambda: _claimed_by(ledger, job.id, first), timeout=60, what="the first worker's claim")
        time.sleep(0.7)  # a few items into the 2-second chunk

        stopped_at = time.monotonic()
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=10) == 0, pool.describe()
        assert time.monotonic() - stopped_at < 2.0

        assert running_chunks(ledger, job.id) == [], "the chunk is still leased to a worker that has gone"
        partial = ledger.get(job.id)
        assert 1 <= partial.processed < 10, "the items done before SIGTERM were not committed"
        assert partial.status == "running"

        pool.start(item_seconds=0.01)
        wait_until_finished(ledger, job.id, pool, timeout=25)
        assert time.monotonic() - stopped_at < 25, "the chunk waited for its lease to expire"

    assert_ledger_done_exactly_once(ledger, job.id, items)
    assert [e for e in all_events(ledger, job.id) if e.kind == "lost"] == []


def test_idle_workers_exit_at_once_on_sigterm(database_url: str, tmp_path: Path) -> None:
    """Signals land while the idle loop sleeps; the handler must never block on a lock the loop holds."""
    with workers(database_url, tmp_path, lease=60.0, item_seconds=0.0) as pool:
        procs = [pool.start() for _ in range(3)]
        for proc in procs:  # past start-up: each worker is in its idle loop
            wait_for(lambda p=proc: pool.ready(p), timeout=60, what=f"worker {proc.pid} to be ready")
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:  # far less than the 60 s lease: nobody waits for a lease to run out
            assert proc.wait(timeout=15) == 0, pool.describe()
