"""The heartbeat against a real store: each renewal's verdict belongs to the lease it renewed.

The interleavings are forced, not hoped for: ``GatedStore`` is the real store with a gate in front of one
renewal, so the test decides when that renewal reaches the database and when its answer comes back.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.acceptance.helpers import wait_for
from tests.contract.invariants import assert_counters_match

from batchyard import Context, Job, JobStatus, Yard
from batchyard.core.model import ClaimedChunk
from batchyard.core.status import JobStatus as Status
from batchyard.engine.heartbeat import Heartbeat
from batchyard.engine.worker import Worker
from batchyard.store.base import Store


class GatedStore:
    """The real store, except that the first renewal of chunk ``gated_seq`` waits at a gate.

    Every call goes to the real database; the gate only decides *when*. ``calls`` counts the heartbeat
    thread's calls, so a test knows the thread has gone round its loop (and acted on the gated answer).
    """

    def __init__(self, store: Store, gated_seq: int) -> None:
        self._store = store
        self._gated_seq = gated_seq
        self.entered = threading.Event()  # the gated renewal is waiting at the gate
        self.release = threading.Event()  # let it through to the database
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def heartbeat(self, chunk: ClaimedChunk, lease_seconds: float, current: str | None) -> Status | None:
        self.calls += 1
        if chunk.seq == self._gated_seq and not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(timeout=30), "the test never opened the gate"
        return self._store.heartbeat(chunk, lease_seconds, current)

    def job_status(self, job_id: int) -> Status:
        self.calls += 1
        return self._store.job_status(job_id)


def test_a_late_renewal_of_the_previous_chunk_does_not_lose_the_next_one(yard: Yard) -> None:
    """Chunk A's renewal is answered (None: A was committed meanwhile) after the worker holds chunk B."""
    store = GatedStore(yard.store, gated_seq=0)

    @yard.job("gated", chunk_size=1)
    def gated(item: str, ctx: Context) -> str:
        if item == "a":  # hold chunk A until its renewal is on its way to the database
            assert store.entered.wait(timeout=30), "chunk A was never renewed"
        else:  # chunk B is held: let A's renewal through, and wait until the heartbeat has acted on its answer
            seen = store.calls
            store.release.set()
            wait_for(lambda: store.calls > seen + 1, timeout=30, what="the heartbeat to go round again")
        return item.upper()

    job = yard.submit("gated", items=["a", "b"])
    worker = Worker(store, yard.registry, lease=yard.settings.lease_seconds)
    heartbeat = Heartbeat(store, lease=yard.settings.lease_seconds)
    try:
        assert worker.work_once(heartbeat), "chunk A was not claimed"
        assert worker.work_once(heartbeat), "chunk B was not claimed"
    finally:
        heartbeat.close()

    done = yard.get(job.id)
    assert [r.status for r in yard.items(job.id)] == ["succeeded", "succeeded"], "chunk B's work was thrown away"
    assert (done.processed, done.succeeded) == (2, 2)
    assert done.status == JobStatus.SUCCEEDED


def test_timeout_fails_an_item_running_on_a_thread_other_than_the_main_one(yard: Yard) -> None:
    """``run_until_done`` in a thread: the item cannot be cut short there, but its late result fails it."""

    @yard.job("bounded", chunk_size=5, timeout=0.5)
    def bounded(item: int, ctx: Context) -> int:
        if item == 1:
            for _ in range(100):  # 5 s in short sleeps: an exception sent to a thread lands between them
                time.sleep(0.05)
        return item

    job = yard.submit("bounded", items=range(5))
    finished: list[Job] = []
    runner = threading.Thread(target=lambda: finished.append(yard.run_until_done(job.id, timeout=30)))
    runner.start()
    runner.join(timeout=60)

    assert finished, "run_until_done did not return"
    [done] = finished
    assert done.status == JobStatus.PARTIALLY_SUCCEEDED
    [slow] = list(yard.items(job.id, status="failed"))
    assert slow.index == 1
    assert slow.error == "ItemTimedOut: The item took longer than 0.5s (its job type's timeout)."
    assert (done.succeeded, done.failed) == (4, 1)
    assert_counters_match(yard, job.id)
