"""Reading jobs, items and events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Row, func, or_, select

from batchyard.core.causes import Failure
from batchyard.core.model import Counters, ItemRecord, Job, Stats, Tally
from batchyard.core.status import ChunkStatus, ItemState
from batchyard.errors import JobNotFound
from batchyard.store.base import Event
from batchyard.store.sql import codec
from batchyard.store.sql.database import Database
from batchyard.store.sql.rows import as_utc, load_job
from batchyard.store.sql.tables import chunks, events, item_errors, job_counters, jobs

T = TypeVar("T")
CHUNKS_PER_READ = 50
OUTPUT_WORD_CHARS = 64
"""The longest output counted by its value: a word such as an import's "inserted" or "updated", not a record."""
OUTPUT_WORDS_KEPT = 20
"""How many different words are counted one by one; outputs that are not a few words (ids) count as others."""


def get_job(db: Database, job_id: int) -> Job:
    with db.read() as conn:
        job = load_job(conn, job_id)
    if job is None:
        raise JobNotFound(job_id=job_id)
    return job


@dataclass(frozen=True)
class JobFilter:
    owner: str | None
    statuses: Sequence[str] | None
    type: str | None
    resource: str | None
    created_after: datetime | None
    created_before: datetime | None
    text: str | None


def list_jobs(db: Database, where: JobFilter, *, before: int | None, limit: int) -> list[Job]:
    query = select(jobs.c.id).order_by(jobs.c.id.desc()).limit(limit)
    for condition in _conditions(where):
        query = query.where(condition)
    if before is not None:
        query = query.where(jobs.c.id < before)
    with db.read() as conn:
        found = [load_job(conn, job_id) for job_id in conn.execute(query).scalars()]
    return [job for job in found if job is not None]


def _conditions(where: JobFilter) -> Iterator[ColumnElement[bool]]:
    c = jobs.c
    if where.owner is not None:
        yield c.owner == where.owner
    if where.statuses:
        yield c.status.in_(where.statuses)
    if where.type is not None:
        yield c.type == where.type
    if where.resource is not None:
        yield c.resource == where.resource
    if where.created_after is not None:
        yield c.created_at >= where.created_after
    if where.created_before is not None:
        yield c.created_at < where.created_before
    if where.text:
        yield _text_matches(where.text)


def _text_matches(text: str) -> ColumnElement[bool]:
    """The words as typed, anywhere in the type or the params' JSON text; digits alone may also be the id."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    found = or_(jobs.c.type.ilike(pattern, escape="\\"), jobs.c.params.ilike(pattern, escape="\\"))
    if text.isascii() and text.isdigit() and len(text) <= 18:
        found = or_(found, jobs.c.id == int(text))
    return found


def items(db: Database, job_id: int, status: str | None, start: int = 0) -> Iterator[ItemRecord]:
    """Each item from index ``start`` on, in order, read a few chunks at a time so a 10M-item job streams in
    constant memory and a late page starts at its own chunk.

    ``status`` is one of succeeded, failed, skipped, pending, or cancelled (items a cancel left undone).
    """
    get_job(db, job_id)

    def read(conn: Connection, batch: Sequence[Row[Any]]) -> list[ItemRecord]:
        return [r for chunk in batch for r in _chunk_items(conn, chunk._mapping, status) if r.index >= start]

    return _by_chunks(db, job_id, [chunks], read, after=_seq_before(db, job_id, start))


def tally(db: Database, job_id: int) -> Tally:
    """The job's counters, and how many succeeded items have each output that is a short text (an import's
    rows: "inserted", "updated"), read a few chunks at a time, for the first ``OUTPUT_WORDS_KEPT`` different
    words; and how many have another short text (when outputs are ids, not words). Other outputs are not
    counted."""
    job = get_job(db, job_id)
    found: Counter[str] = Counter()
    others = 0
    c = chunks.c

    def read(_: Connection, batch: Sequence[Row[Any]]) -> list[tuple[str, str | None]]:
        return [(row.states, row.outputs) for row in batch]

    for states, outputs in _by_chunks(db, job_id, [c.seq, c.states, c.outputs], read):
        if ItemState.SUCCEEDED not in states:
            continue
        values = codec.loads(outputs) or ()
        words = Counter(
            value
            for state, value in zip(states, values, strict=False)
            if state == ItemState.SUCCEEDED and isinstance(value, str) and len(value) <= OUTPUT_WORD_CHARS
        )
        for word, count in words.items():
            if word in found or len(found) < OUTPUT_WORDS_KEPT:
                found[word] += count
            else:
                others += count
    return Tally(job_id, job.succeeded, job.failed, job.skipped, dict(found), others)


def _by_chunks(
    db: Database,
    job_id: int,
    columns: Sequence[Any],
    read: Callable[[Connection, Sequence[Row[Any]]], list[T]],
    *,
    after: int = -1,
    where: Sequence[ColumnElement[bool]] = (),
) -> Iterator[T]:
    """What ``read`` makes of the job's chunks after seq ``after``, ``CHUNKS_PER_READ`` of them at a time in one
    transaction, yielded outside it: a 10M-item job streams in constant memory, and a slow reader holds no
    database snapshot. ``columns`` must hold the chunk's seq."""
    c = chunks.c
    while True:
        with db.read() as conn:
            query = select(*columns).where(c.job_id == job_id, c.seq > after, *where)
            batch = conn.execute(query.order_by(c.seq).limit(CHUNKS_PER_READ)).all()
            found = read(conn, batch)
        yield from found
        if len(batch) < CHUNKS_PER_READ:
            return
        after = batch[-1].seq


def _seq_before(db: Database, job_id: int, start: int) -> int:
    """The seq just before the chunk that holds item ``start`` (-1: read from the first chunk)."""
    if start <= 0:
        return -1
    c = chunks.c
    with db.read() as conn:
        seq = conn.execute(select(func.max(c.seq)).where(c.job_id == job_id, c.first_index <= start)).scalar()
    return -1 if seq is None else int(seq) - 1


def _labels(chunk: Any) -> dict[str, str]:
    labels = {state.value: state.label for state in ItemState}
    if chunk["status"] == ChunkStatus.CANCELLED:
        labels[ItemState.PENDING] = "cancelled"
    return labels


def _chunk_items(conn: Connection, chunk: Any, wanted: str | None) -> Iterator[ItemRecord]:
    states: str = chunk["states"]
    labels = _labels(chunk)
    if wanted is not None and not any(labels[state] == wanted for state in set(states)):
        return
    stored = codec.loads(chunk["items"])
    inputs = stored if isinstance(stored, list) else None  # else a spec: only failed items kept theirs
    outputs = codec.loads(chunk["outputs"]) or [None] * len(states)
    keys = codec.loads(chunk["keys"])
    attempts = codec.loads_attempts(chunk["attempts"])
    notes = _errors(conn, chunk) if ItemState.FAILED in states or ItemState.SKIPPED in states else {}
    for i, state in enumerate(states):
        label = labels[state]
        if wanted is not None and label != wanted:
            continue
        index = chunk["first_index"] + i
        note, tries, note_zh, kept, ref = notes.get(
            index, (None, attempts.get(i, 0 if state == ItemState.PENDING else 1), None, None, None)
        )
        yield ItemRecord(
            index=index,
            key=keys[i] if keys else None,
            status=label,
            output=outputs[i],
            error=note if state in (ItemState.FAILED, ItemState.SKIPPED) else None,
            error_zh=note_zh if state in (ItemState.FAILED, ItemState.SKIPPED) else None,
            attempts=tries,
            input=inputs[i] if inputs is not None else kept,
            ref=ref,
        )


def _errors(conn: Connection, chunk: Any) -> dict[int, tuple[str, int, str | None, Any, int | None]]:
    e = item_errors.c
    query = select(e.idx, e.error, e.attempts, e.error_zh, e.input, e.ref).where(
        e.job_id == chunk["job_id"], e.chunk_id == chunk["id"]
    )
    rows = conn.execute(query.order_by(e.id)).all()
    # the latest round's error wins
    return {row.idx: (row.error, row.attempts, row.error_zh, codec.loads(row.input), row.ref) for row in rows}


def failures(db: Database, job_id: int) -> Iterator[Failure]:
    """The job's items that are failed now, each with its latest reason, a few chunks at a time."""
    get_job(db, job_id)
    c = chunks.c

    def read(conn: Connection, batch: Sequence[Row[Any]]) -> list[Failure]:
        return [failure for chunk in batch for failure in _chunk_failures(conn, job_id, chunk)]

    columns = [c.id, c.seq, c.first_index, c.states]
    return _by_chunks(db, job_id, columns, read, where=[c.states.contains(ItemState.FAILED)])


def _chunk_failures(conn: Connection, job_id: int, chunk: Any) -> list[Failure]:
    e = item_errors.c
    failed = {chunk.first_index + i for i, state in enumerate(chunk.states) if state == ItemState.FAILED}
    where = (e.job_id == job_id, e.chunk_id == chunk.id)
    query = select(e.idx, e.error, e.created_at, e.error_zh).where(*where).order_by(e.id)
    latest = {
        idx: Failure(idx, error, as_utc(at) or at, error_zh)
        for idx, error, at, error_zh in conn.execute(query)
        if idx in failed
    }
    return [latest[i] for i in sorted(latest)]


def stats(db: Database) -> Stats:
    k = job_counters.c
    with db.read() as conn:
        by_job: dict[Any, Any] = dict(conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all())
        by_chunk: dict[Any, Any] = dict(
            conn.execute(select(chunks.c.status, func.count()).group_by(chunks.c.status)).all()
        )
        sums = conn.execute(
            select(func.sum(k.processed), func.sum(k.succeeded), func.sum(k.failed), func.sum(k.skipped))
        ).one()
    processed, succeeded, failed, skipped = (int(v or 0) for v in sums)
    return Stats(
        jobs={str(s): int(n) for s, n in by_job.items()},
        chunks={str(s): int(n) for s, n in by_chunk.items()},
        items=Counters(processed=processed, succeeded=succeeded, failed=failed, skipped=skipped),
    )


def last_event_id(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.max(events.c.id))).scalar() or 0)


def list_events(db: Database, job_id: int | None, after: int, limit: int) -> list[Event]:
    e = events.c
    query = (
        select(events, jobs.c.owner).join(jobs, jobs.c.id == e.job_id).where(e.id > after).order_by(e.id).limit(limit)
    )
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
            owner=r["owner"],
        )
        for r in rows
    ]
