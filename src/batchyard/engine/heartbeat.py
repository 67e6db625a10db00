"""A thread beside the worker's main loop that renews the lease on the chunk in hand and watches its job.

It renews every third of the lease and reads the job's status in between, so a cancel or pause is noticed
within ``poll`` seconds and the item loop stops at the next item. It is also the item's watchdog: it raises
in an item past its ``timeout``, and in one that does not give way within ``grace`` of a stop request; after
a second ``grace`` it gives the chunk up (its lease expires and the reaper hands it on) and, in a worker
process, exits so that the supervisor starts a fresh one.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from batchyard.core.context import Context
from batchyard.core.model import ClaimedChunk
from batchyard.core.retry import Outages
from batchyard.core.status import JobStatus
from batchyard.engine.guard import guard_for_this_thread
from batchyard.errors import BatchyardError, DatabaseUnavailable
from batchyard.store.base import Store

log = logging.getLogger("batchyard.worker")

KEEP_GOING = (JobStatus.PENDING, JobStatus.RUNNING)
GRACE_MIN = 5.0  # seconds an item has to return after a stop request, before it is interrupted
HUNG_EXIT_CODE = 75  # EX_TEMPFAIL: the worker gave up an item that would not stop; start another


class Lease:
    """One hold of one chunk. A renewal's verdict is recorded on the lease it renewed, so a late answer about
    one chunk can never speak for the next one."""

    def __init__(self, chunk: ClaimedChunk, ctx: Context, timeout: float | None) -> None:
        self.chunk = chunk
        self.ctx = ctx
        self.timeout = timeout
        self.lost = False
        self.renewed_at = self.checked_at = time.monotonic()
        self.stop_seen_at: float | None = None
        self.interrupted = False


class Heartbeat:
    """Create it on the thread that runs the items: that is the thread its watchdog interrupts."""

    def __init__(
        self,
        store: Store,
        *,
        lease: float,
        poll: float = 0.5,
        grace: float | None = None,
        exit_when_hung: bool = False,
        outages: Outages | None = None,
    ) -> None:
        self._store = store
        self._outages = outages
        self._lease = lease
        self._poll = min(poll, lease / 3)
        self.grace = max(GRACE_MIN, lease) if grace is None else grace
        self._exit_when_hung = exit_when_hung
        self.guard = guard_for_this_thread()
        self.guard.install()
        self._lock = threading.Lock()
        self._held: Lease | None = None
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="batchyard-heartbeat", daemon=True)
        self._thread.start()

    def hold(self, chunk: ClaimedChunk, ctx: Context, *, timeout: float | None = None) -> Lease:
        """Start renewing ``chunk``; ``timeout`` is its items' deadline, which the watchdog enforces."""
        lease = Lease(chunk, ctx, timeout)
        with self._lock:
            self._held = lease
        if timeout is not None:
            self._wake.set()  # the watchdog must look more often than it was
        return lease

    def drop(self, lease: Lease) -> None:
        with self._lock:
            if self._held is lease:
                self._held = None

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=5)
        if not self._thread.is_alive():  # else a late signal must still find our handler
            self.guard.uninstall()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._tick())
            self._wake.clear()
            with self._lock:
                lease = self._held
            if lease is not None and not self._closed:
                self._tend(lease)

    def _tick(self) -> float:
        """Every ``poll`` seconds, or often enough to catch an item's deadline within a tenth of it."""
        lease = self._held
        if lease is None or lease.timeout is None:
            return self._poll
        return min(self._poll, max(0.01, lease.timeout / 10))

    def _tend(self, lease: Lease) -> None:
        now = time.monotonic()
        self.guard.poke(now)
        if now - lease.checked_at >= self._poll:
            lease.checked_at = now
            try:
                self._beat(lease)
            except BatchyardError as exc:  # a database hiccup: try again at the next beat
                if isinstance(exc, DatabaseUnavailable) and self._outages is not None:
                    self._outages.record()
                log.warning("heartbeat failed: %s", exc)
            except Exception:
                log.exception("heartbeat failed")
        self._escalate(lease, time.monotonic())

    def _beat(self, lease: Lease) -> None:
        chunk = lease.chunk
        if time.monotonic() - lease.renewed_at >= self._lease / 3:
            status = self._store.heartbeat(chunk, self._lease, lease.ctx.current)
            lease.renewed_at = time.monotonic()
        else:
            status = self._store.job_status(chunk.job_id)
        if status is None:
            lease.lost = True  # this lease's, never the next chunk's: a late result says nothing of that one
            log.warning("lease lost on chunk %s of job %s; another worker has it", chunk.seq, chunk.job_id)
        if status is None or status not in KEEP_GOING:
            lease.ctx.request_stop()

    def _escalate(self, lease: Lease, now: float) -> None:
        """An item still running ``grace`` after a stop request is interrupted; after twice that, given up."""
        if not lease.ctx.stop_requested or not self.guard.runs(lease.ctx):
            return
        if lease.stop_seen_at is None:
            lease.stop_seen_at = now
        waited = now - lease.stop_seen_at
        if waited >= 2 * self.grace:
            self._give_up(lease)
        elif waited >= self.grace and not lease.interrupted:
            lease.interrupted = True
            log.warning("interrupting item %r of job %s: still running %.0fs after a stop", *_about(lease), waited)
            self.guard.interrupt(lease.ctx)

    def _give_up(self, lease: Lease) -> None:
        """Stop renewing the chunk, so that it expires and is reclaimed; a worker process exits as well,
        since its item thread is lost to the item."""
        self.drop(lease)
        lease.lost = True
        item, job_id = _about(lease)
        log.error("item %r of job %s does not stop; giving its chunk up (its lease will expire)", item, job_id)
        if self._exit_when_hung:
            log.error("exiting with code %d so that a fresh worker takes over", HUNG_EXIT_CODE)
            os._exit(HUNG_EXIT_CODE)


def _about(lease: Lease) -> tuple[object, int]:
    return lease.ctx.item, lease.chunk.job_id
