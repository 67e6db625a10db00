"""A worker tells its observer each committed chunk's job type and duration; an observer that fails costs a
log line, never the worker or the job."""

from __future__ import annotations

import pytest

from batchyard import JobStatus, Yard


def test_each_committed_chunk_is_observed_once_with_its_type(yard: Yard) -> None:
    yard.job("triple", chunk_size=3)(lambda item, ctx: item * 3)
    job = yard.submit("triple", items=list(range(10)))
    seen: list[tuple[str, float]] = []
    worker = yard.worker()
    worker.on_chunk = lambda job_type, seconds: seen.append((job_type, seconds))
    worker.run(until=lambda: yard.get(job.id).status.is_finished)
    assert [t for t, _ in seen] == ["triple"] * 4
    assert all(s >= 0 for _, s in seen)


def test_an_observer_that_raises_does_not_stop_the_work(yard: Yard, caplog: pytest.LogCaptureFixture) -> None:
    yard.job("triple", chunk_size=3)(lambda item, ctx: item * 3)
    job = yard.submit("triple", items=list(range(10)))

    def broken(job_type: str, seconds: float) -> None:
        raise RuntimeError("the metrics directory is gone")

    worker = yard.worker()
    worker.on_chunk = broken
    worker.run(until=lambda: yard.get(job.id).status.is_finished)
    assert yard.get(job.id).status == JobStatus.SUCCEEDED
    assert "recording a chunk's duration failed" in caplog.text
