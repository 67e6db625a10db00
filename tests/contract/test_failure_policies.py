"""Failures: on_error continue / stop / retry, bisection of a failing write, max_failures, lost workers."""

from __future__ import annotations

import time
from collections import Counter
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import text
from tests.contract.invariants import assert_counters_match, chunk_column, claim, context_for, run_and_commit

from batchyard import Context, JobStatus, Yard
from batchyard.errors import LeaseLost


def test_on_error_continue_records_failures_and_goes_on(yard: Yard) -> None:
    @yard.job("picky", chunk_size=10)
    def picky(item: int, ctx: Context) -> int:
        if item % 7 == 0:
            raise ValueError(f"{item} is a multiple of seven")
        if item % 5 == 0:
            ctx.skip("multiple of five")
        return item

    job = yard.submit("picky", items=range(1, 36))
    done = yard.run_until_done(job.id, timeout=20)

    assert done.status == JobStatus.PARTIALLY_SUCCEEDED
    assert (done.failed, done.skipped, done.succeeded) == (5, 6, 24)
    failed = list(yard.items(job.id, status="failed"))
    assert [r.input for r in failed] == [7, 14, 21, 28, 35]
    assert failed[0].error == "ValueError: 7 is a multiple of seven"
    assert failed[0].attempts == 1
    assert [r.input for r in yard.items(job.id, status="skipped")] == [5, 10, 15, 20, 25, 30]
    assert done.error is None
    assert_counters_match(yard, job.id)


def test_on_error_stop_fails_job_on_first_failure_and_cancels_remaining_chunks(yard: Yard) -> None:
    calls: list[int] = []

    @yard.job("strict", chunk_size=10, on_error="stop")
    def strict(item: int, ctx: Context) -> int:
        calls.append(item)
        if item == 15:
            raise RuntimeError("bad row")
        return item

    job = yard.submit("strict", items=range(50))
    done = yard.run_until_done(job.id, timeout=20)

    assert done.status == JobStatus.FAILED
    assert done.error is not None
    assert "item 15" in done.error
    assert "RuntimeError: bad row" in done.error
    assert calls == list(range(16)), "nothing runs after the first failure"
    assert (done.processed, done.succeeded, done.failed) == (16, 15, 1)
    assert chunk_column(yard, job.id, "status") == ["done", "cancelled", "cancelled", "cancelled", "cancelled"]
    assert yard.store.claim_chunk("w1", 2.0, ["strict"]) is None
    assert any(e.kind == "stopping" for e in yard.store.events(job.id))
    assert_counters_match(yard, job.id)


def test_on_error_retry_backs_off_and_records_three_attempts(yard: Yard) -> None:
    seen: list[tuple[int, int, float]] = []

    @yard.job("wobbly", chunk_size=5, on_error="retry", max_attempts=3, retry_backoff=0.05)
    def wobbly(item: int, ctx: Context) -> int:
        seen.append((item, ctx.attempt, time.monotonic()))
        if item == 2 and ctx.attempt < 3:
            raise ConnectionError("flaky upstream")
        return item * 3

    job = yard.submit("wobbly", items=range(5))
    done = yard.run_until_done(job.id, timeout=20)

    assert done.status == JobStatus.SUCCEEDED
    assert done.succeeded == 5
    tries = [(attempt, at) for item, attempt, at in seen if item == 2]
    assert [attempt for attempt, _ in tries] == [1, 2, 3]
    gaps = [b - a for (_, a), (_, b) in pairwise(tries)]
    assert gaps[0] >= 0.025, "the first retry waits at least half the base backoff"
    assert gaps[1] >= 0.05, "the second retry waits at least half of twice the base"
    assert Counter(item for item, _, _ in seen) == Counter({0: 1, 1: 1, 2: 3, 3: 1, 4: 1})
    records = {r.index: r for r in yard.items(job.id)}
    assert records[2].status == "succeeded"
    assert records[2].output == 6
    assert records[2].attempts == 3, "an item that succeeded on its third attempt reports 3 attempts"
    assert records[0].attempts == 1
    assert_counters_match(yard, job.id)


def test_on_error_retry_gives_up_after_max_attempts(yard: Yard) -> None:
    attempts: list[int] = []

    @yard.job("hopeless", chunk_size=3, on_error="retry", max_attempts=3, retry_backoff=0.01)
    def hopeless(item: int, ctx: Context) -> int:
        if item == 1:
            attempts.append(ctx.attempt)
            raise TimeoutError("still down")
        return item

    job = yard.submit("hopeless", items=range(3))
    done = yard.run_until_done(job.id, timeout=20)

    assert done.status == JobStatus.PARTIALLY_SUCCEEDED
    assert attempts == [1, 2, 3]
    [bad] = list(yard.items(job.id, status="failed"))
    assert bad.index == 1
    assert bad.attempts == 3
    assert bad.error == "TimeoutError: still down"
    assert_counters_match(yard, job.id)


class CheckedSquares:
    """Writes each output into ``squares`` inside the chunk's commit; the table refuses n = 777."""

    def __init__(self) -> None:
        self.writes = 0

    def process(self, item: int, ctx: Context) -> dict[str, int]:
        return {"n": item, "square": item * item}

    def write(self, outputs: list[dict[str, Any]], ctx: Context) -> None:
        self.writes += 1
        ctx.connection.execute(text("INSERT INTO squares (n, square) VALUES (:n, :square)"), outputs)


def test_failing_write_is_bisected_so_one_bad_row_fails_alone(yard: Yard) -> None:
    with yard.store.db.writer.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE squares (n INTEGER PRIMARY KEY, square BIGINT NOT NULL,"
                " CONSTRAINT no_777 CHECK (n <> 777))"
            )
        )
    yard.job("checked", chunk_size=1000)(CheckedSquares)
    job_type = yard.registry.get("checked")

    job = yard.submit("checked", items=range(1000))
    done = yard.run_until_done(job.id, timeout=30)

    assert done.status == JobStatus.PARTIALLY_SUCCEEDED
    assert (done.succeeded, done.failed) == (999, 1)
    with yard.store.db.reader.connect() as conn:
        written = conn.execute(text("SELECT n, square FROM squares ORDER BY n")).all()
    assert [tuple(row) for row in written] == [(n, n * n) for n in range(1000) if n != 777]
    [bad] = list(yard.items(job.id, status="failed"))
    assert bad.index == 777
    assert bad.output is None
    assert bad.error is not None
    assert "check constraint" in bad.error.lower()
    assert "IntegrityError" in bad.error
    writer = job_type.write.__self__  # type: ignore[union-attr]
    assert writer.writes <= 21, "bisection costs about 2*log2(n) writes per bad item"
    assert_counters_match(yard, job.id)


def test_max_failures_count_fails_a_job_going_badly(yard: Yard) -> None:
    @yard.job("shaky", chunk_size=10, max_failures=3)
    def shaky(item: int, ctx: Context) -> int:
        if item % 5 == 0:
            raise ValueError("nope")
        return item

    job = yard.submit("shaky", items=range(100))
    done = yard.run_until_done(job.id, timeout=20)

    assert done.status == JobStatus.FAILED
    assert done.error is not None
    assert "failures" in done.error
    assert done.failed == 4, "the second chunk takes the job over the limit of 3"
    assert done.processed == 20
    assert yard.store.claim_chunk("w1", 2.0, ["shaky"]) is None
    assert_counters_match(yard, job.id)


def test_max_failures_ratio_fails_a_job_once_enough_items_are_done(yard: Yard) -> None:
    @yard.job("half_bad", chunk_size=50, max_failures=0.2)
    def half_bad(item: int, ctx: Context) -> int:
        if item % 2:
            raise ValueError("odd")
        return item

    job = yard.submit("half_bad", items=range(500))
    done = yard.run_until_done(job.id, timeout=20)

    assert done.status == JobStatus.FAILED
    assert done.error is not None
    assert "failures" in done.error
    assert done.processed == 100, "a ratio is judged once 100 items are done"
    assert done.failed == 50
    assert_counters_match(yard, job.id)


def test_max_failures_ratio_tolerates_failures_below_it(yard: Yard) -> None:
    @yard.job("mostly_fine", chunk_size=50, max_failures=0.2)
    def mostly_fine(item: int, ctx: Context) -> int:
        if item % 10 == 0:
            raise ValueError("one in ten")
        return item

    job = yard.submit("mostly_fine", items=range(300))
    done = yard.run_until_done(job.id, timeout=20)
    assert done.status == JobStatus.PARTIALLY_SUCCEEDED
    assert (done.processed, done.failed) == (300, 30)
    assert done.error is None
    assert_counters_match(yard, job.id)


def test_chunk_losing_its_worker_max_attempts_times_is_failed_with_reason(yard: Yard) -> None:
    @yard.job("crashy", chunk_size=5, max_attempts=3)
    def crashy(item: int, ctx: Context) -> int:
        return item

    job = yard.submit("crashy", items=range(5))
    for lost in range(3):
        chunk = claim(yard, f"doomed-{lost}", lease=0.3)
        assert chunk.lost == lost
        time.sleep(0.4)
        assert yard.store.reap() == 1
        assert_counters_match(yard, job.id)

    done = yard.get(job.id)
    assert done.status == JobStatus.FAILED
    assert (done.processed, done.failed) == (5, 5)
    assert yard.store.claim_chunk("w", 2.0, ["crashy"]) is None
    for record in yard.items(job.id):
        assert record.error is not None
        assert "worker" in record.error
        assert "lost 3 times" in record.error
        assert record.attempts == 3
    assert [e.data["times"] for e in yard.store.events(job.id) if e.kind == "lost"] == [1, 2, 3]
    assert_counters_match(yard, job.id)


def test_chunk_whose_worker_was_lost_is_redone_and_stale_commit_is_fenced(yard: Yard) -> None:
    @yard.job("redo", chunk_size=4)
    def redo(item: int, ctx: Context) -> str:
        return f"{ctx.job_id}:{item}"

    job = yard.submit("redo", items=range(4))
    stale = claim(yard, "stalled", lease=0.3)
    time.sleep(0.4)
    assert yard.store.reap() == 1
    fresh = claim(yard, "healthy")
    assert fresh.lost == 1

    with pytest.raises(LeaseLost):
        run_and_commit(yard, stale, context_for(yard, stale))
    run_and_commit(yard, fresh)

    done = yard.get(job.id)
    assert done.status == JobStatus.SUCCEEDED
    assert (done.processed, done.succeeded) == (4, 4)
    assert_counters_match(yard, job.id)


class StrictWriter(CheckedSquares):
    """Like ``CheckedSquares``, under on_error="stop": a row the table refuses ends the job."""


def test_on_error_stop_also_stops_on_a_failing_write(yard: Yard) -> None:
    with yard.store.db.writer.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE squares (n INTEGER PRIMARY KEY, square BIGINT NOT NULL,"
                " CONSTRAINT no_777 CHECK (n <> 777))"
            )
        )
    yard.job("strict_writer", chunk_size=100, on_error="stop")(StrictWriter)
    job = yard.submit("strict_writer", items=range(700, 1000))
    done = yard.run_until_done(job.id, timeout=30)

    assert done.status == JobStatus.FAILED
    assert done.error is not None
    assert "item 77 failed" in done.error
    assert (done.succeeded, done.failed) == (99, 1), "the bad row's chunk commits its good rows"
    assert chunk_column(yard, job.id, "status") == ["done", "cancelled", "cancelled"]
    with yard.store.db.reader.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM squares")).scalar_one() == 99
    assert_counters_match(yard, job.id)


def test_item_running_past_its_timeout_fails_alone(yard: Yard) -> None:
    @yard.job("bounded", chunk_size=5, timeout=0.2)
    def bounded(item: int, ctx: Context) -> int:
        if item == 1:
            time.sleep(5)
        return item

    started = time.monotonic()
    job = yard.submit("bounded", items=range(5))
    done = yard.run_until_done(job.id, timeout=20)  # in the main thread, where the timeout applies

    assert time.monotonic() - started < 4
    assert done.status == JobStatus.PARTIALLY_SUCCEEDED
    [slow] = list(yard.items(job.id, status="failed"))
    assert slow.index == 1
    assert slow.error is not None
    assert "took longer than 0.2s" in slow.error
    assert done.succeeded == 4
    assert_counters_match(yard, job.id)
