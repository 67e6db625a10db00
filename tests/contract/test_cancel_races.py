"""A cancel racing commits: one rule, under the job row's lock, for a chunk of a cancelling job, so every
cancelled job drains and ends ``cancelled`` and never stays ``cancelling``."""

from __future__ import annotations

import threading

from tests.contract.invariants import (
    assert_counters_match,
    background_workers,
    claim,
    context_for,
    wait_finished,
    wait_for,
)

from batchyard import Context, JobStatus, Yard
from batchyard.engine.runner import run_chunk


def _flaky(item: int, ctx: Context) -> int:
    if item % 2:
        raise ValueError(f"item {item} is odd")
    return item


def test_cancel_during_a_commit_that_leaves_retries_pending_ends_cancelled(yard: Yard) -> None:
    yard.job("flaky", chunk_size=20, on_error="retry", max_attempts=5, retry_backoff=0.0)(_flaky)
    job = yard.submit("flaky", items=range(40))
    chunk = claim(yard)
    outcome = run_chunk(yard.registry.get("flaky"), chunk, context_for(yard, chunk), done_scope=None)
    assert "-" in outcome.states, "the odd items wait for another attempt"

    cancelled = threading.Event()
    canceller = threading.Thread(target=lambda: (yard.cancel(job.id), cancelled.set()))
    with yard.store.commit_session(chunk) as session:
        canceller.start()
        cancelled.wait(2.0)  # the cancel gets every chance to slip in before this commit ends
        session.apply(outcome, progress=outcome.delta.processed)
    canceller.join(timeout=30)
    assert cancelled.is_set()

    yard.store.reap()
    done = wait_finished(yard, job.id, timeout=10)
    assert done.status == JobStatus.CANCELLED
    assert [r.status for r in yard.items(job.id)].count("pending") == 0
    assert_counters_match(yard, job.id)


def test_cancels_racing_commits_of_retrying_jobs_all_end_cancelled(yard: Yard) -> None:
    yard.job("flaky", chunk_size=20, on_error="retry", max_attempts=1000, retry_backoff=0.0)(_flaky)
    jobs = [yard.submit("flaky", items=range(400), owner=f"user{i % 3}", idempotency_key=None) for i in range(12)]
    with background_workers(yard, count=3):
        for job in jobs:  # each in the middle of its commits: retries pending, chunks going back to the queue
            wait_for(lambda j=job: yard.get(j.id).processed >= 20, timeout=60, what=f"job {job.id} to be running")
            yard.cancel(job.id)
        for job in jobs:
            done = wait_finished(yard, job.id, timeout=30)
            assert done.status == JobStatus.CANCELLED, f"job {job.id} ended {done.status}"
    for job in jobs:
        assert_counters_match(yard, job.id)
        assert not [r for r in yard.items(job.id) if r.status == "pending"]
