"""Defects found reviewing the commit that writes before its fence is read, the claim beside the COMMIT, the
wake-up of idle workers and coalesced progress events: each test shows one, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.invariants import heartbeat

from batchyard import Context, JobStatus, Yard
from batchyard.core.model import ClaimedChunk
from batchyard.engine.progress import ProgressReports
from batchyard.engine.worker import Worker
from batchyard.errors import DatabaseUnavailable
from batchyard.store.base import Store


class _LosesOneAnswer:
    """The real store; once armed, the answer to a commit that DID commit is lost on its way back."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.armed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextmanager
    def commit_session(self, chunk: ClaimedChunk, **options: Any) -> Iterator[Any]:
        with self._store.commit_session(chunk, **options) as session:
            yield session
        if self.armed:
            self.armed = False
            raise DatabaseUnavailable(reason="server closed the connection unexpectedly")


# --- 1. a commit that went through unheard, with a progress event, is reported again by the next event --------


def test_progress_events_never_report_more_items_than_were_processed(yard: Yard) -> None:
    """The retry of a commit whose answer was lost is refused (LeaseLost); the worker never learnt that the
    first attempt's event went out, and its next event reported the same items again. The reports' clock is
    stepped by hand: what matters is which commit reports, not how long anything takes."""
    now = [1000.0]
    store = _LosesOneAnswer(yard.store)

    def step(item: int, ctx: Context) -> int:
        if item == 3:  # half a second has passed: chunk 3's commit reports items 1, 2 and 3
            now[0] += 1.0
            store.armed = True  # ...and its answer is lost after it committed
        return item

    yard.job("steady", chunk_size=1)(step)
    job = yard.submit("steady", items=range(6))
    worker = Worker(store, yard.registry, lease=30.0, name="solo")  # type: ignore[arg-type]
    worker._claim_ahead = True
    worker._progress = ProgressReports(clock=lambda: now[0])
    with heartbeat(yard) as beat:
        for _ in range(10):
            if yard.store.job_status(job.id).is_finished:
                break
            worker.work_once(beat)
    done = yard.get(job.id)
    assert done.status == JobStatus.SUCCEEDED
    reported = [e.data["items"] for e in yard.store.events(job.id) if e.kind == "progress"]
    assert sum(reported) <= done.processed, f"progress events {reported} report more than {done.processed} items"
