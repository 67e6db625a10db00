"""Leases under pressure, with real processes: a chunk that takes longer than its lease is kept by its heartbeat
while another worker's reaper sweeps; a submitter killed mid-submit has its job stopped, and retried."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from batchyard import JobStatus, Yard
from batchyard.core.planning import SUBMISSION_INTERRUPTED
from tests.acceptance.helpers import (
    REPO,
    all_events,
    assert_ledger_done_exactly_once,
    create_effects_table,
    stop_process,
    subprocess_env,
    use_test_app,
    wait_for,
    wait_until_finished,
    workers,
)

pytestmark = pytest.mark.slow

SUBMITTER = """
import time
from tests.support.apps import yard

def slowly():
    for i in range(100_000):
        time.sleep(0.005)
        yield i

yard.submit("slow_square", items=slowly())
"""


@pytest.fixture
def ledger(yard: Yard) -> Yard:
    use_test_app(yard, "ledger", "slow_square")
    create_effects_table(yard)
    return yard


def test_chunks_longer_than_their_lease_are_kept_while_another_worker_reaps(
    ledger: Yard, database_url: str, tmp_path: Path
) -> None:
    items = range(40)  # 4 chunks of 10 items at 0.4 s each: 4 s a chunk under a 1.5 s lease
    job = ledger.submit("ledger", items=items)
    with workers(database_url, tmp_path, lease=1.5, item_seconds=0.4) as pool:
        pool.start()
        pool.start()  # each reaps every half second while the other holds a chunk far longer than a lease
        wait_until_finished(ledger, job.id, pool, timeout=120)
    assert_ledger_done_exactly_once(ledger, job.id, items)
    assert [e for e in all_events(ledger, job.id) if e.kind == "lost"] == [], "a renewed lease was reaped"


def test_a_submitter_killed_mid_submit_has_its_job_stopped_and_retry_runs_what_was_stored(
    ledger: Yard, database_url: str, tmp_path: Path
) -> None:
    env = subprocess_env(BATCHYARD_DATABASE_URL=database_url, BATCHYARD_LEASE_SECONDS="2")
    submitter = subprocess.Popen(
        [sys.executable, "-c", SUBMITTER], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        [job] = wait_for(ledger.store.list_jobs, timeout=60, what="the submitter's job")
        wait_for(lambda: ledger.get(job.id).total > 0, timeout=60, what="the first items to be stored")
        submitter.kill()
        submitter.wait(timeout=10)
    finally:
        stop_process(submitter)
    stored = ledger.get(job.id).total

    def stopped_by_a_reaper() -> bool:  # no worker yet: the stored items are all still to do
        ledger.store.reap()
        return ledger.store.job_status(job.id).is_finished

    wait_for(stopped_by_a_reaper, timeout=60, what="the reaper to stop the orphaned submission")
    stopped = ledger.get(job.id)
    assert (stopped.status, stopped.error) == (JobStatus.FAILED, SUBMISSION_INTERRUPTED)
    assert (stopped.total, stopped.processed) == (stored, 0), "nothing was stored after the kill"

    retried = ledger.retry_failed(job.id)
    assert retried.sealed, "a submission that will never resume is sealed with what it stored"
    with workers(database_url, tmp_path, lease=2.0, item_seconds=0.0) as pool:
        pool.start()
        done = wait_until_finished(ledger, job.id, pool, timeout=60)
    assert done.status == JobStatus.SUCCEEDED
    assert (done.total, done.succeeded) == (stored, stored)
    assert [r.output for r in ledger.items(job.id)] == [i * i for i in range(stored)]
