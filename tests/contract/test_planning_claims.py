"""Planning is work claimed in the same order as chunks, under a lease renewed by time: a small source job is
never stuck behind a big job, a slow source or submitter is never taken for dead, and a submitter that really
lost its lease is told so."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import BaseModel
from sqlalchemy import text
from tests.contract.invariants import assert_counters_match, background_workers, heartbeat, wait_finished, wait_for

from batchyard import Context, JobStatus, Yard
from batchyard.core.planning import SUBMISSION_INTERRUPTED
from batchyard.errors import SubmissionInterrupted

ITEM_SECONDS = 0.01  # a slow source: 300 items take 3 s, longer than the tests' 2 s lease


def _identity(item: int, ctx: Context) -> int:
    return item


class Numbers:
    """Items 0..n-1 from a source, optionally slowly; counts how often it was enumerated."""

    class Params(BaseModel):
        n: int
        slow: bool = False

    enumerations = 0
    exhausted = threading.Event()

    def source(self, params: Params) -> Iterator[int]:
        type(self).enumerations += 1
        for i in range(params.n):
            if params.slow:
                time.sleep(ITEM_SECONDS)
            yield i
        self.exhausted.set()

    def process(self, item: int, ctx: Context) -> int:
        return item


def _numbers(yard: Yard, name: str = "numbers", **options: object) -> type[Numbers]:
    """A job type of its own, whose counters start afresh."""
    fresh = type("FreshNumbers", (Numbers,), {"enumerations": 0, "exhausted": threading.Event()})
    yard.job(name, **options)(fresh)
    return fresh


def test_small_source_job_of_higher_priority_is_planned_before_a_big_jobs_chunks(yard: Yard) -> None:
    yard.job("bulk", chunk_size=1)(_identity)
    yard.job("urgent_numbers", chunk_size=5, priority=10)(Numbers)
    big = yard.submit("bulk", items=range(3_000), owner="alice")
    worker = yard.worker(name="solo")
    with heartbeat(yard) as beat:
        assert worker.work_once(beat)
        small = yard.submit("urgent_numbers", params={"n": 5}, owner="alice")
        steps = 0
        while not yard.store.job_status(small.id).is_finished:
            assert worker.work_once(beat)
            steps += 1
            assert steps <= 20, "the source job waits behind the big job's 3,000 chunks"

    assert steps == 2, "one claim plans the source, the next runs its only chunk"
    assert yard.get(small.id).succeeded == 5
    assert yard.get(big.id).processed == 1
    assert_counters_match(yard, small.id)


def test_source_job_of_an_idle_owner_is_planned_before_a_busy_owners_chunks(yard: Yard) -> None:
    yard.job("bulk", chunk_size=1)(_identity)
    yard.job("numbers", chunk_size=5)(Numbers)
    big = yard.submit("bulk", items=range(3_000), owner="alice")
    worker = yard.worker(name="solo")
    with heartbeat(yard) as beat:
        for _ in range(3):
            assert worker.work_once(beat)
        small = yard.submit("numbers", params={"n": 5}, owner="bob")
        steps = 0
        while not yard.store.job_status(small.id).is_finished:
            assert worker.work_once(beat)
            steps += 1
            assert steps <= 20, "bob's source job waits behind alice's 3,000 chunks"

    assert steps <= 4, f"bob's job took {steps} claims; fair share must alternate with alice's"
    assert yard.get(small.id).succeeded == 5
    assert yard.get(big.id).status == JobStatus.RUNNING


def test_slow_source_is_planned_once_and_its_first_items_run_before_it_ends(yard: Yard) -> None:
    numbers = _numbers(yard, chunk_size=50)
    job = yard.submit("numbers", params={"n": 300, "slow": True})
    with background_workers(yard, count=2):
        wait_for(lambda: yard.get(job.id).processed > 0, timeout=30, what="the first items to be processed")
        assert not numbers.exhausted.is_set(), "work started only after the whole source was read"
        done = wait_finished(yard, job.id, timeout=60)

    assert (done.status, done.total, done.succeeded) == (JobStatus.SUCCEEDED, 300, 300)
    assert numbers.enumerations == 1, "the planning lease lapsed and another worker planned the source again"
    assert [r.input for r in yard.items(job.id)] == list(range(300))
    assert_counters_match(yard, job.id)


def test_slow_submitter_is_not_taken_for_dead(yard: Yard) -> None:
    yard.job("echo", chunk_size=50)(_identity)

    def slowly() -> Iterator[int]:
        for i in range(300):
            time.sleep(ITEM_SECONDS)
            yield i

    with background_workers(yard, count=2):  # their reapers look for dead submitters
        job = yard.submit("echo", items=slowly())
        done = wait_finished(yard, job.id)

    assert done.error is None
    assert (done.status, done.total, done.succeeded) == (JobStatus.SUCCEEDED, 300, 300)
    assert_counters_match(yard, job.id)


def test_submitter_that_lost_its_lease_raises_instead_of_dropping_items(yard: Yard) -> None:
    yard.job("echo", chunk_size=5)(_identity)

    def stalls() -> Iterator[int]:
        yield from range(10)
        # the submitter stalled past its lease, and a reaper stopped its job as interrupted
        with yard.store.db.read() as conn:  # type: ignore[attr-defined]
            job_id, token = conn.execute(text("SELECT id, planner_token FROM by_jobs")).one()
        yard.store.abandon_planning(job_id, token, SUBMISSION_INTERRUPTED)
        yield from range(10, 20)

    with pytest.raises(SubmissionInterrupted) as raised:
        yard.submit("echo", items=stalls())

    [job] = yard.store.list_jobs()
    assert job.status.is_finished
    assert "interrupted" in raised.value.message()
    assert str(job.id) in raised.value.message("zh-CN")


def test_storing_a_batch_or_sealing_twice_is_harmless(yard: Yard) -> None:
    """A planner retries a store whose acknowledgement was lost with the connection: the repeat is a no-op."""
    from batchyard.core.model import NewJob
    from batchyard.core.planning import cut_chunks

    yard.job("echo", chunk_size=5)(_identity)
    job, _ = yard.store.create_job(NewJob(type="echo", owner="alice", params={}, planner_token="t" * 32))
    [batch] = list(cut_chunks(range(20), chunk_size=5))
    yard.store.add_chunks(job.id, "t" * 32, batch)
    yard.store.add_chunks(job.id, "t" * 32, batch)
    yard.store.seal(job.id, "t" * 32)
    yard.store.seal(job.id, "t" * 32)

    done = yard.run_until_done(job.id, timeout=20)
    assert (done.status, done.total, done.succeeded) == (JobStatus.SUCCEEDED, 20, 20)
    assert_counters_match(yard, job.id)
