"""Recovering from dead workers: expired chunk leases, interrupted submissions, jobs left unfinished."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, exists, or_, select, update

from batchyard.core.model import Counters, ItemError
from batchyard.core.status import ACTIVE, ChunkStatus, ItemState, JobStatus
from batchyard.store.sql.database import Database
from batchyard.store.sql.lifecycle import finish_if_done
from batchyard.store.sql.planning import PLANNABLE, abandon_planning
from batchyard.store.sql.rows import add_counters, emit, epoch, record_errors, shard_of
from batchyard.store.sql.tables import chunks, jobs

SUBMISSION_INTERRUPTED = "the submission was interrupted before all items were stored"


def reap(db: Database) -> int:
    """Put chunks whose worker vanished back in the queue (or fail them past the lost-worker limit), stop
    jobs whose submitter died mid-way, and finish any job whose last commit did not. Returns chunks reaped."""
    now = epoch()
    c, j = chunks.c, jobs.c
    with db.read() as conn:
        expired = (
            conn.execute(select(c.id).where(c.status == ChunkStatus.RUNNING, c.lease_expires < now)).scalars().all()
        )
        interrupted = conn.execute(
            select(j.id, j.planner_token).where(
                j.plan_by_worker.is_(False), j.sealed.is_(False), j.status.in_(PLANNABLE), j.planner_expires < now
            )
        ).all()
    reaped = sum(_recover(db, chunk_id, now) for chunk_id in expired)
    for job_id, token in interrupted:
        abandon_planning(db, job_id, token, SUBMISSION_INTERRUPTED)
    for job_id in _drained_jobs(db):
        finish_if_done(db, job_id)
    return reaped


def _drained_jobs(db: Database) -> list[int]:
    """Active jobs with nothing left to run: their last commit died before finishing them."""
    j, c = jobs.c, chunks.c
    open_chunks = exists().where(c.job_id == j.id, c.status.in_((ChunkStatus.PENDING, ChunkStatus.RUNNING)))
    with db.read() as conn:
        return list(
            conn.execute(
                select(j.id).where(
                    j.status.in_(ACTIVE), or_(j.sealed.is_(True), j.status == JobStatus.CANCELLING), ~open_chunks
                )
            ).scalars()
        )


def _recover(db: Database, chunk_id: int, now: float) -> int:
    c = chunks.c
    query = select(chunks).where(c.id == chunk_id, c.status == ChunkStatus.RUNNING, c.lease_expires < now)
    if not db.is_sqlite:
        query = query.with_for_update(skip_locked=True)
    with db.write() as conn:
        chunk = conn.execute(query).mappings().one_or_none()
        if chunk is None:
            return 0
        job = conn.execute(select(jobs.c.status, jobs.c.max_lost).where(jobs.c.id == chunk["job_id"])).one()
        lost = chunk["lost"] + 1
        if lost >= job.max_lost:
            _fail_remaining(conn, chunk, lost)
        else:
            after = ChunkStatus.CANCELLED if job.status == JobStatus.CANCELLING else ChunkStatus.PENDING
            conn.execute(
                update(chunks)
                .where(c.id == chunk_id)
                .values(status=after, lost=lost, lease_token=None, lease_expires=None, run_after=0.0)
            )
        emit(conn, chunk["job_id"], "lost", chunk=chunk["seq"], worker=chunk["worker"], times=lost)
    return 1


def _fail_remaining(conn: Connection, chunk: Any, lost: int) -> None:
    """The chunk has now lost its worker ``lost`` times (OOM, segfault): fail its open items, with a reason."""
    states: str = chunk["states"]
    reason = f"the worker processing this item was lost {lost} times (crash, out of memory or killed)"
    open_ = [i for i, s in enumerate(states) if s == ItemState.PENDING]
    record_errors(
        conn,
        job_id=chunk["job_id"],
        chunk_id=chunk["id"],
        round=chunk["round"],
        errors=(ItemError(chunk["first_index"] + i, reason, lost) for i in open_),
    )
    conn.execute(
        update(chunks)
        .where(chunks.c.id == chunk["id"])
        .values(
            status=ChunkStatus.DONE,
            states=states.replace(ItemState.PENDING, ItemState.FAILED),
            lost=lost,
            lease_token=None,
            lease_expires=None,
        )
    )
    add_counters(conn, chunk["job_id"], shard_of(chunk["seq"]), Counters(processed=len(open_), failed=len(open_)))
