"""Claim order and caps: priority, fair share across owners, a job's max_concurrency."""

from __future__ import annotations

import threading
import time

from tests.contract.invariants import (
    EndsTurns,
    assert_counters_match,
    background_workers,
    chunk_column,
    claim,
    heartbeat,
    run_and_commit,
    wait_finished,
)

from batchyard import Context, JobStatus, Yard


def _identity(item: int, ctx: Context) -> int:
    return item


def test_small_job_of_another_owner_is_not_starved_by_a_big_job(yard: Yard) -> None:
    yard.job("bulk", chunk_size=1)(_identity)
    big = yard.submit("bulk", items=range(50), owner="alice")
    worker = yard.worker(name="solo")
    with heartbeat(yard) as beat:
        for _ in range(5):
            assert worker.work_once(beat)
        small = yard.submit("bulk", items=range(2), owner="bob")
        claims = 0
        while not yard.store.job_status(small.id).is_finished:
            assert worker.work_once(beat)
            claims += 1
            assert claims <= 50

    assert claims <= 3, f"bob's 2-chunk job took {claims} claims; it must alternate with alice's"
    assert yard.get(small.id).status == JobStatus.SUCCEEDED
    assert yard.get(big.id).processed <= 5 + claims - 2
    assert yard.get(big.id).status == JobStatus.RUNNING
    assert_counters_match(yard, small.id)
    assert_counters_match(yard, big.id)


def test_owner_with_fewest_running_chunks_is_served_first(yard: Yard) -> None:
    yard.job("bulk", chunk_size=1)(_identity)
    alice = yard.submit("bulk", items=range(20), owner="alice")
    alice_again = yard.submit("bulk", items=range(20), owner="alice")
    bob = yard.submit("bulk", items=range(20), owner="bob")

    first = claim(yard, "w1")
    second = claim(yard, "w2")
    third = claim(yard, "w3")

    assert first.job_id == alice.id, "with nothing running, the oldest job goes first"
    assert second.job_id == bob.id, "alice has a chunk running, bob none"
    assert third.job_id in (alice.id, alice_again.id)
    assert first.owner == "alice"
    assert second.owner == "bob"


def test_higher_priority_job_is_claimed_first(yard: Yard) -> None:
    yard.job("routine", chunk_size=2)(_identity)
    yard.job("urgent", chunk_size=2, priority=10)(_identity)
    low = yard.submit("routine", items=range(4), owner="alice")
    boosted = yard.submit("routine", items=range(4), owner="bob", priority=5)
    high = yard.submit("urgent", items=range(4), owner="carol")
    assert (low.priority, boosted.priority, high.priority) == (0, 5, 10)

    order = [claim(yard, f"w{i}").job_id for i in range(6)]
    assert order == [high.id, high.id, boosted.id, boosted.id, low.id, low.id]


def test_max_concurrency_caps_running_chunks_of_a_job(yard: Yard) -> None:
    yard.job("images", chunk_size=1, max_concurrency=2)(_identity)
    yard.job("other", chunk_size=1)(_identity)
    capped = yard.submit("images", items=range(10))

    held = [yard.store.claim_chunk(f"w{i}", 2.0, ["images"]) for i in range(5)]
    assert [c is not None for c in held] == [True, True, False, False, False]
    assert chunk_column(yard, capped.id, "status").count("running") == 2

    uncapped = yard.submit("other", items=range(3))
    third = claim(yard, "w9", types=["images", "other"])
    assert third.job_id == uncapped.id, "a capped job does not block others"

    first = held[0]
    assert first is not None
    run_and_commit(yard, first)
    assert claim(yard, "w10", types=["images"]).job_id == capped.id, "a slot frees when a chunk commits"
    assert yard.store.claim_chunk("w11", 2.0, ["images"]) is None
    assert chunk_column(yard, capped.id, "status").count("running") == 2


def test_waiting_for_max_concurrency_never_consumes_an_attempt(yard: Yard) -> None:
    lock = threading.Lock()
    running = 0
    peak = 0

    @yard.job("one_at_a_time", chunk_size=2, max_concurrency=1, on_error="retry", max_attempts=2)
    def one_at_a_time(item: int, ctx: Context) -> int:
        nonlocal running, peak
        if item % 2 == 0:
            with lock:
                running += 1
                peak = max(peak, running)
        time.sleep(0.01)
        if item % 2 == 1:
            with lock:
                running -= 1
        return ctx.attempt

    job = yard.submit("one_at_a_time", items=range(20))
    with background_workers(yard, count=3):
        done = wait_finished(yard, job.id)

    assert done.status == JobStatus.SUCCEEDED
    assert peak == 1, "never more than one chunk of the job ran at once"
    records = list(yard.items(job.id))
    assert all(r.attempts == 1 for r in records)
    assert all(r.output == 1 for r in records), "every item ran on its first attempt"
    assert set(chunk_column(yard, job.id, "lost")) == {0}
    assert not [e for e in yard.store.events(job.id) if e.kind == "lost"]
    assert_counters_match(yard, job.id)


def test_a_worker_stopped_with_a_chunk_claimed_ahead_gives_it_back_at_once(yard: Yard) -> None:
    """A running worker claims its next chunk inside each commit; stopped then, it leaves no chunk running."""
    ends_turns = EndsTurns()
    yard.job("steady", chunk_size=1)(ends_turns)
    job = yard.submit("steady", items=range(20))
    worker = ends_turns.worker = yard.worker(name="solo")
    with heartbeat(yard) as beat:
        worker._claim_ahead = True  # as in a worker's loop (run() without ``until``)
        assert worker.work_once(beat)
        assert chunk_column(yard, job.id, "status")[:2] == ["done", "running"], "the next chunk was claimed ahead"
        worker.stop()
        worker._loop(beat, None)  # the loop ends at once, handing the chunk claimed ahead back
    assert "running" not in chunk_column(yard, job.id, "status"), "a chunk claimed ahead was kept past the stop"
    assert not [e for e in yard.store.events(job.id) if e.kind == "lost"]
    done = yard.run_until_done(job.id, timeout=60)
    assert (done.status, done.succeeded) == (JobStatus.SUCCEEDED, 20)
    assert_counters_match(yard, job.id)
