"""Committing a chunk: states, outputs, failures, done keys, an event and the job's counters, in ONE
transaction that first checks the lease (fencing: a worker that stalled past its lease must not commit)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from batchyard.core.model import ChunkOutcome, ClaimedChunk
from batchyard.core.policies import too_many_failures
from batchyard.core.status import ChunkStatus, JobStatus
from batchyard.errors import DatabaseUnavailable, InvalidParams, LeaseLost, StorageError
from batchyard.store.base import NextClaim
from batchyard.store.sql import claims, codec, queries
from batchyard.store.sql.database import Database, is_transient
from batchyard.store.sql.raw import Raw, Sql
from batchyard.store.sql.rows import (
    SomeConnection,
    add_counters,
    as_raw,
    emit,
    epoch,
    fitted_key,
    read_counters,
    record_errors,
    released_status,
    shard_of,
    storable_text,
)
from batchyard.store.sql.tables import DONE_KEY_LENGTH, DONE_SCOPE_LENGTH
from batchyard.store.sql.wakeup import announce_work

log = logging.getLogger("batchyard.store")


class SqlCommitSession:
    """``raw`` runs the commit's own statements; ``connection`` (SQLAlchemy, on the same driver connection and
    transaction) is there only for a job type's ``write``.

    The lease is checked (on PostgreSQL, the job row and the chunk row locked, in that order) before anything is
    written when the outcome needs the job's status. A chunk whose items are all settled does not: it is written
    at once, its row update carrying the fence, and the whole transaction is rolled back if the update found
    the lease gone — on PostgreSQL the writes, the checks and the read of the next claim's candidates then take
    one round trip, and the next claim and the COMMIT a second."""

    def __init__(self, db: Database, raw: Raw, conn: Connection | None, chunk: ClaimedChunk, *, may_stop: bool) -> None:
        self._db = db
        self.raw = raw
        self.connection: Any = conn
        self._chunk = chunk
        self._may_stop = may_stop
        self._job_status: JobStatus | None = None  # read under the fence, once it was taken
        self._encoded: tuple[list[Any], str] | None = None  # outputs checked by unstorable(), as encoded
        self._sent_claim: claims.SentClaim | None = None

    def fence(self) -> JobStatus:
        """Check (PostgreSQL: lock) the chunk's lease and its job's row; the job's status, which cannot change
        while this transaction lasts."""
        if self._job_status is None:
            status = _fenced_status(self.raw, self._chunk, may_stop=self._may_stop)
            if status is None:
                raise LeaseLost(chunk_id=self._chunk.id)
            self._job_status = JobStatus(status)
        return self._job_status

    def attempt(self, fn: Callable[[], None]) -> BaseException | None:
        savepoint = self.connection.begin_nested()
        try:
            fn()
            if not self._db.is_sqlite:  # deferred constraints are checked now, where bisection can see them
                self.connection.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")
        except DBAPIError as exc:
            if is_transient(exc):  # a deadlock or a lost connection is no fault of the items: retry the commit
                raise DatabaseUnavailable(reason=str(exc.orig).strip().splitlines()[0]) from exc
            savepoint.rollback()
            return exc
        except DatabaseUnavailable:  # raised by the write's own driver calls (a COPY): the commit is retried
            raise
        except Exception as exc:  # noqa: BLE001 - user code: any error fails the items, not the commit
            savepoint.rollback()
            return exc
        savepoint.commit()
        return None

    def unstorable(self, outputs: list[Any]) -> dict[int, str]:
        try:
            self._encoded = (outputs, codec.dumps(outputs))
        except InvalidParams:
            return codec.unstorable(outputs)
        return {}

    def _encode_outputs(self, outputs: list[Any]) -> str:
        """Encoded once per chunk: the text unstorable() made is reused unless the outputs changed since."""
        if self._encoded is not None and self._encoded[0] is outputs:
            return self._encoded[1]
        return codec.dumps(outputs)

    def apply(self, outcome: ChunkOutcome, claim: NextClaim | None = None, *, progress: int | None) -> bool:
        raw, chunk = self.raw, outcome.chunk
        settled = self._job_status is None and _settled(outcome)
        if not settled:
            self.fence()
        with raw.pipeline():  # on PostgreSQL, one round trip for all of it
            if settled and not raw.is_sqlite:  # the job row before the chunk row: one lock order everywhere
                raw.send(job_lock(may_stop=self._may_stop), {"job_id": chunk.job_id})
            fenced = {"id": chunk.id, "token": chunk.token, **self._chunk_values(outcome)}
            update = raw.later(queries.COMMIT_CHUNK, fenced)
            if fenced["status"] == ChunkStatus.PENDING:  # given back with items open: any worker may take it
                announce_work(raw)
            record_errors(raw, job_id=chunk.job_id, chunk_id=chunk.id, round=chunk.round, errors=outcome.errors)
            if outcome.done_keys and outcome.done_scope:
                self._remember_done(outcome)
            if progress is not None:
                emit(raw, chunk.job_id, "progress", items=progress, at=epoch(), chunk=chunk.seq)
            add_counters(raw, chunk.job_id, shard_of(chunk.seq), outcome.delta)
            if not settled:
                self._stop_if_going_badly(outcome)
            pending = raw.later(queries.HAS_PENDING_CHUNKS, {"job_id": chunk.job_id})
            candidates = claims.candidates_later(raw, claim.types) if claim is not None and claim.types else None
            drained = pending.fetchone() is None  # on PostgreSQL: every result above is in once this one is
            if update.rowcount != 1:
                raise LeaseLost(chunk_id=chunk.id)  # the transaction is rolled back, whatever it wrote
            if claim is not None and candidates is not None:
                self._sent_claim = self._claim_next(candidates.fetchall(), claim)
        return drained

    def _claim_next(self, candidate_rows: list[tuple[Any, ...]], claim: NextClaim) -> claims.SentClaim | None:
        """A failure that is not the database's leaves the claim to an ordinary one rather than failing this
        commit's items."""
        try:
            return claims.claim_next_later(self.raw, candidate_rows, claim)
        except (StorageError, sqlite3.Error, psycopg.Error):
            raise
        except Exception:
            log.exception("claiming the next chunk inside a commit failed; it is claimed on its own instead")
            return None

    def claimed(self) -> ClaimedChunk | None:
        sent, self._sent_claim = self._sent_claim, None
        if sent is None:
            return None
        try:
            return sent.result()
        except (sqlite3.Error, psycopg.Error):
            raise
        except Exception:  # the chunk stays claimed under a token nobody holds: it is reaped when its lease ends
            log.exception("the chunk claimed ahead could not be read; it is claimed on its own once its lease ends")
            return None

    def _chunk_values(self, outcome: ChunkOutcome) -> dict[str, Any]:
        if outcome.finished:
            status, run_after = ChunkStatus.DONE, 0.0
        elif outcome.stop_reason is None and (status := released_status(self.fence())) == ChunkStatus.PENDING:
            run_after = outcome.retry_at or 0.0
        else:
            status, run_after = ChunkStatus.CANCELLED, 0.0
        return {
            "status": status,
            "states": outcome.states,
            "outputs": self._encode_outputs(outcome.outputs),
            "attempts": codec.dumps(outcome.attempts) if outcome.attempts else None,
            "run_after": run_after,
            "current": None if outcome.current is None else storable_text(outcome.current),
        }

    def _remember_done(self, outcome: ChunkOutcome) -> None:
        scope = fitted_key(outcome.done_scope or "", DONE_SCOPE_LENGTH)
        job_id = outcome.chunk.job_id
        keys = (fitted_key(key, DONE_KEY_LENGTH) for key in outcome.done_keys)
        self.raw.many(queries.INSERT_DONE_KEY, ({"scope": scope, "key": key, "job_id": job_id} for key in keys))

    def _stop_if_going_badly(self, outcome: ChunkOutcome) -> None:
        job_id = outcome.chunk.job_id
        reason = outcome.stop_reason
        if reason is None and outcome.max_failures is not None and outcome.delta.failed > 0:
            counters = read_counters(self.raw, job_id)
            if too_many_failures(outcome.max_failures, failed=counters.failed, processed=counters.processed):
                reason = f"too many failures: {counters.failed} of {counters.processed} items failed"
        if reason is not None:
            stop_job(self.raw, job_id, reason)


def _settled(outcome: ChunkOutcome) -> bool:
    """An outcome whose commit does not depend on the job's status: every item ended, nothing to stop."""
    stops = outcome.stop_reason is not None or (outcome.max_failures is not None and outcome.delta.failed > 0)
    return outcome.finished and not stops


def stop_job(conn: SomeConnection, job_id: int, reason: str) -> None:
    """End a job for its own failures: nothing new starts, chunks in flight drain, then it is failed."""
    raw = as_raw(conn)
    if raw.one(queries.STOP_JOB, {"job_id": job_id, "reason": reason}) is not None:
        raw.run(queries.CANCEL_PENDING_CHUNKS, {"job_id": job_id})
        emit(raw, job_id, "stopping", reason=reason)


@contextmanager
def commit_session(
    db: Database, chunk: ClaimedChunk, *, may_stop: bool = False, for_write: bool = False
) -> Iterator[SqlCommitSession]:
    """Open the commit transaction. ``for_write``: the job type's ``write`` will run in it, on a SQLAlchemy
    connection, so the lease is checked first; otherwise ``apply`` checks it (see ``SqlCommitSession``)."""
    if for_write:
        with db.write() as conn:
            session = SqlCommitSession(db, as_raw(conn), conn, chunk, may_stop=may_stop)
            session.fence()
            yield session
        return
    with db.raw(write=True, pipelined=True) as raw:  # the COMMIT goes behind the next chunk's claim
        yield SqlCommitSession(db, raw, None, chunk, may_stop=may_stop)


def _fenced_status(raw: Raw, chunk: ClaimedChunk, *, may_stop: bool) -> str | None:
    """The job's status if the lease still holds, else None."""
    fence = {"id": chunk.id, "token": chunk.token}
    if raw.is_sqlite:
        status: str | None = raw.scalar(queries.FENCE_SQLITE, fence)
        return status
    with raw.pipeline():  # both statements in one round trip, still job row first
        job_row = raw.later(job_lock(may_stop=may_stop), {"job_id": chunk.job_id})
        chunk_row = raw.later(queries.FENCE_CHUNK, fence)
        status = job_row.fetchone()
        held = chunk_row.fetchone()
    return None if status is None or held is None else str(status[0])


def job_lock(*, may_stop: bool) -> Sql:
    """A commit share-locks its job row; a job type that may stop its job takes it exclusively (decision 0013)."""
    return queries.LOCK_JOB_EXCLUSIVE if may_stop else queries.LOCK_JOB_SHARED
