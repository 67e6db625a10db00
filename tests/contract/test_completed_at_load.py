"""A chunk whose loading did its items' work: its pending items succeed with the outputs ``load`` gave, without a
call of ``process`` per item, and still count one by one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.contract.invariants import assert_counters_match

from batchyard import Context, JobStatus, Yard
from batchyard.core.context import Completed
from batchyard.core.jobtype import define_job_type
from batchyard.core.model import ClaimedChunk
from batchyard.core.planning import Segment
from batchyard.engine.runner import run_chunk


class Pages:
    """Pages of rows whose load writes them; the last item of the job is processed as usual."""

    def __init__(self) -> None:
        self.processed: list[Any] = []

    def source(self, params: dict[str, Any], ctx: Context) -> Iterator[Segment]:
        yield Segment({"first": 0, "rows": 3}, 3)
        yield Segment({"first": 3, "rows": 4}, 4)
        yield Segment({"last": True}, 1)

    def load(self, spec: dict[str, Any], ctx: Context) -> list[Any]:
        if spec.get("last"):
            return ["summary"]
        return Completed([f"row {spec['first'] + i} written" for i in range(spec["rows"])])

    def process(self, item: Any, ctx: Context) -> Any:
        self.processed.append(item)
        return "summed up"


def test_items_completed_at_load_succeed_with_their_outputs_without_process(yard: Yard) -> None:
    pages = Pages()
    yard.job("pages")(pages)

    job = yard.submit("pages")
    done = yard.run_until_done(job.id, timeout=30)

    assert done.status == JobStatus.SUCCEEDED
    assert (done.total, done.succeeded, done.failed) == (8, 8, 0)
    assert pages.processed == ["summary"]
    outputs = [record.output for record in yard.items(job.id)]
    assert outputs == [f"row {n} written" for n in range(7)] + ["summed up"]
    assert_counters_match(yard, job.id)


def test_a_chunk_given_back_is_not_even_loaded() -> None:
    """A chunk claimed ahead for a job since paused or cancelled, or held by a stopping worker, is given back
    untouched: loading it would do its items' work (an export's page) and count them as succeeded."""
    loads: list[dict[str, Any]] = []

    class Counted(Pages):
        def load(self, spec: dict[str, Any], ctx: Context) -> list[Any]:
            loads.append(spec)
            return super().load(spec, ctx)

    job_type = define_job_type("pages", Counted())
    chunk = ClaimedChunk(1, 1, "pages", "o", {}, 1, "t", 0, 0, {"first": 0, "rows": 3}, None, "---", [None] * 3, {}, 0)
    ctx = Context(job_id=1, owner="o", params={}, round=1)
    ctx.request_stop()

    outcome = run_chunk(job_type, chunk, ctx, done_scope=None)

    assert outcome.states == "---"
    assert loads == []
