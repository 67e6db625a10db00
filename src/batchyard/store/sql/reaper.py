"""Recovering from dead workers: expired chunk leases, interrupted submissions, jobs left unfinished."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from batchyard.core.model import Counters, ItemError
from batchyard.core.planning import SUBMISSION_INTERRUPTED
from batchyard.core.policies import too_many_failures
from batchyard.core.status import ChunkStatus, ItemState, JobStatus
from batchyard.store.sql.commits import stop_job
from batchyard.store.sql.database import Database
from batchyard.store.sql.lifecycle import drained_clause, finish_if_done
from batchyard.store.sql.planning import PLANNABLE, abandon_planning
from batchyard.store.sql.rows import (
    add_counters,
    decode_max_failures,
    emit,
    epoch,
    read_counters,
    record_errors,
    released_status,
    shard_of,
)
from batchyard.store.sql.tables import chunks, jobs
from batchyard.store.sql.wakeup import announce_work


def reap(db: Database) -> int:
    """Put chunks whose worker vanished back in the queue (or fail them past the lost-worker limit), stop
    jobs whose submitter died mid-way, and finish any job whose last commit did not. Returns chunks reaped."""
    now = epoch()
    c, j = chunks.c, jobs.c
    with db.read() as conn:
        expired = conn.execute(
            select(c.id, c.job_id).where(c.status == ChunkStatus.RUNNING, c.lease_expires < now)
        ).all()
        interrupted = conn.execute(
            select(j.id, j.planner_token).where(
                j.plan_by_worker.is_(False), j.sealed.is_(False), j.status.in_(PLANNABLE), j.planner_expires < now
            )
        ).all()
    reaped = sum(_recover(db, chunk_id, job_id, now) for chunk_id, job_id in expired)
    for job_id, token in interrupted:
        abandon_planning(db, job_id, token, SUBMISSION_INTERRUPTED)
    for job_id in _drained_jobs(db):
        finish_if_done(db, job_id)
    return reaped


def _drained_jobs(db: Database) -> list[int]:
    """Active jobs with nothing left to run: their last commit died before finishing them."""
    with db.read() as conn:
        return list(conn.execute(select(jobs.c.id).where(drained_clause())).scalars())


def _recover(db: Database, chunk_id: int, job_id: int, now: float) -> int:
    """Give back (or fail) one chunk whose lease ran out, under its job row's lock, like a commit."""
    c = chunks.c
    query = select(chunks).where(c.id == chunk_id, c.status == ChunkStatus.RUNNING, c.lease_expires < now)
    job_query = select(jobs.c.status, jobs.c.max_lost, jobs.c.max_failures, jobs.c.stop_on_error)
    job_query = job_query.where(jobs.c.id == job_id)
    if not db.is_sqlite:  # a commit of the job in flight holds its row: skip it until the next sweep
        job_query = job_query.with_for_update(skip_locked=True)
        query = query.with_for_update(skip_locked=True)
    with db.write() as conn:
        job = conn.execute(job_query).one_or_none()
        chunk = conn.execute(query).mappings().one_or_none() if job is not None else None
        if job is None or chunk is None:
            return 0
        lost = chunk["lost"] + 1
        status = JobStatus(job.status)
        if lost >= job.max_lost and status != JobStatus.CANCELLING:
            _fail_remaining(conn, chunk, lost, job)
        else:
            conn.execute(
                update(chunks)
                .where(c.id == chunk_id)
                .values(status=released_status(status), lost=lost, lease_token=None, lease_expires=None, run_after=0.0)
            )
            announce_work(conn)
        emit(conn, job_id, "lost", chunk=chunk["seq"], worker=chunk["worker"], times=lost)
    return 1


def _fail_remaining(conn: Connection, chunk: Any, lost: int, job: Any) -> None:
    """The chunk has now lost its worker ``lost`` times (OOM, segfault): fail its open items, with a reason,
    and apply the job's failure policies to them as a commit would."""
    states: str = chunk["states"]
    reason = f"the worker processing this item was lost {lost} times (crash, out of memory or killed)"
    reason_zh = f"处理该项目的 worker 已丢失 {lost} 次（崩溃、内存不足或被终止）"
    open_ = [i for i, s in enumerate(states) if s == ItemState.PENDING]
    job_id = chunk["job_id"]
    record_errors(
        conn,
        job_id=job_id,
        chunk_id=chunk["id"],
        round=chunk["round"],
        errors=(ItemError(chunk["first_index"] + i, reason, lost, reason_zh) for i in open_),
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
    add_counters(conn, job_id, shard_of(chunk["seq"]), Counters(processed=len(open_), failed=len(open_)))
    if job.stop_on_error and open_:
        stop_job(conn, job_id, f"item {chunk['first_index'] + open_[0]} failed: {reason}")
        return
    counters = read_counters(conn, job_id)
    if too_many_failures(decode_max_failures(job.max_failures), failed=counters.failed, processed=counters.processed):
        stop_job(conn, job_id, f"too many failures: {counters.failed} of {counters.processed} items failed")
