"""Small shared steps of the SQL store: clocks, counters, events, and turning rows into domain records."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from batchyard.core.eta import eta_seconds
from batchyard.core.model import Counters, ItemError, Job, QuotaMoves, Round
from batchyard.core.status import ChunkStatus, JobStatus
from batchyard.store.sql import codec, queries
from batchyard.store.sql.raw import Raw
from batchyard.store.sql.tables import COUNTER_SHARDS, chunks, events, jobs, ledger

ETA_WINDOW = 20  # commits the moving average of throughput looks back over

# Statuses in which work given back (a partial commit, a lost worker) returns to the queue.
KEEPS_RUNNING = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED)


def released_status(job_status: JobStatus) -> ChunkStatus:
    """The one rule for a chunk given back with items still open, by a commit or by the reaper, read under
    the job row's lock: back to the queue while the job runs, else (cancelling) cancelled."""
    return ChunkStatus.PENDING if job_status in KEEPS_RUNNING else ChunkStatus.CANCELLED


def decode_max_failures(value: float | None) -> int | float | None:
    """``max_failures`` is kept as one number: a whole number is a count, anything in (0, 1) a ratio."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def epoch() -> float:
    return time.time()


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


SomeConnection = Connection | Raw


def as_raw(conn: SomeConnection) -> Raw:
    """The driver connection under a SQLAlchemy one, in the same transaction, for the hot-path statements."""
    if isinstance(conn, Raw):
        return conn
    return Raw(conn.connection.driver_connection, is_sqlite=conn.dialect.name == "sqlite")


def emit(conn: SomeConnection, job_id: int, kind: str, **data: Any) -> None:
    raw = as_raw(conn)
    raw.send(
        queries.INSERT_EVENT,
        {"job_id": job_id, "kind": kind, "data": codec.dumps(data), "created_at": raw.time(utcnow())},
    )
    if not raw.is_sqlite and kind != "progress":
        # PostgreSQL makes the commits of transactions that NOTIFY wait for each other; progress, the bulk of
        # the events, is found by the readers' poll (a tenth of a second) instead
        raw.send(queries.NOTIFY_EVENTS)


def record_errors(conn: SomeConnection, *, job_id: int, chunk_id: int, round: int, errors: Iterable[ItemError]) -> None:
    """Store failed items' reasons (and skip reasons): the only per-item rows there are."""
    raw = as_raw(conn)
    now = raw.time(utcnow())
    raw.many(
        queries.INSERT_ITEM_ERROR,
        (
            {
                "job_id": job_id,
                "chunk_id": chunk_id,
                "round": round,
                "idx": e.index,
                "error": storable_text(e.error),
                "error_zh": None if e.error_zh is None else storable_text(e.error_zh),
                "input": None if e.input is None else codec.dumps(e.input),
                "ref": e.ref,
                "attempts": e.attempts,
                "created_at": now,
            }
            for e in errors
        ),
    )


def storable_text(text: str) -> str:
    """Text any database can hold: PostgreSQL refuses NUL characters and no driver encodes a lone surrogate
    (what ``os.listdir`` returns for a file name that is not UTF-8), yet a message quoting either must be kept."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def fitted_key(text: str, limit: int) -> str:
    """A key as stored in a column of ``limit`` characters: as it is when it fits, else a digest of it (still
    unique per key). Done keys and their scopes come from users' data and templates, of any length."""
    if len(text) <= limit:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def count_planned(rounds: list[dict[str, Any]], total: int) -> None:
    """The round in which planning ends gains the items planned since it began (all of them in round 1)."""
    rounds[-1]["items"] += total - rounds[-1].pop("planned_before", 0)


def shard_of(seq: int) -> int:
    return seq % COUNTER_SHARDS


def add_counters(conn: SomeConnection, job_id: int, shard: int, delta: Counters) -> None:
    if delta:
        as_raw(conn).send(
            queries.ADD_COUNTERS,
            {
                "job_id": job_id,
                "shard": shard,
                "processed": delta.processed,
                "succeeded": delta.succeeded,
                "failed": delta.failed,
                "skipped": delta.skipped,
            },
        )


def read_counters(conn: SomeConnection, job_id: int) -> Counters:
    row = as_raw(conn).one(queries.READ_COUNTERS, {"job_id": job_id})
    assert row is not None
    return Counters(*(int(v) for v in row))


def load_job(conn: Connection, job_id: int) -> Job | None:
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one_or_none()
    if row is None:
        return None
    counters = read_counters(conn, job_id)
    status = JobStatus(row["status"])
    return Job(
        id=row["id"],
        type=row["type"],
        owner=row["owner"],
        status=status,
        params=codec.loads(row["params"]),
        total=row["total"],
        sealed=row["sealed"],
        counters=counters,
        round=row["round"],
        priority=row["priority"],
        created_at=as_utc(row["created_at"]) or utcnow(),
        started_at=as_utc(row["started_at"]),
        finished_at=as_utc(row["finished_at"]),
        error=row["error"],
        current=_current_label(conn, job_id) if status.is_active else None,
        eta_seconds=_eta(conn, row, counters) if status.is_active else None,
        exclusive_key=row["exclusive_key"],
        idempotency_key=row["idempotency_key"],
        rounds=tuple(_round(r) for r in codec.loads(row["rounds"])),
        quota=job_moves(conn, job_id) if row["unit_cost"] else QuotaMoves(),
    )


def job_moves(conn: Connection, job_id: int) -> QuotaMoves:
    """What the job charged its owner and gave back, from the ledger."""
    moves = ledger.c
    rows = conn.execute(
        select(moves.kind, func.sum(moves.amount)).where(moves.job_id == job_id).group_by(moves.kind)
    ).all()
    sums = {kind: int(total or 0) for kind, total in rows}
    return QuotaMoves(charged=-sums.get("charge", 0), refunded=sums.get("refund", 0))


def _round(data: dict[str, Any]) -> Round:
    return Round(
        number=data["number"],
        started_at=datetime.fromisoformat(data["started_at"]),
        items=data["items"],
        finished_at=datetime.fromisoformat(data["finished_at"]) if data.get("finished_at") else None,
    )


def _current_label(conn: Connection, job_id: int) -> str | None:
    c = chunks.c
    return conn.execute(
        select(c.current).where(c.job_id == job_id, c.current.is_not(None)).order_by(c.claimed_at.desc()).limit(1)
    ).scalar_one_or_none()


def _eta(conn: Connection, row: Any, counters: Counters) -> float | None:
    if not row["sealed"] or row["status"] != JobStatus.RUNNING:
        return None
    e = events.c
    recent = conn.execute(
        select(e.data).where(e.job_id == row["id"], e.kind == "progress").order_by(e.id.desc()).limit(ETA_WINDOW)
    ).scalars()
    samples = [(d["at"], d["items"]) for d in map(codec.loads, reversed(list(recent)))]
    started = as_utc(row["started_at"])
    return eta_seconds(
        samples,
        remaining=row["total"] - counters.processed,
        now=epoch(),
        started_at=started.timestamp() if started else None,
    )
