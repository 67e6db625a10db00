"""Defects found reviewing the claim made inside a chunk's commit (a worker's next chunk claimed ahead, in the
same transaction): each test shows one, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.contract.invariants import EndsTurns, chunk_column, heartbeat

from batchyard import Context, Yard
from batchyard.core.model import ClaimedChunk
from batchyard.engine.worker import Worker
from batchyard.errors import DatabaseUnavailable
from batchyard.store.base import Store


def _identity(item: int, ctx: Context) -> int:
    return item


class _Faulty:
    """The test's real store, with one fault armed at a time: the answer to a commit that DID commit lost on the
    way back (a connection cut after COMMIT reached the server), or a reaper sweep that meets a database blip."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.lose_commit_answer = False
        self.fail_reap = False
        self.fail_status = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextmanager
    def commit_session(self, chunk: ClaimedChunk, **options: Any) -> Iterator[Any]:
        with self._store.commit_session(chunk, **options) as session:
            yield session
        if self.lose_commit_answer:  # committed; the client only hears that the connection went away
            self.lose_commit_answer = False
            raise DatabaseUnavailable(reason="server closed the connection unexpectedly")

    def job_status(self, job_id: int) -> Any:
        if self.fail_status:
            self.fail_status = False
            raise DatabaseUnavailable(reason="server closed the connection unexpectedly")
        return self._store.job_status(job_id)

    def reap(self) -> int:
        if self.fail_reap:
            self.fail_reap = False
            raise DatabaseUnavailable(reason="terminating connection due to administrator command")
        reaped: int = self._store.reap()
        return reaped


def _faulty_worker(yard: Yard) -> tuple[Worker, _Faulty]:
    store = _Faulty(yard.store)
    worker = Worker(store, yard.registry, lease=30.0, name="solo")
    worker._claim_ahead = True  # as in a worker's loop (run() without ``until``)
    return worker, store


def _orphans(yard: Yard, job_id: int, worker: Worker) -> list[object]:
    """Chunks left running that no worker will run, renew or give back: only a lease expiry frees them."""
    held = {worker._next.id} if worker._next is not None else set()
    ids, statuses = chunk_column(yard, job_id, "id"), chunk_column(yard, job_id, "status")
    return [
        seq
        for seq, (id_, status) in enumerate(zip(ids, statuses, strict=True))
        if status == "running" and id_ not in held
    ]


# --- 1. a commit retried after its answer was lost leaves the chunk it claimed ahead orphaned --------------------


def test_a_commit_whose_answer_was_lost_leaves_no_chunk_claimed_ahead_orphaned(yard: Yard) -> None:
    """The commit (and the claim of chunk 1 in it) reached the database; the answer did not. The retry from
    memory meets the fence (chunk 0 is done: LeaseLost) and the worker moves on, never knowing that chunk 1 is
    running under its name: it stays running, unrenewed, until its lease expires and it is counted lost."""
    yard.job("steady", chunk_size=1)(_identity)
    job = yard.submit("steady", items=range(4))
    worker, store = _faulty_worker(yard)
    with heartbeat(yard) as beat:
        store.lose_commit_answer = True
        assert worker.work_once(beat)
    assert chunk_column(yard, job.id, "status")[0] == "done"
    assert _orphans(yard, job.id, worker) == [], "a chunk claimed ahead is running and no worker holds it"


# --- 2. a chunk claimed ahead starts after its job was cancelled or paused ---------------------------------------


@pytest.mark.parametrize("action", ["cancel", "pause"])
def test_no_item_starts_after_its_job_was_cancelled_or_paused(yard: Yard, action: str) -> None:
    """An ordinary claim re-checks the job's status; a chunk claimed ahead and held into the worker's next turn
    (a reaper sweep fell due) was started without a look, so its items ran after ``cancel``/``pause`` returned,
    until the heartbeat's first poll (a whole fast chunk)."""
    started: list[int] = []
    ends_turns = EndsTurns(record=started)
    yard.job("steady", chunk_size=5)(ends_turns)
    job = yard.submit("steady", items=range(20))
    worker, _ = _faulty_worker(yard)
    ends_turns.worker = worker
    with heartbeat(yard) as beat:
        assert worker.work_once(beat)
        assert chunk_column(yard, job.id, "status")[:2] == ["done", "running"], "chunk 1 was claimed ahead"
        getattr(yard, action)(job.id)
        started.clear()
        worker.work_once(beat)
    assert started == [], f"items {started} started after {action}() returned"


# --- 3. a worker stopped holding a chunk claimed ahead keeps it when its reaper sweep meets a blip -------------


def test_a_stopped_worker_gives_back_its_chunk_claimed_ahead_even_if_its_reap_fails(yard: Yard) -> None:
    """The hand-back on stop goes through ``work_once``, which sweeps for expired leases before it takes the
    chunk claimed ahead: a sweep that fails (a dropped pooled connection) ends the loop with the chunk held."""
    ends_turns = EndsTurns()
    yard.job("steady", chunk_size=1)(ends_turns)
    job = yard.submit("steady", items=range(4))
    worker, store = _faulty_worker(yard)
    ends_turns.worker = worker
    with heartbeat(yard) as beat:
        assert worker.work_once(beat)
        assert worker._next is not None, "chunk 1 was claimed ahead"
        worker._last_reap = float("-inf")  # a sweep is due
        store.fail_reap = True
        worker.stop()
        worker._loop(beat, None)
    assert "running" not in chunk_column(yard, job.id, "status"), "the stopped worker left a chunk running"


# --- 4. the look at a chunk claimed ahead meets a database blip: the chunk stays in hand -------------------------


def test_a_chunk_claimed_ahead_stays_in_hand_when_looking_at_its_job_meets_a_blip(yard: Yard) -> None:
    ends_turns = EndsTurns()
    yard.job("steady", chunk_size=1)(ends_turns)
    job = yard.submit("steady", items=range(4))
    worker, store = _faulty_worker(yard)
    ends_turns.worker = worker
    with heartbeat(yard) as beat:
        assert worker.work_once(beat)
        claimed_ahead = worker._next
        assert claimed_ahead is not None
        store.fail_status = True
        assert not worker._work_safely(beat), "the blip costs this turn"
        assert worker._next is claimed_ahead, "the chunk claimed ahead was dropped"
        while worker.work_once(beat):
            pass
    assert _orphans(yard, job.id, worker) == []
    assert yard.get(job.id).succeeded == 4
