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
from batchyard.errors import ChunkChanged


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


class Written:
    """Rows completed at load whose write refuses one of them: the refused row keeps what it was (its stored
    form, from the items ``load`` kept), not its output."""

    def source(self, params: dict[str, Any], ctx: Context) -> Iterator[Segment]:
        yield Segment({"rows": 3}, 3)

    def load(self, spec: dict[str, Any], ctx: Context) -> list[Any]:
        rows = [{"sku": f"S{i}"} for i in range(spec["rows"])]
        return Completed([("record", row["sku"]) for row in rows], items=rows)

    def process(self, item: Any, ctx: Context) -> Any:
        raise AssertionError("every item was completed at load")

    def write(self, records: list[Any], ctx: Context) -> dict[int, Any]:
        return {i: ValueError(f"{sku} refused") for i, (_, sku) in enumerate(records) if sku == "S1"}

    def stored_form(self, row: dict[str, str]) -> tuple[dict[str, str], int]:
        return row, int(row["sku"][1:])


def test_an_item_completed_at_load_and_refused_by_write_keeps_its_input(yard: Yard) -> None:
    yard.job("written")(Written())

    job = yard.submit("written")
    done = yard.run_until_done(job.id, timeout=30)

    assert (done.succeeded, done.failed) == (2, 1)
    [failed] = list(yard.items(job.id, status="failed"))
    assert failed.error == "ValueError: S1 refused"
    assert failed.input == {"sku": "S1"}
    assert_counters_match(yard, job.id)


def test_items_kept_at_load_must_match_the_chunk() -> None:
    class Short(Written):
        def load(self, spec: dict[str, Any], ctx: Context) -> list[Any]:
            return Completed(["a", "b", "c"], items=[{"sku": "S0"}])

    job_type = define_job_type("short", Short())
    chunk = ClaimedChunk(1, 1, "short", "o", {}, 1, "t", 0, 0, {"rows": 3}, None, "---", [None] * 3, {}, 0)

    outcome = run_chunk(job_type, chunk, Context(job_id=1, owner="o", params={}, round=1), done_scope=None)

    assert set(outcome.states) != {"+"}  # not succeeded: the chunk changed since it was planned
    assert [error.error for error in outcome.errors] == [
        f"ChunkChanged: {ChunkChanged(expected=3, found=1).message()}"
    ] * 3


def test_outputs_short_of_the_chunk_are_named_by_their_own_count() -> None:
    class ShortOutputs(Written):
        def load(self, spec: dict[str, Any], ctx: Context) -> list[Any]:
            return Completed(["a"], items=[{"sku": "S0"}, {"sku": "S1"}, {"sku": "S2"}])

    job_type = define_job_type("short", ShortOutputs())
    chunk = ClaimedChunk(1, 1, "short", "o", {}, 1, "t", 0, 0, {"rows": 3}, None, "---", [None] * 3, {}, 0)

    outcome = run_chunk(job_type, chunk, Context(job_id=1, owner="o", params={}, round=1), done_scope=None)

    assert [error.error for error in outcome.errors] == [
        f"ChunkChanged: {ChunkChanged(expected=3, found=1).message()}"
    ] * 3


def test_items_given_as_an_iterator_are_kept_as_a_list(yard: Yard) -> None:
    class Iterated(Written):
        def load(self, spec: dict[str, Any], ctx: Context) -> list[Any]:
            rows = [{"sku": f"S{i}"} for i in range(spec["rows"])]
            return Completed([("record", row["sku"]) for row in rows], items=iter(rows))  # type: ignore[arg-type]

    yard.job("iterated")(Iterated())

    done = yard.run_until_done(yard.submit("iterated").id, timeout=30)

    assert (done.succeeded, done.failed) == (2, 1)
    [failed] = list(yard.items(done.id, status="failed"))
    assert failed.input == {"sku": "S1"}
