"""Planning: items stored in batches while workers already run them; source-based jobs planned by a worker,
resumed after the items already stored when the planner dies; no job finishes before it is sealed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from tests.contract.invariants import assert_counters_match, background_workers, wait_finished, wait_for

from batchyard import Context, JobStatus, Yard
from batchyard.core.planning import ITEMS_PER_BATCH, cut_chunks
from batchyard.engine.planner import plan_source
from batchyard.errors import LeaseLost


class Numbers:
    """A source-based job: the items are 0..n-1, enumerated by a worker."""

    class Params(BaseModel):
        n: int

    def __init__(self) -> None:
        self.enumerations = 0

    def source(self, params: Params) -> Iterable[int]:
        self.enumerations += 1
        return range(params.n)

    def process(self, item: int, ctx: Context) -> int:
        return item * 2


def test_source_job_is_planned_by_a_worker(yard: Yard) -> None:
    yard.job("numbers", chunk_size=7)(Numbers)
    job = yard.submit("numbers", params={"n": 50}, owner="alice")
    assert job.status == JobStatus.PENDING
    assert not job.sealed
    assert job.total == 0
    assert job.progress == 0.0

    done = yard.run_until_done(job.id, timeout=20)

    assert done.status == JobStatus.SUCCEEDED
    assert done.sealed
    assert (done.total, done.succeeded) == (50, 50)
    assert [r.output for r in yard.items(job.id)] == [i * 2 for i in range(50)]
    kinds = [e.kind for e in yard.store.events(job.id)]
    assert kinds.index("created") < kinds.index("planned") < kinds.index("finished")
    assert_counters_match(yard, job.id)


def test_source_job_planning_resumes_after_planned_items_when_planner_dies(yard: Yard, database_url: str) -> None:
    yard.job("numbers", chunk_size=7)(Numbers)
    job = yard.submit("numbers", params={"n": 50})

    doomed = Yard(database_url, lease_seconds=1.0)  # the planner that dies: its lease is short (but outlasts
    try:  # the next three statements on a machine busy with other tests)
        doomed.job("numbers", chunk_size=7)(Numbers)
        first = doomed.store.claim_planning("doomed", 1.0, ["numbers"])
        assert first is not None
        assert (first.job_id, first.planned, first.next_seq) == (job.id, 0, 0)
        [batch] = list(cut_chunks(range(21), chunk_size=7))  # it stored 3 chunks, then died
        doomed.store.add_chunks(job.id, first.token, batch)
        assert yard.store.claim_planning("live", 2.0, ["numbers"]) is None, "the planner's lease still holds"
        assert yard.get(job.id).total == 21
        time.sleep(1.1)

        resumed = yard.store.claim_planning("live", 2.0, ["numbers"])
        assert resumed is not None
        assert (resumed.job_id, resumed.planned, resumed.next_seq) == (job.id, 21, 3)
        plan_source(yard.store, yard.registry, resumed, lambda: False)

        [late] = list(cut_chunks(range(21, 28), chunk_size=7, first_index=21, first_seq=3))
        with pytest.raises(LeaseLost):
            doomed.store.add_chunks(job.id, first.token, late)
    finally:
        doomed.close()

    planned = yard.get(job.id)
    assert planned.sealed
    assert planned.total == 50
    done = yard.run_until_done(job.id, timeout=20)
    assert done.status == JobStatus.SUCCEEDED
    records = list(yard.items(job.id))
    assert [(r.index, r.input, r.output) for r in records] == [(i, i, i * 2) for i in range(50)]
    assert_counters_match(yard, job.id)


def test_failing_source_fails_the_job_with_its_reason(yard: Yard) -> None:
    class Broken:
        def source(self, params: dict[str, Any]) -> Iterator[int]:
            yield from range(10)
            raise OSError("the legacy database went away")

        def process(self, item: int, ctx: Context) -> int:
            return item

    yard.job("broken_source", chunk_size=5)(Broken)
    job = yard.submit("broken_source")
    done = yard.run_until_done(job.id, timeout=20)
    assert done.status == JobStatus.FAILED
    assert done.error is not None
    assert "the legacy database went away" in done.error
    assert_counters_match(yard, job.id)


def test_source_past_max_items_fails_the_job_before_storing_anything(yard: Yard) -> None:
    yard.job("capped_source", chunk_size=5, max_items=20)(Numbers)
    job = yard.submit("capped_source", params={"n": 21})
    done = yard.run_until_done(job.id, timeout=20)
    assert done.status == JobStatus.FAILED
    assert done.error is not None
    assert "at most 20 items" in done.error
    assert (done.total, done.processed) == (0, 0)
    assert_counters_match(yard, job.id)


def test_source_within_max_items_runs_every_item(yard: Yard) -> None:
    yard.job("capped_ok", chunk_size=5, max_items=20)(Numbers)
    job = yard.submit("capped_ok", params={"n": 20})
    done = yard.run_until_done(job.id, timeout=20)
    assert (done.status, done.succeeded) == (JobStatus.SUCCEEDED, 20)


def test_job_is_never_finished_before_it_is_sealed(database_url: str) -> None:
    # A long lease: the submitter is deliberately slow and must not be taken for dead meanwhile.
    yard = Yard(database_url, lease_seconds=30.0)
    try:
        _check_never_finished_before_sealed(yard)
    finally:
        yard.close()


def _check_never_finished_before_sealed(yard: Yard) -> None:
    @yard.job("stream", chunk_size=1000)
    def stream(item: int, ctx: Context) -> int:
        return item + 1

    blocked, release = threading.Event(), threading.Event()
    tail = 500

    def items() -> Iterator[int]:
        yield from range(ITEMS_PER_BATCH)
        blocked.set()  # asked for the next item: the first batch is stored
        assert release.wait(20)
        yield from range(ITEMS_PER_BATCH, ITEMS_PER_BATCH + tail)

    submitted: list[Any] = []

    def submit() -> None:
        try:
            submitted.append(yard.submit("stream", items=items(), owner="alice"))
        except BaseException as exc:  # noqa: BLE001 - checked below
            submitted.append(exc)

    submitter = threading.Thread(target=submit)
    with background_workers(yard):
        submitter.start()
        assert blocked.wait(20)
        [job] = yard.store.list_jobs()
        wait_for(lambda: yard.get(job.id).processed == ITEMS_PER_BATCH, what="the first batch to be processed")
        time.sleep(0.2)  # give the worker every chance to (wrongly) finish the job
        midway = yard.get(job.id)
        assert midway.status == JobStatus.RUNNING
        assert not midway.sealed
        assert midway.processed == midway.total == ITEMS_PER_BATCH
        assert midway.progress < 100.0
        assert not [e for e in yard.store.events(job.id) if e.kind == "finished"]
        assert_counters_match(yard, job.id)

        release.set()
        submitter.join(timeout=20)
        done = wait_finished(yard, job.id)

    assert not isinstance(submitted[0], BaseException), submitted
    assert done.status == JobStatus.SUCCEEDED
    assert done.sealed
    assert done.total == done.succeeded == ITEMS_PER_BATCH + tail
    assert done.progress == 100.0
    assert_counters_match(yard, job.id)


def test_cancel_during_submission_stops_storing_items(database_url: str) -> None:
    yard = Yard(database_url, lease_seconds=30.0)
    try:

        @yard.job("feed", chunk_size=1000, exclusive="feed")
        def feed(item: int, ctx: Context) -> int:
            return item

        blocked, release = threading.Event(), threading.Event()
        pulled: list[int] = []

        def items() -> Iterator[int]:
            yield from range(ITEMS_PER_BATCH)
            blocked.set()
            assert release.wait(20)
            for i in range(ITEMS_PER_BATCH, 3 * ITEMS_PER_BATCH):
                pulled.append(i)
                yield i

        submitted: list[Any] = []
        submitter = threading.Thread(target=lambda: submitted.append(yard.submit("feed", items=items())))
        submitter.start()
        assert blocked.wait(20)
        [job] = yard.store.list_jobs()
        cancelled = yard.cancel(job.id)
        release.set()
        submitter.join(timeout=20)

        assert cancelled.status == JobStatus.CANCELLED
        assert len(submitted) == 1, "submit returns normally once the job is cancelled under it"
        done = yard.get(job.id)
        assert done.status == JobStatus.CANCELLED
        assert done.total == ITEMS_PER_BATCH, "nothing is stored after the cancel"
        assert len(pulled) < 2 * ITEMS_PER_BATCH
        assert yard.store.claim_chunk("w", 2.0, ["feed"]) is None
        assert_counters_match(yard, job.id)
        assert yard.submit("feed", items=[1]).id != job.id, "the exclusive key was released"
    finally:
        yard.close()


def test_items_iterable_that_raises_does_not_leave_an_active_job(yard: Yard) -> None:
    @yard.job("upload", chunk_size=10, exclusive="upload")
    def upload(item: int, ctx: Context) -> int:
        return item

    def truncated() -> Iterator[int]:
        yield from range(5)
        raise OSError("file truncated")

    with pytest.raises(OSError, match="file truncated"):
        yard.submit("upload", items=truncated())

    [job] = yard.store.list_jobs()
    assert job.status.is_finished, f"job {job.id} was left {job.status} after its submission failed"
    assert job.error is not None
    assert "file truncated" in job.error
    assert yard.submit("upload", items=[1]).id != job.id
