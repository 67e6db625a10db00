"""The worker loop: claim a chunk (or a job to plan), run it, commit it, repeat; reap what dead workers left.

A worker stops gracefully on request (SIGTERM): the item in hand finishes, the chunk's finished items are
committed and the rest goes straight back to the queue, so nobody waits for a lease to expire.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable

from batchyard.core.context import Context
from batchyard.core.files import JobFiles
from batchyard.core.jobtype import JobType
from batchyard.core.model import ChunkOutcome, ClaimedChunk
from batchyard.core.registry import Registry
from batchyard.core.retry import Outages, retry_transient
from batchyard.core.status import JobStatus
from batchyard.engine.commit import commit_and_claim, commit_failed, commit_unrunnable
from batchyard.engine.heartbeat import Heartbeat, Lease
from batchyard.engine.planner import plan_source
from batchyard.engine.progress import ProgressReports
from batchyard.engine.runner import describe, run_chunk
from batchyard.errors import BatchyardError, DatabaseUnavailable, LeaseLost, StorageError
from batchyard.service.jobs import skip_done_scope
from batchyard.store.base import NextClaim, Store

log = logging.getLogger("batchyard.worker")

# Seconds an idle worker waits between looks for work; the database wakes it sooner when work arrives.
IDLE_MIN, IDLE_MAX = 0.005, 0.1
RUNNABLE = (JobStatus.PENDING, JobStatus.RUNNING)
STORAGE_RETRY_SECONDS = 1.0
# Leases a worker waits after an outage before it reaps: holders renew at their first heartbeat back, and a
# loaded machine must not turn that first heartbeat's delay into a chunk counted lost.
REAP_QUIET_LEASES = 2
SWEEP_FILES_EVERY = 300.0


def new_token() -> str:
    return secrets.token_hex(16)


class Worker:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        lease: float = 30.0,
        name: str | None = None,
        files: JobFiles | None = None,
    ) -> None:
        self.store = store
        self.files = files  # what items read uploads from and save outputs to
        self.registry = registry
        self.lease = lease
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        # A plain flag, not a threading.Event: stop() runs in signal handlers, and Event.set() there deadlocks
        # when the signal lands while the main thread is inside Event.wait() holding the same lock.
        self._stop_requested = False
        self._ctx: Context | None = None
        self._next: ClaimedChunk | None = None  # claimed in the last commit's transaction, to run next
        self._next_handed_over = False  # _next came back from its commit (not found again after a lost answer)
        self._claim_ahead = False
        self._last_reap = 0.0
        self._last_sweep = -SWEEP_FILES_EVERY
        self._outages = Outages()
        self._progress = ProgressReports()
        self.exit_when_hung = False  # a worker process exits when an item will not stop (see Heartbeat)
        self.on_chunk: Callable[[str, float], None] | None = None  # told each committed chunk's type and seconds

    def stop(self) -> None:
        """Ask the worker to finish the item in hand, commit what it did, and return from ``run``."""
        self._stop_requested = True
        ctx = self._ctx
        if ctx is not None:
            ctx.request_stop()

    def run(self, until: Callable[[], bool] | None = None) -> None:
        heartbeat = Heartbeat(self.store, lease=self.lease, exit_when_hung=self.exit_when_hung, outages=self._outages)
        log.info("worker %s ready for %s", self.name, ", ".join(self.registry.names) or "no job types")
        try:
            with self.store.pinned():
                self._loop(heartbeat, until)
        finally:
            heartbeat.close()

    def _loop(self, heartbeat: Heartbeat, until: Callable[[], bool] | None) -> None:
        # Claiming the next chunk inside each commit saves a transaction per chunk; with ``until`` the loop may
        # end after any chunk, and must not end holding one.
        self._claim_ahead = until is None
        idle = IDLE_MIN
        try:
            while not self._stop_requested and not (until and until()):
                if self._work_safely(heartbeat):
                    idle = IDLE_MIN
                else:
                    self._wait_for_work(idle)
                    idle = min(idle * 2, IDLE_MAX)
        finally:
            self._give_back_claimed_ahead(heartbeat)

    def _give_back_claimed_ahead(self, heartbeat: Heartbeat) -> None:
        """Stopping: a chunk claimed ahead goes straight back, untouched (its commit hands it back)."""
        chunk, self._next = self._next, None
        if chunk is None:
            return
        try:
            self._run(chunk, heartbeat, give_back=True)
        except Exception:
            log.exception("could not give back chunk %s of job %s", chunk.seq, chunk.job_id)

    def _work_safely(self, heartbeat: Heartbeat) -> bool:
        """A database that is briefly unreachable, or a deadlock PostgreSQL broke, costs a pause, not the
        worker: whatever was not committed is redone from the last commit."""
        try:
            return self.work_once(heartbeat)
        except StorageError as exc:
            if isinstance(exc, DatabaseUnavailable):
                self._outages.record()
            log.warning("database error, retrying in %.0fs: %s", STORAGE_RETRY_SECONDS, exc)
        except Exception:
            log.exception("unexpected error in the worker loop; going on in %.0fs", STORAGE_RETRY_SECONDS)
        self._sleep(STORAGE_RETRY_SECONDS)
        return False

    def _wait_for_work(self, seconds: float) -> None:
        """Idle: the database wakes the worker when work arrives; a database away costs a plain sleep."""
        try:
            self.store.wait_for_work(seconds)
        except StorageError:
            self._sleep(seconds)

    def _sleep(self, seconds: float) -> None:
        """Sleep, waking early (within 50 ms) once a stop is requested."""
        deadline = time.monotonic() + seconds
        while not self._stop_requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))

    def work_once(self, heartbeat: Heartbeat) -> bool:
        """Do one unit of work (a chunk and those claimed ahead after it, or a job to plan); False when there
        was none."""
        self._reap_now_and_then()
        if (ahead := self._next) is not None:
            # held since an earlier turn, so a cancel or pause may have come since its claim: look once (if the
            # database is away, the chunk stays in hand for the next turn)
            give_back = self.store.job_status(ahead.job_id) not in RUNNABLE
            self._next = None
            self._run_chain(ahead, heartbeat, give_back=give_back)
            return True
        work = self.store.claim(self.name, self.lease, self.registry.names)
        if isinstance(work, ClaimedChunk):
            self._run_chain(work, heartbeat)
        elif work is not None:
            plan_source(self.store, self.registry, work, lambda: self._stop_requested, self.files)
        return work is not None

    def _run_chain(self, chunk: ClaimedChunk, heartbeat: Heartbeat, *, give_back: bool = False) -> None:
        """Run ``chunk``, then each chunk its commit claimed ahead, straight away: as soon after its claim as a
        chunk claimed on its own is run, so its job needs no second look. The chain ends when a stop is asked
        for, a reaper sweep is due, or a chunk was found again after a commit's answer was lost; such a chunk
        is held for the next turn, which looks at its job first."""
        self._run(chunk, heartbeat, give_back=give_back)
        while self._next is not None and self._next_handed_over and not self._stop_requested and not self._reap_due():
            chunk, self._next = self._next, None
            self._run(chunk, heartbeat)

    def _reap_due(self) -> bool:
        """After an outage, wait two leases of talking to the database before reaping: every lease looks
        expired then, and their holders must get the chance to renew them first (decision 0010)."""
        due = time.monotonic() - self._last_reap >= self.lease / 3
        return due and self._outages.quiet_for(REAP_QUIET_LEASES * self.lease)

    def _reap_now_and_then(self) -> None:
        if self._reap_due():
            self._last_reap = time.monotonic()
            if reaped := self.store.reap():
                log.info("requeued %d chunk(s) whose worker was lost", reaped)
            self._sweep_files_now_and_then()

    def _sweep_files_now_and_then(self) -> None:
        """Delete expired uploads and artifacts, at most every ``SWEEP_FILES_EVERY`` seconds of this worker."""
        if self.files is None or time.monotonic() - self._last_sweep < SWEEP_FILES_EVERY:
            return
        self._last_sweep = time.monotonic()
        try:
            if swept := self.files.sweep():
                log.info("deleted %d expired file(s)", swept)
        except BatchyardError as exc:  # the next sweep tries again; the work in hand goes on
            log.warning("deleting expired files failed: %s", exc.message())

    def _run(self, chunk: ClaimedChunk, heartbeat: Heartbeat, *, give_back: bool = False) -> None:
        """Run the chunk's items and commit them; ``give_back``: run none, commit it back untouched."""
        job_type = self.registry.get(chunk.job_type)
        try:
            ctx = Context(
                job_id=chunk.job_id, owner=chunk.owner, params=job_type.parse_params(chunk.params), round=chunk.round
            )
            scope = skip_done_scope(job_type, chunk.owner, chunk.params)
        except Exception as exc:  # noqa: BLE001 - params that no longer parse: no item of this job can run
            reason = f"the job cannot run: {exc.message() if isinstance(exc, BatchyardError) else describe(exc)}"
            log.warning("job %s: %s", chunk.job_id, reason)
            self._finish_if(commit_unrunnable(self.store, chunk, reason), chunk.job_id)
            return
        ctx.files = self.files
        self._ctx = ctx
        if self._stop_requested or give_back:
            ctx.request_stop()
        lease = heartbeat.hold(chunk, ctx, timeout=job_type.policies.timeout)
        try:
            self._process_and_commit(job_type, lease, heartbeat, scope)
        finally:
            heartbeat.drop(lease)
            self._ctx = None

    def _process_and_commit(self, job_type: JobType, lease: Lease, heartbeat: Heartbeat, scope: str | None) -> None:
        chunk, ctx = lease.chunk, lease.ctx
        began = time.monotonic()
        outcome = run_chunk(job_type, chunk, ctx, done_scope=scope, guard=heartbeat.guard)
        if lease.lost:
            log.warning("not committing chunk %s of job %s: its lease was lost", chunk.seq, chunk.job_id)
            return
        # one token for every attempt: a commit that went through although its answer was lost claimed the next
        # chunk with it, and the worker finds that chunk by it
        ahead = NextClaim(self.name, self.lease, self.registry.names, new_token()) if self._claims_ahead() else None
        reports: list[int | None] = []  # the progress each attempt carried
        try:
            drained = retry_transient(  # from memory: the lease fence makes a repeated commit safe
                lambda: self._commit(job_type, outcome, ctx, ahead, reports),
                what=f"commit of chunk {chunk.seq} of job {chunk.job_id}",
                should_stop=lambda: self._stop_requested,
                outages=self._outages,
            )
        except LeaseLost:
            log.warning("commit of chunk %s of job %s refused: its lease was lost", chunk.seq, chunk.job_id)
            if any(r is not None for r in reports[:-1]):
                # an earlier attempt may have gone through unheard, with its event: count that as sent (at worst
                # a later event reports less, never the same items twice)
                self._progress.committed(chunk.job_id, 0, reported=True)
            if ahead is not None:
                self._next, self._next_handed_over = self._find_claimed_ahead(ahead.token), False
            return
        self._observe(chunk.job_type, time.monotonic() - began)
        self._finish_if(drained, chunk.job_id)

    def _observe(self, job_type: str, seconds: float) -> None:
        if self.on_chunk is None:
            return
        try:
            self.on_chunk(job_type, seconds)
        except Exception:  # a metric is never worth a worker
            log.exception("recording a chunk's duration failed")

    def _commit(
        self, job_type: JobType, outcome: ChunkOutcome, ctx: Context, ahead: NextClaim | None, reports: list[int | None]
    ) -> bool:
        """Commit the outcome; if the commit itself fails for a reason of the chunk's own (a constraint checked
        at COMMIT, a bug), the items it completed fail with that reason instead of the worker dying."""
        try:
            job_id, items = outcome.chunk.job_id, outcome.delta.processed
            progress = self._progress.due(job_id, items)
            reports.append(progress)
            drained, self._next = commit_and_claim(self.store, job_type, outcome, ctx, ahead, progress=progress)
            self._next_handed_over = True
            self._progress.committed(job_id, items, reported=progress is not None)
            return drained
        except (LeaseLost, StorageError):
            raise
        except Exception as exc:
            log.exception("commit of chunk %s of job %s failed", outcome.chunk.seq, outcome.chunk.job_id)
            return commit_failed(self.store, job_type, outcome, exc)

    def _find_claimed_ahead(self, token: str) -> ClaimedChunk | None:
        """The chunk a commit claimed under ``token`` though its answer was lost, looked up through outages."""
        return retry_transient(
            lambda: self.store.claimed_with(token),
            what="finding the chunk claimed ahead",
            should_stop=lambda: self._stop_requested,
            outages=self._outages,
        )

    def _claims_ahead(self) -> bool:
        return self._claim_ahead and not self._stop_requested

    def _finish_if(self, drained: bool, job_id: int) -> None:
        if drained:
            self.store.finish_if_done(job_id)
