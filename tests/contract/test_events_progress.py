"""What watchers see: events from created to finished, progress up to 100, an ETA while running, the current
item's label."""

from __future__ import annotations

import time
from itertools import pairwise

from tests.contract.invariants import assert_counters_match, claim, heartbeat, run_and_commit

from batchyard import Context, JobStatus, Yard


def _register_slow(yard: Yard) -> None:
    @yard.job("slow", chunk_size=10)
    def slow(item: int, ctx: Context) -> int:
        ctx.current = f"row {item}"
        time.sleep(0.01)
        return item


def test_events_progress_and_eta_follow_a_job_to_the_end(yard: Yard) -> None:
    _register_slow(yard)
    job = yard.submit("slow", items=range(30), owner="alice")
    assert [e.kind for e in yard.store.events(job.id)] == ["created", "planned"]
    assert job.eta_seconds is None
    assert job.progress == 0.0

    progress: list[float] = []
    for n in range(3):
        chunk = claim(yard)
        if n == 0:
            started = yard.get(job.id)
            assert started.status == JobStatus.RUNNING
            assert started.started_at is not None
            assert started.eta_seconds is None or started.eta_seconds >= 0
        run_and_commit(yard, chunk)
        now = yard.get(job.id)
        progress.append(now.progress)
        if n < 2:
            assert now.status == JobStatus.RUNNING
            assert isinstance(now.eta_seconds, float), "a running job with commits behind it has an ETA"
            assert 0.0 < now.eta_seconds < 60.0
            assert now.current == f"row {10 * n + 9}"
        assert_counters_match(yard, job.id)

    done = yard.get(job.id)
    assert progress == [33.33, 66.67, 100.0]
    assert done.status == JobStatus.SUCCEEDED
    assert done.eta_seconds in (None, 0.0)
    assert done.current is None
    assert done.finished_at is not None
    assert done.started_at is not None
    assert done.created_at <= done.started_at <= done.finished_at

    events = yard.store.events(job.id)
    kinds = [e.kind for e in events]
    assert kinds[0] == "created"
    assert kinds[-1] == "finished"
    assert kinds.count("finished") == 1
    assert [e.data["items"] for e in events if e.kind == "progress"] == [10, 10, 10]
    assert events[-1].data == {"status": "succeeded", "succeeded": 30, "failed": 0, "skipped": 0}
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert all(e.job_id == job.id for e in events)
    assert all(b.at >= a.at for a, b in pairwise(events))
    assert yard.store.events(job.id, after=events[0].id) == events[1:]


def test_events_are_kept_per_job(yard: Yard) -> None:
    _register_slow(yard)
    first = yard.submit("slow", items=range(3))
    second = yard.submit("slow", items=range(3))
    yard.pause(first.id)
    yard.run_until_done(second.id, timeout=20)
    assert all(e.job_id == first.id for e in yard.store.events(first.id))
    assert "finished" not in [e.kind for e in yard.store.events(first.id)]
    assert [e.kind for e in yard.store.events(second.id)][-1] == "finished"
    assert {e.job_id for e in yard.store.events()} == {first.id, second.id}


def test_progress_never_reaches_100_before_all_items_are_done(yard: Yard) -> None:
    @yard.job("tally", chunk_size=1)
    def tally(item: int, ctx: Context) -> int:
        return item

    job = yard.submit("tally", items=range(3))
    seen = [yard.get(job.id).progress]
    for _ in range(3):
        run_and_commit(yard, claim(yard))
        seen.append(yard.get(job.id).progress)
    assert seen == [0.0, 33.33, 66.67, 100.0]
    assert seen == sorted(seen)


def test_cancel_and_pause_emit_status_events(yard: Yard) -> None:
    _register_slow(yard)
    job = yard.submit("slow", items=range(20))
    yard.pause(job.id)
    yard.resume(job.id)
    yard.cancel(job.id)
    statuses = [e.data["status"] for e in yard.store.events(job.id) if e.kind == "status"]
    assert statuses == ["paused", "pending", "cancelling"]
    assert yard.store.events(job.id)[-1].data["status"] == "cancelled"


def test_a_worker_reports_progress_at_most_every_half_second_per_job(yard: Yard) -> None:
    """A fast job of many small chunks gets a few progress events, not one per chunk; together they never
    report more than was processed, and the counters stay exact."""
    yard.job("tiny", chunk_size=1)(lambda item, ctx: item)
    job = yard.submit("tiny", items=range(300))
    worker = yard.worker(name="solo")
    worker._claim_ahead = True  # as in a worker's loop: a turn runs chunk after chunk
    with heartbeat(yard) as beat:
        while worker.work_once(beat):  # a turn ends early when a reaper sweep falls due (a 2 s lease here)
            pass
    done = yard.get(job.id)
    assert done.status == JobStatus.SUCCEEDED
    reported = [e.data["items"] for e in yard.store.events(job.id) if e.kind == "progress"]
    assert reported, "the first commit reports"
    assert reported[0] == 1
    assert len(reported) < 300
    assert all(n > 0 for n in reported)
    assert sum(reported) <= done.processed == 300
    assert_counters_match(yard, job.id)


def test_the_current_label_is_the_running_chunks_before_any_done_ones(yard: Yard) -> None:
    _register_slow(yard)
    job = yard.submit("slow", items=range(30), owner="alice")
    run_and_commit(yard, claim(yard))  # chunk 0 done: its last label stays on its row
    assert yard.get(job.id).current == "row 9"
    running = claim(yard)
    yard.store.heartbeat(running, 30.0, "row 12")
    assert yard.get(job.id).current == "row 12", "the item in hand, not the last one done"
    run_and_commit(yard, running)
    assert yard.get(job.id).current == "row 19"
