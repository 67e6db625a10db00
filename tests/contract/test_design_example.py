"""The example of DESIGN.md's "Public surfaces", run as written: 100,000 items squared in chunks of 500."""

from __future__ import annotations

from tests.contract.invariants import assert_counters_match

from batchyard import Context, JobStatus, Yard


def test_design_example_squares_one_hundred_thousand_items(yard: Yard) -> None:
    @yard.job("square", chunk_size=500, on_error="retry", max_attempts=3)
    def square(item: int, ctx: Context) -> int:
        return item * item

    job = yard.submit("square", items=range(100_000), owner="alice")
    assert job.total == 100_000
    assert job.sealed

    done = yard.run_until_done(job.id, timeout=60)

    assert done.status == JobStatus.SUCCEEDED
    assert (done.processed, done.succeeded, done.failed, done.skipped) == (100_000, 100_000, 0, 0)
    assert done.progress == 100.0
    assert done.owner == "alice"
    outputs = [(r.index, r.input, r.output, r.status) for r in yard.items(job.id)]
    assert outputs == [(i, i, i * i, "succeeded") for i in range(100_000)]
    assert_counters_match(yard, job.id)
