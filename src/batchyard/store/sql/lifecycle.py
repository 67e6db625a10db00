"""User actions on a job (cancel, pause, resume, retry-failed) and the step that finishes a drained job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from batchyard.core.model import Counters, Job
from batchyard.core.status import (
    ACTIVE,
    CANCELLABLE,
    PAUSABLE,
    RESUMABLE,
    RETRYABLE,
    ChunkStatus,
    ItemState,
    JobStatus,
    final_status,
)
from batchyard.errors import Conflict, IllegalTransition, JobNotFound, NothingToRetry, SubmissionStopped
from batchyard.store.sql import codec, inbox, quota
from batchyard.store.sql.database import Database
from batchyard.store.sql.planning import cancel_pending_chunks, forget_exclusive
from batchyard.store.sql.rows import add_counters, count_planned, emit, load_job, read_counters, shard_of, utcnow
from batchyard.store.sql.tables import chunks, exclusive_locks, jobs
from batchyard.store.sql.wakeup import announce_work


def _locked_status(db: Database, conn: Connection, job_id: int) -> JobStatus:
    query = select(jobs.c.status).where(jobs.c.id == job_id)
    if not db.is_sqlite:
        query = query.with_for_update()
    status = conn.execute(query).scalar_one_or_none()
    if status is None:
        raise JobNotFound(job_id=job_id)
    return JobStatus(status)


def _set_status(conn: Connection, job_id: int, status: JobStatus, **values: Any) -> None:
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(status=status, **values))
    emit(conn, job_id, "status", status=status)


def cancel(db: Database, job_id: int) -> Job:
    with db.write() as conn:
        status = _locked_status(db, conn, job_id)
        if status in CANCELLABLE:
            _set_status(conn, job_id, JobStatus.CANCELLING)
            cancel_pending_chunks(conn, job_id)
        elif status != JobStatus.CANCELLING:
            raise IllegalTransition(job_id=job_id, status=status, action="cancel")
    return finish_if_done(db, job_id) or _get(db, job_id)


def pause(db: Database, job_id: int) -> Job:
    with db.write() as conn:
        status = _locked_status(db, conn, job_id)
        if status in PAUSABLE:
            _set_status(conn, job_id, JobStatus.PAUSED)
        elif status != JobStatus.PAUSED:
            raise IllegalTransition(job_id=job_id, status=status, action="pause")
    return _get(db, job_id)


def resume(db: Database, job_id: int) -> Job:
    with db.write() as conn:
        status = _locked_status(db, conn, job_id)
        if status not in RESUMABLE:
            raise IllegalTransition(job_id=job_id, status=status, action="resume")
        started = conn.execute(select(jobs.c.started_at).where(jobs.c.id == job_id)).scalar_one()
        _set_status(conn, job_id, JobStatus.RUNNING if started else JobStatus.PENDING)
        announce_work(conn)
    return finish_if_done(db, job_id) or _get(db, job_id)


def retry_failed(db: Database, job_id: int, *, max_active: int | None = None) -> Job:
    """Reopen a finished job's failed items as a new round of the same job. Items that a stop (on_error,
    max_failures, an interrupted submission) left unprocessed run in that round too. A job whose planning
    never ended is sealed with the items that were stored, or, when a worker plans its source, planned on
    from where it stopped."""
    try:
        with db.write() as conn:
            status = _locked_status(db, conn, job_id)
            if status not in RETRYABLE:
                raise IllegalTransition(job_id=job_id, status=status, action="retry failed items")
            job = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
            counters = read_counters(conn, job_id)
            items = counters.failed + job.total - counters.processed
            resumes_planning = not job.sealed and job.plan_by_worker
            if items == 0 and not resumes_planning:
                raise _nothing_to_retry(job)
            quota.check_active(conn, owner=job.owner, type_name=job.type, limit=max_active, besides=job.id)
            _open_round(conn, job, items, resumes_planning=resumes_planning)
            key = f"job:{job.id}:round:{job.round + 1}:charge"
            quota.charge(conn, owner=job.owner, job_id=job.id, key=key, amount=job.unit_cost * items)
            announce_work(conn)
    except IntegrityError:
        with db.read() as conn:
            row = conn.execute(select(jobs.c.exclusive_key).where(jobs.c.id == job_id)).scalar_one()
            holder = conn.execute(
                select(exclusive_locks.c.job_id).where(exclusive_locks.c.key == row)
            ).scalar_one_or_none()
        raise Conflict(job_id=holder, key=row) from None
    return _get(db, job_id)


def _nothing_to_retry(job: Any) -> NothingToRetry:
    if not job.sealed and job.error:
        return SubmissionStopped(job_id=job.id, stopped_at=job.total, reason=job.error)
    return NothingToRetry(job_id=job.id)


def _open_round(conn: Connection, job: Any, items: int, *, resumes_planning: bool) -> None:
    number = job.round + 1
    this_round: dict[str, Any] = {"number": number, "started_at": utcnow().isoformat(), "items": items}
    if resumes_planning:
        this_round["planned_before"] = job.total
    rounds = [*codec.loads(job.rounds), this_round]
    if job.exclusive_key is not None:
        conn.execute(exclusive_locks.insert().values(key=job.exclusive_key, job_id=job.id))
    c = chunks.c
    reopen = or_(c.states.contains(ItemState.FAILED), c.status == ChunkStatus.CANCELLED)
    for chunk in conn.execute(select(c.id, c.seq, c.states, c.attempts).where(c.job_id == job.id, reopen)).all():
        _reopen_chunk(conn, job.id, chunk, number)
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job.id)
        .values(
            status=JobStatus.RUNNING,
            round=number,
            rounds=codec.dumps(rounds),
            finished_at=None,
            error=None,
            sealed=not resumes_planning,  # a submitter's items that were never stored are gone for good
            planner_token=None,
            planner_expires=None,
        )
    )
    emit(conn, job.id, "round", round=number, items=items)


def _reopen_chunk(conn: Connection, job_id: int, chunk: Any, number: int) -> None:
    reopened = chunk.states.count(ItemState.FAILED)
    states = chunk.states.replace(ItemState.FAILED, ItemState.PENDING)
    attempts = {i: n for i, n in codec.loads_attempts(chunk.attempts).items() if states[i] != ItemState.PENDING}
    conn.execute(
        update(chunks)
        .where(chunks.c.id == chunk.id)
        .values(
            status=ChunkStatus.PENDING,
            states=states,
            round=number,
            attempts=codec.dumps(attempts) if attempts else None,
            run_after=0.0,
            lost=0,
        )
    )
    add_counters(conn, job_id, shard_of(chunk.seq), Counters(processed=-reopened, failed=-reopened))


def finish_if_done(db: Database, job_id: int) -> Job | None:
    """Finish the job if no chunk is left to run; ``None`` if it is not done (or was already finished).

    Called after every commit. Under READ COMMITTED two last commits may each still see the other's chunk
    running, but the later of the two checks sees both, so one of them always finishes the job.
    """
    with db.read() as conn:
        if not _drained(conn, job_id):
            return None
    with db.write() as conn:
        status = _locked_status(db, conn, job_id)
        if status.is_finished or not _drained(conn, job_id):
            return None
        _finish(conn, job_id, status)
    return _get(db, job_id)


def _drained(conn: Connection, job_id: int) -> bool:
    j = jobs.c
    row = conn.execute(select(j.id).where(j.id == job_id, drained_clause())).first()
    return row is not None


def drained_clause() -> ColumnElement[bool]:
    """The one definition of a job with nothing left to run, for the check after a commit and the reaper's
    sweep alike: active, planned to the end (or cancelling: nothing more will be planned), and no chunk
    running, nor pending unless the job is cancelling (a cancelling job's pending chunks are cancelled)."""
    j, c = jobs.c, chunks.c
    open_chunk = or_(
        c.status == ChunkStatus.RUNNING, and_(c.status == ChunkStatus.PENDING, j.status != JobStatus.CANCELLING)
    )
    return and_(
        j.status.in_(ACTIVE),
        or_(j.sealed.is_(True), j.status == JobStatus.CANCELLING),
        ~exists().where(c.job_id == j.id, open_chunk),
    )


def _finish(conn: Connection, job_id: int, status: JobStatus) -> None:
    counters = read_counters(conn, job_id)
    row = conn.execute(
        select(jobs.c.error, jobs.c.rounds, jobs.c.sealed, jobs.c.total).where(jobs.c.id == job_id)
    ).one()
    cancelling = status == JobStatus.CANCELLING
    final = final_status(
        succeeded=counters.succeeded,
        failed=counters.failed,
        cancelling=cancelling,
        stopped=cancelling and row.error is not None,
    )
    now = utcnow()
    rounds = codec.loads(row.rounds)
    if not row.sealed:  # planning ended early (cancelled, stopped): the round still ran what was planned
        count_planned(rounds, row.total)
    rounds[-1]["finished_at"] = now.isoformat()
    cancel_pending_chunks(conn, job_id)
    forget_exclusive(conn, job_id)
    quota.refund_round(conn, job_id, counters.succeeded)
    counts = {"succeeded": counters.succeeded, "failed": counters.failed, "skipped": counters.skipped}
    inbox.notify_finished(conn, job_id, final, counts)
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(status=final, finished_at=now, rounds=codec.dumps(rounds), planner_token=None)
    )
    emit(
        conn,
        job_id,
        "finished",
        status=final,
        succeeded=counters.succeeded,
        failed=counters.failed,
        skipped=counters.skipped,
    )


def _get(db: Database, job_id: int) -> Job:
    with db.read() as conn:
        job = load_job(conn, job_id)
    if job is None:
        raise JobNotFound(job_id=job_id)
    return job
