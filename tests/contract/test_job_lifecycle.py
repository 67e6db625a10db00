"""Job lifecycle: cancel, pause and resume mid-run, and retry-failed rounds."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from tests.contract.invariants import (
    assert_counters_match,
    background_workers,
    chunk_column,
    claim,
    run_and_commit,
    wait_finished,
    wait_for,
)

from batchyard import Context, JobStatus, Yard
from batchyard.errors import IllegalTransition, JobNotFound


class Blocker:
    """A job whose item ``hold`` waits until the engine asks it to stop (as a long item polling
    ``ctx.should_stop()`` would), recording every item processed."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.calls: Counter[int] = Counter()
        self.holding = threading.Event()
        self.saw_stop = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, item: int, ctx: Context) -> int:
        with self.lock:
            self.calls[item] += 1
        if item == self.hold and self.calls[item] == 1:
            self.holding.set()
            deadline = time.monotonic() + 10
            while not ctx.should_stop() and time.monotonic() < deadline:
                time.sleep(0.01)
            if ctx.should_stop():
                self.saw_stop.set()
        return item * 10


def test_cancel_stops_in_flight_chunk_at_next_item_and_cancels_pending_chunks(yard: Yard) -> None:
    blocker = Blocker(hold=3)
    yard.job("blocking", chunk_size=10)(blocker)
    job = yard.submit("blocking", items=range(50))

    with background_workers(yard):
        assert blocker.holding.wait(10)
        cancelling = yard.cancel(job.id)
        assert cancelling.status in (JobStatus.CANCELLING, JobStatus.CANCELLED)
        done = wait_finished(yard, job.id)

    assert blocker.saw_stop.is_set(), "the item in hand must be told to stop"
    assert done.status == JobStatus.CANCELLED
    assert done.finished_at is not None
    assert sorted(blocker.calls) == [0, 1, 2, 3], "the chunk stops at the next item; no other chunk starts"
    assert done.processed == 4 < done.total == 50
    assert chunk_column(yard, job.id, "status") == ["cancelled"] * 5
    assert len(list(yard.items(job.id, status="cancelled"))) == 46
    assert_counters_match(yard, job.id)


def test_cancel_lets_in_flight_commit_land_then_finishes_cancelled(yard: Yard) -> None:
    @yard.job("double", chunk_size=5)
    def double(item: int, ctx: Context) -> int:
        return item * 2

    job = yard.submit("double", items=range(20))
    chunk = claim(yard)
    assert yard.get(job.id).status == JobStatus.RUNNING

    assert yard.cancel(job.id).status == JobStatus.CANCELLING
    assert yard.store.claim_chunk("w2", 2.0, ["double"]) is None, "pending chunks are cancelled at once"
    assert yard.cancel(job.id).status == JobStatus.CANCELLING, "cancelling twice is harmless"

    run_and_commit(yard, chunk)

    done = yard.get(job.id)
    assert done.status == JobStatus.CANCELLED
    assert (done.processed, done.succeeded) == (5, 5)
    assert [r.output for r in yard.items(job.id, status="succeeded")] == [0, 2, 4, 6, 8]
    assert_counters_match(yard, job.id)


def test_cancel_of_a_job_never_started_finishes_it_at_once(yard: Yard) -> None:
    @yard.job("idle", chunk_size=5)
    def idle(item: int, ctx: Context) -> int:
        return item

    job = yard.submit("idle", items=range(20))
    cancelled = yard.cancel(job.id)
    assert cancelled.status == JobStatus.CANCELLED
    assert cancelled.processed == 0
    assert yard.store.claim_chunk("w1", 2.0, ["idle"]) is None
    with pytest.raises(IllegalTransition) as raised:
        yard.cancel(job.id)
    assert raised.value.details["job_id"] == job.id
    assert_counters_match(yard, job.id)


def test_pause_returns_in_flight_chunk_to_queue_and_resume_completes(yard: Yard) -> None:
    blocker = Blocker(hold=3)
    yard.job("pausable", chunk_size=10)(blocker)
    job = yard.submit("pausable", items=range(50))

    with background_workers(yard):
        assert blocker.holding.wait(10)
        assert yard.pause(job.id).status == JobStatus.PAUSED
        wait_for(lambda: "running" not in chunk_column(yard, job.id, "status"), what="the in-flight chunk to commit")
        time.sleep(0.3)  # the worker keeps polling; a paused job's chunks must not be claimed
        paused = yard.get(job.id)
        assert paused.status == JobStatus.PAUSED
        assert paused.processed == 4
        assert sorted(blocker.calls) == [0, 1, 2, 3]
        assert yard.store.claim_chunk("w2", 2.0, ["pausable"]) is None
        assert paused.eta_seconds is None

        # an idle worker is woken by the resume and may finish the job before resume() has read it back
        assert yard.resume(job.id).status in (JobStatus.RUNNING, JobStatus.SUCCEEDED)
        done = wait_finished(yard, job.id)

    assert done.status == JobStatus.SUCCEEDED
    assert done.processed == done.succeeded == 50
    assert blocker.calls == Counter(range(50)), "every item ran exactly once across the pause"
    assert [r.output for r in yard.items(job.id)] == [i * 10 for i in range(50)]
    assert_counters_match(yard, job.id)


def test_pause_and_resume_of_a_pending_job_keeps_it_pending(yard: Yard) -> None:
    @yard.job("later", chunk_size=5)
    def later(item: int, ctx: Context) -> int:
        return item

    job = yard.submit("later", items=range(10))
    assert yard.pause(job.id).status == JobStatus.PAUSED
    assert yard.pause(job.id).status == JobStatus.PAUSED, "pausing twice is harmless"
    assert yard.store.claim_chunk("w1", 2.0, ["later"]) is None
    assert yard.resume(job.id).status == JobStatus.PENDING
    with pytest.raises(IllegalTransition):
        yard.resume(job.id)
    assert yard.run_until_done(job.id, timeout=20).status == JobStatus.SUCCEEDED
    with pytest.raises(IllegalTransition):
        yard.pause(job.id)
    assert_counters_match(yard, job.id)


def test_lifecycle_actions_on_unknown_job_raise_job_not_found(yard: Yard) -> None:
    yard.store  # noqa: B018 - open the database
    for action in (yard.get, yard.cancel, yard.pause, yard.resume, yard.retry_failed):
        with pytest.raises(JobNotFound) as raised:
            action(4242)
        assert raised.value.details["job_id"] == 4242
    with pytest.raises(JobNotFound):
        list(yard.items(4242))


class Flaky:
    """Odd items fail until ``healed``."""

    def __init__(self) -> None:
        self.healed = False
        self.calls: Counter[int] = Counter()

    def __call__(self, item: int, ctx: Context) -> int:
        self.calls[item] += 1
        if item % 2 and not self.healed:
            raise ValueError(f"odd item {item}")
        return item + 1000


def test_retry_failed_reruns_only_failed_items_as_a_new_round(yard: Yard) -> None:
    flaky = Flaky()
    yard.job("flaky", chunk_size=10)(flaky)
    job = yard.submit("flaky", items=range(40))

    first = yard.run_until_done(job.id, timeout=20)
    assert first.status == JobStatus.PARTIALLY_SUCCEEDED
    assert (first.processed, first.succeeded, first.failed) == (40, 20, 20)
    assert [r.index for r in yard.items(job.id, status="failed")] == list(range(1, 40, 2))
    assert all("ValueError: odd item" in (r.error or "") for r in yard.items(job.id, status="failed"))
    assert_counters_match(yard, job.id)

    flaky.healed = True
    reopened = yard.retry_failed(job.id)
    assert reopened.id == job.id
    assert reopened.status == JobStatus.RUNNING
    assert reopened.round == 2
    assert (reopened.processed, reopened.succeeded, reopened.failed) == (20, 20, 0)
    assert reopened.error is None
    assert_counters_match(yard, job.id)
    with pytest.raises(IllegalTransition):
        yard.retry_failed(job.id)  # a second retry while the round runs

    second = yard.run_until_done(job.id, timeout=20)
    assert second.status == JobStatus.SUCCEEDED
    assert (second.processed, second.succeeded, second.failed) == (40, 40, 0)
    assert flaky.calls == Counter({i: 1 if i % 2 == 0 else 2 for i in range(40)}), "only failed items rerun"
    assert [r.output for r in yard.items(job.id)] == [i + 1000 for i in range(40)]
    assert all(r.error is None for r in yard.items(job.id))
    assert [(r.number, r.items) for r in second.rounds] == [(1, 40), (2, 20)]
    assert all(r.finished_at is not None for r in second.rounds)
    assert [e.data["status"] for e in yard.store.events(job.id) if e.kind == "finished"] == [
        "partially_succeeded",
        "succeeded",
    ]
    assert_counters_match(yard, job.id)


def test_retry_failed_refuses_succeeded_and_running_jobs(yard: Yard) -> None:
    @yard.job("fine", chunk_size=5)
    def fine(item: int, ctx: Context) -> int:
        return item

    ok = yard.submit("fine", items=range(5))
    assert yard.run_until_done(ok.id, timeout=20).status == JobStatus.SUCCEEDED
    with pytest.raises(IllegalTransition) as raised:
        yard.retry_failed(ok.id)
    assert raised.value.details["status"] == JobStatus.SUCCEEDED

    running = yard.submit("fine", items=range(10))
    claim(yard)
    assert yard.get(running.id).status == JobStatus.RUNNING
    with pytest.raises(IllegalTransition):
        yard.retry_failed(running.id)


def test_retry_failed_on_failed_job_with_nothing_left_but_failures(yard: Yard) -> None:
    healed = threading.Event()

    @yard.job("broken", chunk_size=4)
    def broken(item: int, ctx: Context) -> int:
        if not healed.is_set():
            raise RuntimeError("down")
        return item

    job = yard.submit("broken", items=range(8))
    failed = yard.run_until_done(job.id, timeout=20)
    assert failed.status == JobStatus.FAILED
    assert failed.failed == 8
    healed.set()
    yard.retry_failed(job.id)
    done = yard.run_until_done(job.id, timeout=20)
    assert done.status == JobStatus.SUCCEEDED
    assert done.round == 2
    assert_counters_match(yard, job.id)


def test_retry_failed_after_a_stop_also_runs_what_the_stop_cancelled(yard: Yard) -> None:
    healed = threading.Event()
    calls: Counter[int] = Counter()

    @yard.job("strict", chunk_size=10, on_error="stop")
    def strict(item: int, ctx: Context) -> int:
        calls[item] += 1
        if item == 15 and not healed.is_set():
            raise RuntimeError("bad row")
        return item

    job = yard.submit("strict", items=range(50))
    stopped = yard.run_until_done(job.id, timeout=20)
    assert stopped.status == JobStatus.FAILED
    assert stopped.processed == 16

    healed.set()
    yard.retry_failed(job.id)
    done = yard.run_until_done(job.id, timeout=20)

    assert_counters_match(yard, job.id)
    assert list(yard.items(job.id, status="pending")) == [], "no item may stay pending in a finished round"
    assert done.status == JobStatus.SUCCEEDED
    assert (done.processed, done.succeeded, done.total) == (50, 50, 50)
    assert done.progress == 100.0
    assert calls == Counter({i: 2 if i == 15 else 1 for i in range(50)})
