"""What a job's code, a broken submission or a lost worker can do to the engine: each fails the items it must,
with its reason, and the worker loop goes on; retry resumes what an interrupted submission left."""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count

import pytest
from pydantic import BaseModel
from sqlalchemy import text
from tests.contract.invariants import (
    assert_counters_match,
    background_workers,
    chunk_column,
    claim,
    run_and_commit,
    wait_finished,
    wait_for,
)
from tests.support.hardening_apps import DeferredWriter, Scaled, create_deferred_table

from batchyard import Context, JobStatus, Yard, errors
from batchyard.core.model import NewJob
from batchyard.core.planning import ITEMS_PER_BATCH, cut_chunks


def _statuses(yard: Yard, job_id: int) -> dict[int, str]:
    return {r.index: r.status for r in yard.items(job_id)}


def _lose(yard: Yard, job_id: int, *, seq: int, times: int) -> None:
    """Claim chunk ``seq`` with a tiny lease ``times`` times and let each lease run out, as a worker killed
    mid-chunk would; the reaper takes it back each time."""
    for _ in range(times):
        chunk = claim(yard, "doomed", lease=0.2)
        assert (chunk.job_id, chunk.seq) == (job_id, seq)
        wait_for(lambda: yard.store.reap() == 1, timeout=10, what=f"the reaper to take chunk {seq} back")


# 1. outputs that cannot be stored


def test_output_that_cannot_be_stored_fails_only_its_item(yard: Yard) -> None:
    outputs: dict[int, object] = {3: 2**70, 7: object()}

    @yard.job("unstorable", chunk_size=10)
    def unstorable(item: int, ctx: Context) -> object:
        return outputs.get(item, item * item)

    job = yard.submit("unstorable", items=range(20))
    done = yard.run_until_done(job.id, timeout=30)

    assert done.status == JobStatus.PARTIALLY_SUCCEEDED
    assert (done.succeeded, done.failed) == (18, 2)
    failed = list(yard.items(job.id, status="failed"))
    assert [r.index for r in failed] == [3, 7]
    for record in failed:
        assert record.error is not None
        assert "cannot be stored" in record.error
        assert record.output is None
    good = [r for r in yard.items(job.id) if r.status == "succeeded"]
    assert [(r.index, r.output) for r in good] == [(i, i * i) for i in range(20) if i not in outputs]
    assert_counters_match(yard, job.id)


class Unprintable(Exception):
    """An error of a job's code whose message itself fails to render."""

    def __str__(self) -> str:
        raise RuntimeError("no message")


def test_error_whose_message_cannot_be_rendered_fails_only_its_item(yard: Yard) -> None:
    @yard.job("unprintable", chunk_size=5, max_attempts=2)
    def unprintable(item: int, ctx: Context) -> int:
        if item == 2:
            raise Unprintable()
        return item

    job = yard.submit("unprintable", items=range(10))
    done = yard.run_until_done(job.id, timeout=30)  # raises if the worker loop does

    assert done.status == JobStatus.PARTIALLY_SUCCEEDED
    assert (done.succeeded, done.failed) == (9, 1), [(r.index, r.status, r.error) for r in yard.items(job.id)]
    [bad] = list(yard.items(job.id, status="failed"))
    assert bad.index == 2
    assert bad.error is not None
    assert "Unprintable" in bad.error
    assert_counters_match(yard, job.id)


# 2. params that no longer parse


def test_params_that_no_longer_parse_fail_the_job_and_not_the_worker(yard: Yard) -> None:
    yard.job("scaled", chunk_size=5)(Scaled)
    job = yard.submit("scaled", items=range(15), params={"factor": 3})
    with yard.store.db.write() as conn:
        conn.execute(text("UPDATE by_jobs SET params = :p WHERE id = :id"), {"p": '{"factor": "three"}', "id": job.id})

    done = yard.run_until_done(job.id, timeout=30)  # raises if the worker loop does

    assert done.status == JobStatus.FAILED
    assert done.error is not None
    assert "cannot run" in done.error
    assert "factor" in done.error
    records = list(yard.items(job.id))
    assert not [r for r in records if r.status == "succeeded"]
    failed = [r for r in records if r.status == "failed"]
    assert failed, "the items of the chunk that met the params fail"
    for record in failed:
        assert record.error is not None
        assert "cannot run" in record.error
    assert {r.status for r in records} <= {"failed", "cancelled"}
    assert_counters_match(yard, job.id)


def test_params_that_no_longer_parse_do_not_stop_a_background_worker(yard: Yard) -> None:
    yard.job("scaled", chunk_size=5)(Scaled)
    broken = yard.submit("scaled", items=range(10), params={"factor": 3})
    with yard.store.db.write() as conn:
        conn.execute(text("UPDATE by_jobs SET params = :p WHERE id = :id"), {"p": "{}", "id": broken.id})

    with background_workers(yard) as [worker]:  # stop() fails the test if the worker raised
        assert wait_finished(yard, broken.id, timeout=30).status == JobStatus.FAILED
        healthy = yard.submit("scaled", items=range(10), params={"factor": 3})
        done = wait_finished(yard, healthy.id, timeout=30)
        assert worker.error is None

    assert done.status == JobStatus.SUCCEEDED
    assert [r.output for r in yard.items(healthy.id)] == [i * 3 for i in range(10)]
    assert_counters_match(yard, broken.id)


# 3. a constraint checked at COMMIT


def _deferred_rows(yard: Yard) -> list[int]:
    with yard.store.db.read() as conn:
        return [int(k) for k in conn.execute(text("SELECT k FROM deferred_rows ORDER BY k")).scalars()]


def test_constraint_checked_at_commit_fails_its_items_and_not_the_worker(yard: Yard) -> None:
    items, bad = range(30), {13, 27}
    create_deferred_table(yard, items, bad)
    yard.job("deferred", chunk_size=10)(DeferredWriter)

    job = yard.submit("deferred", items=items)
    done = yard.run_until_done(job.id, timeout=60)  # raises if the worker loop does

    assert done.status == JobStatus.PARTIALLY_SUCCEEDED
    failed = list(yard.items(job.id, status="failed"))
    if yard.store.db.is_sqlite:  # no savepoint sees a deferred key: the chunks holding a bad item fail whole
        assert [r.index for r in failed] == list(range(10, 30))
        assert all(r.error is not None and "could not be committed" in r.error for r in failed)
        assert _deferred_rows(yard) == list(range(10))
    else:  # each savepoint checks deferred constraints at once, so bisection finds the bad items
        assert [r.index for r in failed] == sorted(bad)
        assert all(r.error is not None and "IntegrityError" in r.error for r in failed)
        assert _deferred_rows(yard) == list(items)  # the bad items' keys are the rows already there
    assert (done.succeeded, done.failed) == (30 - len(failed), len(failed))
    assert_counters_match(yard, job.id)


def test_constraint_checked_at_commit_does_not_stop_a_background_worker(yard: Yard) -> None:
    create_deferred_table(yard, range(200), {5})
    yard.job("deferred", chunk_size=10)(DeferredWriter)

    with background_workers(yard) as [worker]:
        first = wait_finished(yard, yard.submit("deferred", items=range(20)).id, timeout=60)
        second = wait_finished(yard, yard.submit("deferred", items=range(100, 110)).id, timeout=60)
        assert worker.error is None

    assert first.status == JobStatus.PARTIALLY_SUCCEEDED
    assert first.failed == (10 if yard.store.db.is_sqlite else 1)
    assert second.status == JobStatus.SUCCEEDED, "the worker goes on with the next job"
    assert_counters_match(yard, first.id)
    assert_counters_match(yard, second.id)


# 4. write failures obey on_error="retry"


class FlakyWriter:
    """``write`` refuses item 7 the first time it was processed (an outside system briefly down)."""

    def __init__(self) -> None:
        self.runs: Counter[int] = Counter()

    def process(self, item: int, ctx: Context) -> int:
        self.runs[item] += 1
        return item

    def write(self, outputs: list[int], ctx: Context) -> None:
        if 7 in outputs and self.runs[7] == 1:
            raise ConnectionError("the warehouse API is down")


def test_failing_write_is_retried_under_on_error_retry(yard: Yard) -> None:
    yard.job("flaky_write", chunk_size=10, on_error="retry", max_attempts=3, retry_backoff=0.01)(FlakyWriter)
    job = yard.submit("flaky_write", items=range(20))
    done = yard.run_until_done(job.id, timeout=30)

    assert done.status == JobStatus.SUCCEEDED, done.error
    assert (done.succeeded, done.failed) == (20, 0)
    records = {r.index: r for r in yard.items(job.id)}
    assert records[7].status == "succeeded"
    assert records[7].attempts == 2
    assert records[7].output == 7
    assert {r.attempts for i, r in records.items() if i != 7} == {1}
    assert list(yard.items(job.id, status="failed")) == []
    assert_counters_match(yard, job.id)


def test_failing_write_fails_its_item_once_attempts_are_used_up(yard: Yard) -> None:
    yard.job("flaky_once", chunk_size=10, on_error="retry", max_attempts=1, retry_backoff=0.01)(FlakyWriter)
    job = yard.submit("flaky_once", items=range(20))
    done = yard.run_until_done(job.id, timeout=30)

    assert done.status == JobStatus.PARTIALLY_SUCCEEDED
    [bad] = list(yard.items(job.id, status="failed"))
    assert (bad.index, bad.attempts, bad.error) == (7, 1, "ConnectionError: the warehouse API is down")
    assert done.succeeded == 19
    assert_counters_match(yard, job.id)


# 5. retry after an interrupted submission


def test_retry_after_a_submission_that_raised_runs_the_stored_items_and_finishes(yard: Yard) -> None:
    @yard.job("upload", chunk_size=1000)
    def upload(item: int, ctx: Context) -> int:
        return item

    stored = ITEMS_PER_BATCH  # the first batch is stored before the iterable breaks

    def truncated() -> Iterator[int]:
        yield from range(stored + 5)
        raise OSError("file truncated")

    with pytest.raises(OSError, match="file truncated"):
        yard.submit("upload", items=truncated())
    [job] = yard.store.list_jobs()
    stopped = wait_finished(yard, job.id)
    assert stopped.status == JobStatus.FAILED
    assert stopped.error is not None
    assert "file truncated" in stopped.error
    assert stopped.total == stored

    retried = yard.retry_failed(job.id)
    assert retried.status == JobStatus.RUNNING
    assert retried.sealed, "the items never stored are gone: the job is sealed with those it has"
    with background_workers(yard):
        done = wait_finished(yard, job.id, timeout=60)

    assert done.status == JobStatus.SUCCEEDED, done.error
    assert (done.total, done.succeeded, done.failed) == (stored, stored, 0)
    assert [r.input for r in yard.items(job.id)] == list(range(stored))
    assert done.rounds[-1].items == stored
    assert_counters_match(yard, job.id)


def test_round_of_an_interrupted_submission_counts_the_items_it_stored(yard: Yard) -> None:
    @yard.job("upload", chunk_size=1000)
    def upload(item: int, ctx: Context) -> int:
        return item

    def truncated() -> Iterator[int]:
        yield from range(ITEMS_PER_BATCH + 5)
        raise OSError("file truncated")

    with pytest.raises(OSError, match="file truncated"):
        yard.submit("upload", items=truncated())
    [job] = yard.store.list_jobs()
    stopped = wait_finished(yard, job.id)

    assert stopped.total == ITEMS_PER_BATCH
    assert [r.items for r in stopped.rounds] == [ITEMS_PER_BATCH], "round 1 holds every item stored"


def test_retry_of_a_stopped_submission_with_every_stored_item_done_says_where_it_stopped(yard: Yard) -> None:
    @yard.job("feed", chunk_size=4)
    def feed(item: int, ctx: Context) -> int:
        return item

    token = secrets.token_hex(16)
    job, created = yard.store.create_job(NewJob(type="feed", owner="alice", params={}, planner_token=token))
    assert created
    for batch in cut_chunks(range(8), chunk_size=4):
        yard.store.add_chunks(job.id, token, batch)
    run_and_commit(yard, claim(yard))
    run_and_commit(yard, claim(yard))
    yard.store.abandon_planning(job.id, token, "the upload was cut short")
    stopped = wait_finished(yard, job.id)
    assert (stopped.status, stopped.total, stopped.succeeded) == (JobStatus.FAILED, 8, 8)

    with pytest.raises(errors.BatchyardError) as caught:
        yard.retry_failed(job.id)

    refusal = caught.value
    assert refusal.code == "submission_stopped", refusal
    assert isinstance(refusal, errors.NothingToRetry)
    english = refusal.message("en")
    assert "no failed items" in english
    assert "item 8" in english
    assert "the upload was cut short" in english
    chinese = refusal.message("zh-CN")
    assert "第 8 项" in chinese
    assert "没有可重试的失败项" in chinese
    assert "the upload was cut short" in chinese
    assert yard.get(job.id).status == JobStatus.FAILED, "a refused retry changes nothing"


class BreaksOnce:
    """A source that breaks midway the first time it is enumerated (a legacy database going away)."""

    class Params(BaseModel):
        n: int
        break_at: int

    def __init__(self) -> None:
        self.broken = False

    def source(self, params: Params) -> Iterator[int]:
        for i in range(params.n):
            if i == params.break_at and not self.broken:
                self.broken = True
                raise OSError("the legacy database went away")
            yield i

    def process(self, item: int, ctx: Context) -> int:
        return item


def test_retry_of_a_source_job_that_broke_midway_plans_on_after_the_stored_items(yard: Yard) -> None:
    # One chunk per planning batch: every chunk cut is stored before the source goes on.
    yard.job("breaks_once", chunk_size=ITEMS_PER_BATCH)(BreaksOnce)
    n, break_at = 3 * ITEMS_PER_BATCH, 2 * ITEMS_PER_BATCH + 5
    job = yard.submit("breaks_once", params={"n": n, "break_at": break_at})

    stopped = yard.run_until_done(job.id, timeout=60)
    assert stopped.status == JobStatus.FAILED
    assert stopped.error is not None
    assert "the legacy database went away" in stopped.error
    assert stopped.total == 2 * ITEMS_PER_BATCH

    yard.retry_failed(job.id)
    done = yard.run_until_done(job.id, timeout=60)

    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.sealed
    assert (done.total, done.succeeded, done.failed) == (n, n, 0)
    assert [r.input for r in yard.items(job.id)] == list(range(n)), "every item exactly once, in order"
    assert_counters_match(yard, job.id)


# 6. each round keeps its started_at


def test_seal_keeps_the_submit_time_as_the_first_round_start(yard: Yard) -> None:
    @yard.job("trickle", chunk_size=1000)
    def trickle(item: int, ctx: Context) -> int:
        return item

    mid_submit: list[datetime] = []

    def slow() -> Iterator[int]:
        yield from range(ITEMS_PER_BATCH)  # stored as a batch before the next item is asked for
        mid_submit.append(datetime.now(UTC))  # the job exists, planning has not ended: no seal yet
        yield from range(ITEMS_PER_BATCH, ITEMS_PER_BATCH + 10)

    job = yard.submit("trickle", items=slow())
    assert yard.get(job.id).sealed
    run_and_commit(yard, claim(yard))  # the first chunk is claimed after the seal

    [first_round] = yard.get(job.id).rounds
    claimed = yard.get(job.id).started_at
    assert claimed is not None
    assert job.created_at <= first_round.started_at <= mid_submit[0], "round 1 starts when the job is submitted"
    assert first_round.started_at <= claimed
    assert first_round.items == ITEMS_PER_BATCH + 10


# 7. the reaper applies the job's failure policies


def test_reaper_failing_a_lost_chunk_stops_a_job_with_on_error_stop(yard: Yard) -> None:
    @yard.job("stop_on_loss", chunk_size=5, on_error="stop", max_attempts=2)
    def stop_on_loss(item: int, ctx: Context) -> int:
        return item

    job = yard.submit("stop_on_loss", items=range(15))
    _lose(yard, job.id, seq=0, times=2)

    done = wait_finished(yard, job.id)
    assert done.status == JobStatus.FAILED
    assert done.error is not None
    assert "item 0 failed:" in done.error
    assert "lost 2 times" in done.error
    states = _statuses(yard, job.id)
    assert [states[i] for i in range(5)] == ["failed"] * 5
    assert {states[i] for i in range(5, 15)} == {"cancelled"}
    assert chunk_column(yard, job.id, "status")[1:] == ["cancelled", "cancelled"]
    assert yard.store.claim_chunk("w", 2.0, ["stop_on_loss"]) is None
    assert_counters_match(yard, job.id)


def test_reaper_failing_a_lost_chunk_honours_max_failures(yard: Yard) -> None:
    @yard.job("fragile", chunk_size=5, max_failures=3, max_attempts=2)
    def fragile(item: int, ctx: Context) -> int:
        return item

    job = yard.submit("fragile", items=range(15))
    _lose(yard, job.id, seq=0, times=2)

    done = wait_finished(yard, job.id)
    assert done.status == JobStatus.FAILED
    assert done.error is not None
    assert "too many failures" in done.error
    assert (done.processed, done.failed) == (5, 5)
    assert yard.store.claim_chunk("w", 2.0, ["fragile"]) is None
    assert set(_statuses(yard, job.id).values()) == {"failed", "cancelled"}
    assert_counters_match(yard, job.id)


def test_chunk_of_a_cancelling_job_lost_for_the_last_time_leaves_its_items_cancelled(yard: Yard) -> None:
    @yard.job("lost_on_cancel", chunk_size=5, max_attempts=2)
    def lost_on_cancel(item: int, ctx: Context) -> int:
        return item

    job = yard.submit("lost_on_cancel", items=range(10))
    _lose(yard, job.id, seq=0, times=1)
    last = claim(yard, "doomed", lease=0.2)
    assert (last.seq, last.lost) == (0, 1), "the next loss is its last"
    assert yard.cancel(job.id).status == JobStatus.CANCELLING
    wait_for(lambda: yard.store.reap() == 1, timeout=10, what="the reaper to take the chunk back")

    done = wait_finished(yard, job.id)
    assert done.status == JobStatus.CANCELLED
    assert done.failed == 0
    assert set(_statuses(yard, job.id).values()) == {"cancelled"}
    assert list(yard.items(job.id, status="failed")) == []
    assert_counters_match(yard, job.id)


# 8. TooManyItems counts to a bound


def test_too_many_items_from_an_endless_iterable_is_refused_promptly(yard: Yard) -> None:
    @yard.job("capped", max_items=10)
    def capped(item: int, ctx: Context) -> int:
        return item

    give_up = threading.Event()
    pulled = Counter[str]()

    def endless() -> Iterator[int]:
        for i in count():
            if give_up.is_set():  # lets a submitter that would count for ever end with the test
                return
            pulled["items"] += 1
            yield i

    outcome: list[BaseException] = []

    def submit() -> None:
        try:
            yard.submit("capped", items=endless())
        except BaseException as exc:  # noqa: BLE001 - examined by the test
            outcome.append(exc)

    submitter = threading.Thread(target=submit, name="endless-submitter", daemon=True)
    submitter.start()
    try:
        submitter.join(timeout=60)
        assert not submitter.is_alive(), f"submit still counting after 60 s ({pulled['items']} items pulled)"
    finally:
        give_up.set()
        submitter.join(timeout=60)

    [refusal] = outcome
    assert isinstance(refusal, errors.TooManyItems), refusal
    assert "100011+" in refusal.message("en")
    assert "100011+" in refusal.message("zh-CN")
    assert pulled["items"] <= 10 + 1 + 100_000
    assert yard.store.list_jobs() == [], "nothing is stored for a refused submission"
