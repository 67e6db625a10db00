"""A chunk whose loading did its items' work: its pending items succeed with the outputs ``load`` gave, without a
call of ``process`` per item, and still count one by one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.contract.invariants import assert_counters_match

from batchyard import Context, JobStatus, Yard
from batchyard.core.context import Completed
from batchyard.core.planning import Segment


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
