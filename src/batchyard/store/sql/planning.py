"""Creating jobs and storing their planned chunks, in batches, under a planner lease."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from batchyard.core.model import Counters, Job, NewJob, PlannedChunk
from batchyard.core.status import ChunkStatus, ItemState, JobStatus
from batchyard.errors import BatchyardError, Conflict, LeaseLost
from batchyard.store.sql import codec, files, quota
from batchyard.store.sql.database import Database
from batchyard.store.sql.rows import add_counters, count_planned, emit, epoch, fitted_key, load_job, shard_of, utcnow
from batchyard.store.sql.tables import (
    COUNTER_SHARDS,
    DONE_KEY_LENGTH,
    DONE_SCOPE_LENGTH,
    chunks,
    exclusive_locks,
    job_counters,
    jobs,
)
from batchyard.store.sql.tables import done_keys as done_keys_table
from batchyard.store.sql.wakeup import announce_work

PLANNABLE = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED)
DONE_KEYS_BATCH = 500


def create_job(db: Database, new: NewJob, *, lease: float) -> tuple[Job, bool]:
    """Insert a job; an idempotent repeat returns the first job, an exclusive clash raises Conflict."""
    existing = _find_idempotent(db, new)
    if existing is not None:
        return existing, False
    # the chunks' rows are made before the write lock is taken, which is held for the inserts alone
    planned_rows = [_chunk_row(0, c) for c in new.planned] if new.planned is not None else None
    try:
        with db.write() as conn:
            quota.lock_owner(conn, new.owner)  # submits of one owner queue here: limits and repeats are exact
            if (repeated := _idempotent_in(conn, new)) is not None:
                return repeated, False
            quota.check_limits(conn, new)
            if new.upload_ids:
                files.hold_uploads(conn, new.upload_ids, new.uploads_until)
            job_id = _insert_job(conn, new, lease=lease)
            if new.upload_ids:
                files.link_uploads(conn, job_id, new.upload_ids)
            if new.prepaid_items:
                cost = new.unit_cost * new.prepaid_items
                quota.charge(conn, owner=new.owner, job_id=job_id, key=f"job:{job_id}:round:1:charge", amount=cost)
            if planned_rows is not None:
                conn.execute(chunks.insert(), [{**row, "job_id": job_id} for row in planned_rows])
                emit(conn, job_id, "planned", total=_total(new.planned or ()))
            announce_work(conn)  # its source is work for any worker
    except IntegrityError:
        return _explain_clash(db, new), False
    with db.read() as conn:  # as it is now: a worker may have started on it already
        job = load_job(conn, job_id)
    assert job is not None
    return job, True


def precheck(db: Database, new: NewJob) -> Job | None:
    """Before a submission is planned (a key per item, lookups of done keys): the job an idempotent repeat
    returns, or the refusal the submission would meet — an exclusive key held, a limit reached, too little
    quota. Read without locks; ``create_job`` judges again, under the owner's lock, and has the last word."""
    with db.read() as conn:
        if (repeated := _idempotent_in(conn, new)) is not None:
            return repeated
        try:
            _refusals(conn, new)
        except BatchyardError:
            # the first of parallel repeats may commit between the two reads, and its job then counts against
            # the limits: a repeat is never refused for the job it repeats
            if (repeated := _idempotent_in(conn, new)) is not None:
                return repeated
            raise
    return None


def _refusals(conn: Connection, new: NewJob) -> None:
    """Raise the refusal the submission would meet: an exclusive key held, a limit reached, too little quota."""
    if new.exclusive_key is not None:
        holder = conn.execute(
            select(exclusive_locks.c.job_id).where(exclusive_locks.c.key == new.exclusive_key)
        ).scalar_one_or_none()
        if holder is not None:
            raise Conflict(job_id=holder, key=new.exclusive_key)
    quota.check_limits(conn, new)
    if new.prepaid_items:
        quota.check_balance(conn, owner=new.owner, amount=new.unit_cost * new.prepaid_items)


def _find_idempotent(db: Database, new: NewJob) -> Job | None:
    if new.idempotency_key is None:
        return None
    with db.read() as conn:
        return _idempotent_in(conn, new)


def _idempotent_in(conn: Connection, new: NewJob) -> Job | None:
    if new.idempotency_key is None:
        return None
    job_id = conn.execute(
        select(jobs.c.id).where(jobs.c.owner == new.owner, jobs.c.idempotency_key == new.idempotency_key)
    ).scalar_one_or_none()
    return None if job_id is None else load_job(conn, job_id)


def _explain_clash(db: Database, new: NewJob) -> Job:
    """A unique index refused the insert: the same idempotency key (return that job) or an active holder
    of the exclusive key (refuse, naming it)."""
    existing = _find_idempotent(db, new)
    if existing is not None:
        return existing
    with db.read() as conn:
        holder = conn.execute(
            select(exclusive_locks.c.job_id).where(exclusive_locks.c.key == new.exclusive_key)
        ).scalar_one_or_none()
    raise Conflict(job_id=holder, key=new.exclusive_key)


def _insert_job(conn: Connection, new: NewJob, *, lease: float) -> int:
    """The job row, its counter shards and its exclusive key; sealed at once when its items came planned."""
    now = utcnow()
    planned = new.planned or ()
    total = _total(planned)
    job_id: int = conn.execute(
        jobs.insert()
        .values(
            type=new.type,
            owner=new.owner,
            status=JobStatus.PENDING,
            params=codec.dumps(new.params),
            priority=new.priority,
            max_concurrency=new.max_concurrency,
            max_lost=new.max_lost,
            max_failures=new.max_failures,
            stop_on_error=new.stop_on_error,
            total=total,
            next_seq=len(planned),
            sealed=new.planned is not None,
            plan_by_worker=new.plan_by_worker,
            planner_token=new.planner_token,
            planner_expires=epoch() + lease if new.planner_token else None,
            round=1,
            rounds=codec.dumps([{"number": 1, "started_at": now.isoformat(), "items": total}]),
            exclusive_key=new.exclusive_key,
            idempotency_key=new.idempotency_key,
            resource=new.resource,
            unit_cost=new.unit_cost,
            prepaid=new.prepaid_items is not None,
            created_at=now,
        )
        .returning(jobs.c.id)
    ).scalar_one()
    conn.execute(job_counters.insert(), _counter_rows(job_id, planned))
    if new.exclusive_key is not None:
        conn.execute(exclusive_locks.insert().values(key=new.exclusive_key, job_id=job_id))
    emit(conn, job_id, "created", type=new.type, owner=new.owner)
    return job_id


def _total(planned: Sequence[PlannedChunk]) -> int:
    return sum(len(chunk.states) for chunk in planned)


def _counter_rows(job_id: int, planned: Sequence[PlannedChunk]) -> list[dict[str, int]]:
    """Every counter shard of a new job, holding what its planned chunks settled already (skipped items)."""
    shards = [
        {"job_id": job_id, "shard": s, "processed": 0, "succeeded": 0, "failed": 0, "skipped": 0}
        for s in range(COUNTER_SHARDS)
    ]
    for chunk in planned:
        settled, row = Counters.of_states(chunk.states), shards[shard_of(chunk.seq)]
        row["processed"] += settled.processed
        row["succeeded"] += settled.succeeded
        row["failed"] += settled.failed
        row["skipped"] += settled.skipped
    return shards


def add_chunks(db: Database, job_id: int, token: str, planned: Sequence[PlannedChunk], lease: float) -> None:
    """Store a batch of planned chunks; the planner's lease is checked and renewed in the same transaction.
    Storing the same batch again (a retry after the acknowledgement of the first commit was lost) is a no-op."""
    items = sum(len(c.states) for c in planned)
    with db.write() as conn:
        if not _advance_planner(conn, job_id, token, items=items, seqs=(planned[0].seq, planned[-1].seq), lease=lease):
            return
        _pay_for_batch(conn, job_id, planned[0].seq, items)
        conn.execute(chunks.insert(), [_chunk_row(job_id, c) for c in planned])
        for chunk in planned:
            add_counters(conn, job_id, shard_of(chunk.seq), Counters.of_states(chunk.states))
        announce_work(conn)


def _pay_for_batch(conn: Connection, job_id: int, first_seq: int, items: int) -> None:
    """A job whose items were not counted at submit (a source, an iterable without a length) pays for each
    batch as it is stored, in the same transaction."""
    job = conn.execute(
        select(jobs.c.owner, jobs.c.unit_cost, jobs.c.prepaid, jobs.c.round).where(jobs.c.id == job_id)
    ).one()
    if job.unit_cost and not job.prepaid:
        key = f"job:{job_id}:round:{job.round}:charge:{first_seq}"
        quota.charge(conn, owner=job.owner, job_id=job_id, key=key, amount=job.unit_cost * items)


def _advance_planner(
    conn: Connection, job_id: int, token: str, *, items: int, seqs: tuple[int, int], lease: float
) -> bool:
    """Move the job's planning on past ``seqs`` (first, last); False when that batch was already stored."""
    j = jobs.c
    first, last = seqs
    moved = conn.execute(
        update(jobs)
        .where(j.id == job_id, j.planner_token == token, j.status.in_(PLANNABLE), j.next_seq == first)
        .values(total=j.total + items, next_seq=last + 1, planner_expires=epoch() + lease)
    ).rowcount
    if moved == 1:
        return True
    held = conn.execute(
        select(j.next_seq).where(j.id == job_id, j.planner_token == token, j.status.in_(PLANNABLE))
    ).scalar_one_or_none()
    if held == last + 1:
        return False
    raise LeaseLost(chunk_id=f"plan:{job_id}")


def _chunk_row(job_id: int, chunk: PlannedChunk) -> dict[str, object]:
    runnable = ItemState.PENDING in chunk.states
    return {
        "job_id": job_id,
        "seq": chunk.seq,
        "round": 1,
        "status": ChunkStatus.PENDING if runnable else ChunkStatus.DONE,
        "first_index": chunk.first_index,
        "size": len(chunk.states),
        "items": codec.dumps(chunk.items),
        "keys": codec.dumps(chunk.keys) if chunk.keys is not None else None,
        "states": chunk.states,
        "outputs": None,
        "attempts": None,
        "lost": 0,
        "run_after": 0.0,
    }


def seal(db: Database, job_id: int, token: str) -> None:
    """Planning has ended: the job's total is final and it may now complete."""
    with db.write() as conn:
        j = jobs.c
        row = conn.execute(select(j.total, j.rounds).where(j.id == job_id)).one()
        total, rounds = row.total, codec.loads(row.rounds)
        count_planned(rounds, total)
        sealed = conn.execute(
            update(jobs)
            .where(j.id == job_id, j.planner_token == token)
            .values(sealed=True, planner_token=None, planner_expires=None, rounds=codec.dumps(rounds))
        ).rowcount
        if sealed != 1:
            if conn.execute(select(j.sealed).where(j.id == job_id)).scalar_one():
                return  # sealed already: a retry after the acknowledgement of the first seal was lost
            raise LeaseLost(chunk_id=f"plan:{job_id}")
        emit(conn, job_id, "planned", total=total)


def renew_planning(db: Database, job_id: int, token: str, lease: float) -> bool:
    with db.write() as conn:
        j = jobs.c
        return bool(
            conn.execute(
                update(jobs)
                .where(j.id == job_id, j.planner_token == token, j.status.in_(PLANNABLE))
                .values(planner_expires=epoch() + lease)
            ).rowcount
        )


def abandon_planning(db: Database, job_id: int, token: str, reason: str) -> None:
    """Planning cannot go on (the source failed, or the submitter died): stop the job with the reason."""
    j = jobs.c
    with db.write() as conn:
        stopped = conn.execute(
            update(jobs)
            .where(j.id == job_id, j.planner_token == token, j.status.in_(PLANNABLE))
            .values(status=JobStatus.CANCELLING, error=reason, planner_token=None, planner_expires=None)
        ).rowcount
        if stopped:
            cancel_pending_chunks(conn, job_id)
            emit(conn, job_id, "stopping", reason=reason)


def cancel_pending_chunks(conn: Connection, job_id: int) -> None:
    c = chunks.c
    conn.execute(
        update(chunks).where(c.job_id == job_id, c.status == ChunkStatus.PENDING).values(status=ChunkStatus.CANCELLED)
    )


def done_keys(db: Database, scope: str, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` were done before in ``scope``."""
    stored = {fitted_key(key, DONE_KEY_LENGTH): key for key in keys}
    found: set[str] = set()
    query = select(done_keys_table.c.key).where(
        done_keys_table.c.scope == fitted_key(scope, DONE_SCOPE_LENGTH),
        done_keys_table.c.key.in_(bindparam("keys", expanding=True)),
    )
    wanted = list(stored)
    with db.read() as conn:
        for start in range(0, len(wanted), DONE_KEYS_BATCH):
            batch = wanted[start : start + DONE_KEYS_BATCH]
            found.update(stored[key] for key in conn.execute(query, {"keys": batch}).scalars())
    return found


def forget_exclusive(conn: Connection, job_id: int) -> None:
    conn.execute(delete(exclusive_locks).where(exclusive_locks.c.job_id == job_id))
