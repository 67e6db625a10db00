"""Reading jobs, items and events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from batchyard.core.model import ItemRecord, Job
from batchyard.core.status import ItemState
from batchyard.errors import JobNotFound
from batchyard.store.base import Event
from batchyard.store.sql import codec
from batchyard.store.sql.database import Database
from batchyard.store.sql.rows import as_utc, load_job
from batchyard.store.sql.tables import chunks, events, item_errors, jobs

CHUNKS_PER_READ = 50


def get_job(db: Database, job_id: int) -> Job:
    with db.read() as conn:
        job = load_job(conn, job_id)
    if job is None:
        raise JobNotFound(job_id=job_id)
    return job


def list_jobs(db: Database, *, owner: str | None, status: str | None, limit: int) -> list[Job]:
    query = select(jobs.c.id).order_by(jobs.c.id.desc()).limit(limit)
    if owner is not None:
        query = query.where(jobs.c.owner == owner)
    if status is not None:
        query = query.where(jobs.c.status == status)
    with db.read() as conn:
        found = [load_job(conn, job_id) for job_id in conn.execute(query).scalars()]
    return [job for job in found if job is not None]


def items(db: Database, job_id: int, status: str | None) -> Iterator[ItemRecord]:
    """Each item in order, read a few chunks at a time so a 10M-item job streams in constant memory."""
    get_job(db, job_id)
    wanted = None if status is None else {s.value for s in ItemState if s.label == status}
    after = -1
    while True:
        with db.read() as conn:
            batch = (
                conn.execute(
                    select(chunks)
                    .where(chunks.c.job_id == job_id, chunks.c.seq > after)
                    .order_by(chunks.c.seq)
                    .limit(CHUNKS_PER_READ)
                )
                .mappings()
                .all()
            )
            for chunk in batch:
                yield from _chunk_items(conn, chunk, wanted)
        if len(batch) < CHUNKS_PER_READ:
            return
        after = batch[-1]["seq"]


def _chunk_items(conn: Connection, chunk: Any, wanted: set[str] | None) -> Iterator[ItemRecord]:
    states: str = chunk["states"]
    if wanted is not None and not wanted.intersection(states):
        return
    inputs = codec.loads(chunk["items"])
    outputs = codec.loads(chunk["outputs"]) or [None] * len(states)
    keys = codec.loads(chunk["keys"])
    attempts = codec.loads_attempts(chunk["attempts"])
    errors = _errors(conn, chunk) if ItemState.FAILED in states else {}
    for i, state in enumerate(states):
        if wanted is not None and state not in wanted:
            continue
        index = chunk["first_index"] + i
        error, tries = errors.get(index, (None, attempts.get(i, 1 if state != ItemState.PENDING else 0)))
        yield ItemRecord(
            index=index,
            key=keys[i] if keys else None,
            status=ItemState(state).label,
            output=outputs[i],
            error=error if state == ItemState.FAILED else None,
            attempts=tries,
            input=inputs[i],
        )


def _errors(conn: Connection, chunk: Any) -> dict[int, tuple[str, int]]:
    e = item_errors.c
    rows = conn.execute(
        select(e.idx, e.error, e.attempts).where(e.job_id == chunk["job_id"], e.chunk_id == chunk["id"]).order_by(e.id)
    ).all()
    return {row.idx: (row.error, row.attempts) for row in rows}  # the latest round's error wins


def list_events(db: Database, job_id: int | None, after: int, limit: int) -> list[Event]:
    e = events.c
    query = select(events).where(e.id > after).order_by(e.id).limit(limit)
    if job_id is not None:
        query = query.where(e.job_id == job_id)
    with db.read() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        Event(
            id=r["id"],
            job_id=r["job_id"],
            kind=r["kind"],
            data=codec.loads(r["data"]),
            at=(as_utc(r["created_at"]) or r["created_at"]).timestamp(),
        )
        for r in rows
    ]
