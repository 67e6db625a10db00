"""Committing a chunk: states, outputs, failures, done keys, an event and the job's counters, in ONE
transaction that first checks the lease (fencing: a worker that stalled past its lease must not commit)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from batchyard.core.model import ChunkOutcome, ClaimedChunk
from batchyard.core.policies import too_many_failures
from batchyard.core.status import ChunkStatus, JobStatus
from batchyard.errors import DatabaseUnavailable, InvalidParams, LeaseLost
from batchyard.store.sql import claims, codec, queries
from batchyard.store.sql.database import Database, is_transient
from batchyard.store.sql.raw import Raw
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


class SqlCommitSession:
    """``raw`` runs the commit's own statements; ``connection`` (SQLAlchemy, on the same driver connection and
    transaction) is there only for a job type's ``write``."""

    def __init__(self, db: Database, raw: Raw, conn: Connection | None, job_status: JobStatus) -> None:
        self._db = db
        self.raw = raw
        self.connection: Any = conn
        self._job_status = job_status
        self._encoded: tuple[list[Any], str] | None = None  # outputs checked by unstorable(), as encoded

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

    def claim_next(self, worker: str, lease_seconds: float, types: Sequence[str], token: str) -> ClaimedChunk | None:
        return claims.claim_next_in(self.raw, worker, lease_seconds, types, token)

    def apply(self, outcome: ChunkOutcome) -> bool:
        raw = self.raw
        chunk = outcome.chunk
        with raw.pipeline():  # on PostgreSQL, one round trip for all of it
            raw.send(queries.COMMIT_CHUNK, {"id": chunk.id, **self._chunk_values(outcome)})
            record_errors(raw, job_id=chunk.job_id, chunk_id=chunk.id, round=chunk.round, errors=outcome.errors)
            if outcome.done_keys and outcome.done_scope:
                self._remember_done(outcome)
            delta = outcome.delta
            emit(raw, chunk.job_id, "progress", items=delta.processed, at=epoch(), chunk=chunk.seq)
            add_counters(raw, chunk.job_id, shard_of(chunk.seq), delta)
            self._stop_if_going_badly(outcome)
            return raw.one(queries.HAS_PENDING_CHUNKS, {"job_id": chunk.job_id}) is None

    def _chunk_values(self, outcome: ChunkOutcome) -> dict[str, Any]:
        if outcome.finished:
            status, run_after = ChunkStatus.DONE, 0.0
        elif outcome.stop_reason is None and (status := released_status(self._job_status)) == ChunkStatus.PENDING:
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
    """Open the commit transaction, first checking (and on PostgreSQL locking) the chunk's lease and its job.
    ``for_write``: the job type's ``write`` will run in it, on a SQLAlchemy connection."""
    if not for_write:
        with db.raw(write=True) as raw:
            yield _fenced_session(db, raw, None, chunk, may_stop=may_stop)
        return
    with db.write() as conn:
        yield _fenced_session(db, as_raw(conn), conn, chunk, may_stop=may_stop)


def _fenced_session(
    db: Database, raw: Raw, conn: Connection | None, chunk: ClaimedChunk, *, may_stop: bool
) -> SqlCommitSession:
    status = _fenced_status(raw, chunk, may_stop=may_stop)
    if status is None:
        raise LeaseLost(chunk_id=chunk.id)
    return SqlCommitSession(db, raw, conn, JobStatus(status))


def _fenced_status(raw: Raw, chunk: ClaimedChunk, *, may_stop: bool) -> str | None:
    """The job's status if the lease still holds, else None."""
    fence = {"id": chunk.id, "token": chunk.token}
    if raw.is_sqlite:
        status: str | None = raw.scalar(queries.FENCE_SQLITE, fence)
        return status
    lock = queries.LOCK_JOB_EXCLUSIVE if may_stop else queries.LOCK_JOB_SHARED
    with raw.pipeline():  # both statements in one round trip, still job row first
        job_row = raw.later(lock, {"job_id": chunk.job_id})
        chunk_row = raw.later(queries.FENCE_CHUNK, fence)
        status = job_row.fetchone()
        held = chunk_row.fetchone()
    return None if status is None or held is None else str(status[0])
