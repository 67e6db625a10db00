"""Defects found reviewing the planning-as-claimed-work, lock-order and what-fails-an-item changes: each test
shows one, on SQLite and PostgreSQL unless the defect is PostgreSQL's alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from pydantic import BaseModel, field_validator
from tests.contract.invariants import (
    BackgroundWorker,
    assert_counters_match,
    claim,
    heartbeat,
    run_and_commit,
    wait_finished,
)

from batchyard import Context, JobStatus, Yard

BAD_NAME = b"photo-\xff.jpg".decode("utf-8", "surrogateescape")  # what os.listdir gives for a non-UTF-8 name


def _finish_with_one_worker(yard: Yard, job_id: int, *, steps: int = 20) -> None:
    """Drive one in-process worker step by step: an exception escaping a step is what kills a worker's loop."""
    worker = yard.worker(name="solo")
    with heartbeat(yard) as beat:
        for _ in range(steps):
            if yard.store.job_status(job_id).is_finished:
                return
            worker.work_once(beat)
    raise AssertionError(f"job {job_id} did not finish in {steps} worker steps")


# --- text the database cannot encode (lone surrogates) in a reason or a label --------------------------------


def _fails_quoting_a_file_name(item: int, ctx: Context) -> int:
    if item == 3:
        raise OSError(f"cannot open {BAD_NAME}")
    return item


def _labels_with_a_file_name(item: int, ctx: Context) -> int:
    ctx.current = f"{BAD_NAME} #{item}"
    return item


def test_an_error_quoting_a_non_utf8_file_name_fails_that_item_alone(yard: Yard) -> None:
    yard.job("files", chunk_size=10)(_fails_quoting_a_file_name)
    job = yard.submit("files", items=range(10))
    _finish_with_one_worker(yard, job.id)
    done = assert_counters_match(yard, job.id)
    assert (done.succeeded, done.failed) == (9, 1), done.counters
    [failed] = list(yard.items(job.id, status="failed"))
    assert failed.index == 3
    assert "cannot open" in (failed.error or "")


def test_a_label_naming_a_non_utf8_file_does_not_stop_the_chunk_committing(yard: Yard) -> None:
    yard.job("labelled", chunk_size=10)(_labels_with_a_file_name)
    job = yard.submit("labelled", items=range(10))
    _finish_with_one_worker(yard, job.id)
    assert assert_counters_match(yard, job.id).succeeded == 10


# --- on_error="stop" and failures found at commit -------------------------------------------------------------


def _huge_output_for_item_1(item: int, ctx: Context) -> int:
    return 2**70 if item == 1 else item


def test_an_unstorable_output_under_on_error_stop_stops_the_job(yard: Yard) -> None:
    yard.job("stopper", chunk_size=5, on_error="stop")(_huge_output_for_item_1)
    job = yard.submit("stopper", items=range(10))
    run_and_commit(yard, claim(yard))  # items 0-4: item 1's output cannot be stored, so item 1 fails
    done = yard.get(job.id)
    assert done.status in (JobStatus.CANCELLING, JobStatus.FAILED), (
        f"on_error='stop': the first failure ends the job, but it is {done.status} with {done.counters}"
    )


# --- a submitter whose job its own policy stopped -------------------------------------------------------------


def _fails_item_0(item: int, ctx: Context) -> int:
    if item == 0:
        raise ValueError("item 0 is bad")
    return item


def test_a_submitter_whose_job_stopped_on_its_first_failure_is_not_told_its_submission_was_interrupted(
    yard: Yard,
) -> None:
    """Decision 0012: only a submitter that really lost its lease (stalled past it; the reaper stopped the job
    as interrupted) raises SubmissionInterrupted. A job that on_error="stop" ended while its items were still
    being stored is a normal outcome of a normal submission, like a cancel."""
    yard.job("strict", chunk_size=5_000, on_error="stop")(_fails_item_0)

    def items() -> Iterator[int]:
        yield from range(10_000)  # one full batch of two chunks: stored before the next item is asked for
        first = claim(yard)
        run_and_commit(yard, first)  # a worker runs the first chunk: item 0 fails and stops the job
        assert yard.store.job_status(first.job_id) in (JobStatus.CANCELLING, JobStatus.FAILED)
        yield from range(10_000, 10_010)

    job = yard.submit("strict", items=items())
    assert wait_finished(yard, job.id).status == JobStatus.FAILED


# --- the reaper behind a long commit (PostgreSQL: the job row lock) -------------------------------------------


def _identity(item: int, ctx: Context) -> int:
    return item


def test_a_long_commit_of_one_job_does_not_stall_every_worker(pg_schema_url: str) -> None:
    """A commit holds its job's row FOR SHARE for as long as the job's ``write`` runs (an import of 1,000 rows,
    a worker frozen by SIGSTOP). The reaper in every worker's loop now waits for that row FOR UPDATE as soon
    as another chunk of the same job has an expired lease, so no worker claims anything, of any job."""
    yard = Yard(pg_schema_url, lease_seconds=2.0)
    try:
        yard.job("slow_writes", chunk_size=1)(_identity)
        yard.job("other", chunk_size=5)(_identity)
        yard.submit("slow_writes", items=range(2), owner="alice")
        in_commit = claim(yard, "w1")
        yard.store.claim_chunk("w2", 0.001, ["slow_writes"])  # w2 dies: its lease runs out at once
        other = yard.submit("other", items=range(5), owner="bob")
        worker = BackgroundWorker(yard, name="bg")
        try:
            with yard.store.commit_session(in_commit, for_write=True):  # w1 is inside its commit (a long write)
                worker.start()
                done = wait_finished(yard, other.id, timeout=15)
        finally:
            worker.stop()
        assert done.status == JobStatus.SUCCEEDED
    finally:
        yard.close()


# --- keys the database cannot hold (PostgreSQL: by_done_keys.key is VARCHAR(500)) ----------------------------


class _LongKeys:
    def key(self, item: str) -> str:
        return item

    def process(self, item: str, ctx: Context) -> int:
        return len(item)


def test_a_skip_done_key_longer_than_the_column_fails_one_item_not_the_chunk(yard: Yard) -> None:
    yard.job("long_keys", chunk_size=10, skip_done="long-keys")(_LongKeys)
    items = [f"row-{i}" for i in range(9)] + ["x" * 600]
    job = yard.submit("long_keys", items=items)
    _finish_with_one_worker(yard, job.id)
    done = assert_counters_match(yard, job.id)
    assert done.succeeded >= 9, done.counters
    lost = [r for r in yard.items(job.id, status="failed") if "worker" in (r.error or "")]
    assert not lost, lost


# --- rounds after an abandoned planning ----------------------------------------------------------------------


class _SourceFailsAfterABatch:
    def source(self, params: object) -> Iterator[int]:
        yield from range(10_000)  # a full batch of two chunks, stored before the next item is asked for
        yield 10_000
        raise ConnectionError("the remote API went away")

    def process(self, item: int, ctx: Context) -> int:
        return item


def test_round_one_counts_the_items_it_planned_when_its_planning_was_abandoned(yard: Yard) -> None:
    yard.job("flaky_source", chunk_size=5_000)(_SourceFailsAfterABatch)
    job = yard.submit("flaky_source")
    _finish_with_one_worker(yard, job.id)
    done = yard.get(job.id)
    assert done.status == JobStatus.FAILED
    assert done.total == 10_000
    assert done.rounds[0].items == done.total, (done.total, done.rounds)


# --- params that no longer parse, when the new model's validator raises something else than ValueError ---------


class _ParamsV1(BaseModel):
    start: str


class _ParamsV2(BaseModel):
    start: date

    @field_validator("start", mode="before")
    @classmethod
    def _from_day_number(cls, value: object) -> date:
        return date.fromordinal(value)  # type: ignore[arg-type]  # a str now raises TypeError, not ValueError


def _evolving(params_model: type[BaseModel]) -> type:
    return type("Evolving", (), {"Params": params_model, "process": lambda self, item, ctx: item})


def test_params_whose_new_validator_raises_type_error_fail_the_items_and_stop_the_job(database_url: str) -> None:
    """Pydantic 2 passes a TypeError raised in a validator through unwrapped: it is not InvalidParams, so the
    worker's guard for params that no longer parse misses it and the chunk loops until "worker was lost"."""
    old, new = Yard(database_url, lease_seconds=2.0), Yard(database_url, lease_seconds=2.0)
    try:
        old.job("evolving", chunk_size=5)(_evolving(_ParamsV1))
        job = old.submit("evolving", items=range(10), params={"start": "2024-01-01"})
        new.job("evolving", chunk_size=5)(_evolving(_ParamsV2))
        _finish_with_one_worker(new, job.id)
        done = assert_counters_match(new, job.id)
        assert done.status == JobStatus.FAILED
        assert all("cannot run" in (r.error or "") for r in new.items(job.id, status="failed"))
    finally:
        old.close()
        new.close()
