"""A chunk whose items are all settled is written before its fence is read (the row update carries the fence)
and its next chunk is claimed in the same transaction; a worker runs that chunk at once. On SQLite and
PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text
from tests.contract.invariants import assert_counters_match, chunk_column, claim, context_for, heartbeat

from batchyard import Context, Yard
from batchyard.core.status import JobStatus
from batchyard.engine.commit import commit_and_claim
from batchyard.engine.runner import run_chunk
from batchyard.engine.worker import Worker
from batchyard.errors import LeaseLost
from batchyard.store.base import NextClaim, Store


class _Keyed:
    """Fails item 1, keys every item: a commit of it writes an error row, done keys and counters."""

    def key(self, item: int) -> str:
        return f"k{item}"

    def process(self, item: int, ctx: Context) -> int:
        if item == 1:
            raise ValueError("item 1 is bad")
        return item


def _rows(yard: Yard, table: str, job_id: int) -> int:
    with yard.store.db.read() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE job_id = :j"), {"j": job_id}).scalar_one())


def _trace(yard: Yard, job_id: int) -> tuple[Any, ...]:
    job = yard.get(job_id)
    tables = ("by_events", "by_item_errors", "by_done_keys")
    return (job.counters, *(_rows(yard, t, job_id) for t in tables), chunk_column(yard, job_id, "status"))


def test_a_settled_commit_whose_lease_was_reaped_leaves_no_trace_and_claims_nothing(yard: Yard) -> None:
    yard.job("keyed", chunk_size=2, skip_done="fence-test")(_Keyed)
    job_type = yard.registry.get("keyed")
    job = yard.submit("keyed", items=range(6))
    stale = claim(yard, "stalled", lease=0.05)
    time.sleep(0.1)
    assert yard.store.reap() == 1
    fresh = claim(yard, "healthy")
    assert fresh.seq == stale.seq == 0
    ctx = context_for(yard, stale)
    outcome = run_chunk(job_type, stale, ctx, done_scope="fence-test")
    assert outcome.finished, "settled"
    assert outcome.errors, "with a failure to record"
    before = _trace(yard, job.id)

    ahead = NextClaim("stalled", 30.0, ["keyed"], "ahead-token")
    with pytest.raises(LeaseLost):
        commit_and_claim(yard.store, job_type, outcome, ctx, ahead, progress=2)

    assert _trace(yard, job.id) == before, "a refused commit wrote something"
    assert yard.store.claimed_with("ahead-token") is None, "a refused commit claimed the next chunk"
    assert chunk_column(yard, job.id, "worker")[0] == "healthy"


def test_a_settled_commit_claims_the_next_chunk_with_its_token(yard: Yard) -> None:
    yard.job("keyed", chunk_size=2)(_Keyed)
    job_type = yard.registry.get("keyed")
    job = yard.submit("keyed", items=range(6))
    first = claim(yard, "w1")
    ctx = context_for(yard, first)
    outcome = run_chunk(job_type, first, ctx, done_scope=None)
    next_claim = NextClaim("w1", 30.0, ["keyed"], "t-1")
    drained, ahead = commit_and_claim(yard.store, job_type, outcome, ctx, next_claim, progress=2)
    assert not drained
    assert ahead is not None
    assert (ahead.seq, ahead.token, ahead.items) == (1, "t-1", [2, 3])
    assert yard.store.claimed_with("t-1") == ahead
    assert chunk_column(yard, job.id, "status") == ["done", "running", "pending"]
    assert_counters_match(yard, job.id)


class _CountingStore:
    """The real store, counting the looks a worker takes at a job's status."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.looks = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def job_status(self, job_id: int) -> JobStatus:
        self.looks += 1
        return self._store.job_status(job_id)


def test_a_worker_runs_the_chunks_its_commits_claimed_at_once_without_a_second_look(yard: Yard) -> None:
    """One turn runs the whole job: each commit hands over the next chunk, which starts as soon after its claim
    as a chunk claimed on its own would, so the job's status is not read again."""
    yard.job("steady", chunk_size=1)(lambda item, ctx: item)
    job = yard.submit("steady", items=range(10))
    store = _CountingStore(yard.store)
    worker = Worker(store, yard.registry, lease=600.0, name="solo")  # type: ignore[arg-type]
    worker._last_reap = time.monotonic()  # no reaper sweep falls due during the turn
    worker._claim_ahead = True  # as in a worker's loop (run() without ``until``)
    with heartbeat(yard) as beat:
        assert worker.work_once(beat)
    assert chunk_column(yard, job.id, "status") == ["done"] * 10
    assert store.looks == 0
    assert yard.get(job.id).status == JobStatus.SUCCEEDED
