"""A thread beside the worker's main loop that renews the lease on the chunk in hand and watches its job.

It renews every third of the lease and reads the job's status in between, so a cancel or pause is noticed
within ``poll`` seconds and the item loop stops at the next item.
"""

from __future__ import annotations

import logging
import threading
import time

from batchyard.core.context import Context
from batchyard.core.model import ClaimedChunk
from batchyard.core.retry import Outages
from batchyard.core.status import JobStatus
from batchyard.errors import BatchyardError, DatabaseUnavailable
from batchyard.store.base import Store

log = logging.getLogger("batchyard.worker")

KEEP_GOING = (JobStatus.PENDING, JobStatus.RUNNING)


class Heartbeat:
    def __init__(self, store: Store, *, lease: float, poll: float = 0.5, outages: Outages | None = None) -> None:
        self._store = store
        self._outages = outages
        self._lease = lease
        self._poll = min(poll, lease / 3)
        self._lock = threading.Lock()
        self._held: tuple[ClaimedChunk, Context] | None = None
        self._renewed_at = 0.0
        self._closed = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name="batchyard-heartbeat", daemon=True)
        self._thread.start()

    def hold(self, chunk: ClaimedChunk, ctx: Context) -> None:
        with self._lock:
            self._held = (chunk, ctx)
            self._renewed_at = time.monotonic()
            self.lost = False

    def drop(self) -> None:
        with self._lock:
            self._held = None

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._closed.wait(self._poll):
            with self._lock:
                held = self._held
            if held is not None:
                try:
                    self._beat(*held)
                except BatchyardError as exc:  # a database hiccup: try again at the next beat
                    if isinstance(exc, DatabaseUnavailable) and self._outages is not None:
                        self._outages.record()
                    log.warning("heartbeat failed: %s", exc)

    def _beat(self, chunk: ClaimedChunk, ctx: Context) -> None:
        if time.monotonic() - self._renewed_at >= self._lease / 3:
            status = self._store.heartbeat(chunk, self._lease, ctx.current)
            self._renewed_at = time.monotonic()
        else:
            status = self._store.job_status(chunk.job_id)
        if status is None:
            with self._lock:  # a renewal that returns after the worker moved on says nothing of the next chunk
                if self._held is not None and self._held[0] is chunk:
                    self.lost = True
            log.warning("lease lost on chunk %s of job %s; another worker has it", chunk.seq, chunk.job_id)
        if status is None or status not in KEEP_GOING:
            ctx.request_stop()
