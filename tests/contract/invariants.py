"""Helpers shared by the contract tests: the invariants every scenario must keep, and ways to drive the engine
step by step (claim, run, commit) or in background worker threads."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import text

from batchyard import Context, Job, Yard
from batchyard.core.model import ChunkOutcome, ClaimedChunk
from batchyard.engine.commit import commit_outcome
from batchyard.engine.heartbeat import Heartbeat
from batchyard.engine.runner import run_chunk
from batchyard.engine.worker import Worker
from batchyard.service.jobs import skip_done_scope


def assert_counters_match(yard: Yard, job_id: int) -> Job:
    """A job's counters are never negative and always equal the sum of its items' states."""
    job = yard.get(job_id)
    records = list(yard.items(job_id))
    tally = Counter(r.status for r in records)
    assert min(job.processed, job.succeeded, job.failed, job.skipped) >= 0, job.counters
    assert [r.index for r in records] == list(range(job.total)), "items must be numbered 0..total-1, once each"
    assert job.succeeded == tally["succeeded"]
    assert job.failed == tally["failed"]
    assert job.skipped == tally["skipped"]
    assert job.processed == job.succeeded + job.failed + job.skipped
    assert job.processed + tally["pending"] + tally["cancelled"] == job.total
    assert 0.0 <= job.progress <= 100.0
    return job


def wait_for(predicate: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def context_for(yard: Yard, chunk: ClaimedChunk) -> Context:
    job_type = yard.registry.get(chunk.job_type)
    return Context(
        job_id=chunk.job_id, owner=chunk.owner, params=job_type.parse_params(chunk.params), round=chunk.round
    )


def run_and_commit(yard: Yard, chunk: ClaimedChunk, ctx: Context | None = None) -> ChunkOutcome:
    """What a worker does with a claimed chunk: run its items, commit the outcome, finish the job if drained.
    Returns the outcome as run (before any bisection of a failing write)."""
    job_type = yard.registry.get(chunk.job_type)
    ctx = ctx or context_for(yard, chunk)
    outcome = run_chunk(job_type, chunk, ctx, done_scope=skip_done_scope(job_type, chunk.owner, chunk.params))
    commit_outcome(yard.store, job_type, outcome, ctx)
    yard.store.finish_if_done(chunk.job_id)
    return outcome


def claim(yard: Yard, worker: str = "w1", *, lease: float = 2.0, types: list[str] | None = None) -> ClaimedChunk:
    chunk = yard.store.claim_chunk(worker, lease, types or yard.registry.names)
    assert chunk is not None, "expected a runnable chunk"
    return chunk


def chunk_column(yard: Yard, job_id: int, column: str) -> list[object]:
    """One column of a job's chunks, in chunk order (for checks the public API does not expose)."""
    with yard.store.db.reader.connect() as conn:
        rows = conn.execute(text(f"SELECT {column} FROM by_chunks WHERE job_id = :j ORDER BY seq"), {"j": job_id})
        return [row[0] for row in rows]


class BackgroundWorker:
    """An in-process worker on its own thread, running until told to stop; its errors fail the test."""

    def __init__(self, yard: Yard, name: str = "bg") -> None:
        self.worker = yard.worker(name=name)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"test-worker-{name}", daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def start(self) -> BackgroundWorker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.worker.stop()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the worker did not stop"
        assert self.error is None, f"the worker failed: {self.error!r}"


@contextmanager
def background_workers(yard: Yard, count: int = 1) -> Iterator[list[BackgroundWorker]]:
    workers = [BackgroundWorker(yard, name=f"bg{i}").start() for i in range(count)]
    try:
        yield workers
    finally:
        for worker in workers:
            worker.stop()


@contextmanager
def heartbeat(yard: Yard, lease: float = 2.0) -> Iterator[Heartbeat]:
    beat = Heartbeat(yard.store, lease=lease)
    try:
        yield beat
    finally:
        beat.close()


def wait_finished(yard: Yard, job_id: int, timeout: float = 20.0) -> Job:
    wait_for(lambda: yard.store.job_status(job_id).is_finished, timeout=timeout, what=f"job {job_id} to finish")
    return yard.get(job_id)


class EndsTurns:
    """A no-op item function that makes its worker end the turn after the chunk in hand, holding the chunk its
    commit claimed ahead for the next turn: what a worker does whenever a reaper sweep falls due (every third of
    a lease). Set ``worker`` once the worker exists."""

    def __init__(self, record: list[int] | None = None) -> None:
        self.worker: Worker | None = None
        self.record = record

    def __call__(self, item: int, ctx: Context) -> int:
        if self.worker is not None:
            self.worker._last_reap = float("-inf")  # a sweep is due: the chain of claimed-ahead chunks ends here
        if self.record is not None:
            self.record.append(item)
        return item
