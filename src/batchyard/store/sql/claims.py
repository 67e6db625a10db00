"""Claiming work: which job goes next (priority, then fair share across owners, then age), atomically.

Work is a chunk to run or a job whose source needs planning; both compete in the same order, so a small source
job is never stuck behind a big job. The candidates are read without the write lock; only the claim itself is
a write. On PostgreSQL the chunk row is taken with ``FOR UPDATE SKIP LOCKED``; SQLite serialises writers with
``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, update

from batchyard.core.model import ClaimedChunk
from batchyard.core.status import ChunkStatus, JobStatus
from batchyard.store.base import PlanningClaim
from batchyard.store.sql import codec, queries
from batchyard.store.sql.database import Database
from batchyard.store.sql.rows import epoch, storable_text, utcnow
from batchyard.store.sql.tables import chunks, jobs

Work = ClaimedChunk | PlanningClaim


@dataclass(frozen=True, slots=True)
class Candidate:
    job_id: int
    type: str
    owner: str
    status: str
    priority: int
    max_concurrency: int | None
    params: str
    running: int
    plans: bool = False  # the work on offer is planning the job's source, not running a chunk


def claim_work(
    db: Database, worker: str, lease: float, types: Sequence[str], *, chunks_: bool = True, planning: bool = True
) -> Work | None:
    """Claim the next chunk to run, or job to plan, of a job type this worker knows."""
    now = epoch()
    with db.read() as conn:
        candidates = _candidates(conn, now, types) if chunks_ else []
        if planning:
            candidates += _planning_candidates(conn, now, types)
        owners = {c.owner for c in candidates}
        load = _owner_load(conn, owners) if len(owners) > 1 else {}
    for candidate in _ranked(candidates, load):
        claimed = (
            _claim_planning(db, candidate, lease) if candidate.plans else _claim_from(db, candidate, worker, lease)
        )
        if claimed is not None:
            return claimed
    return None


def claim_chunk(db: Database, worker: str, lease: float, types: Sequence[str]) -> ClaimedChunk | None:
    claimed = claim_work(db, worker, lease, types, planning=False)
    assert claimed is None or isinstance(claimed, ClaimedChunk)
    return claimed


def claim_planning(db: Database, lease: float, types: Sequence[str]) -> PlanningClaim | None:
    claimed = claim_work(db, "", lease, types, chunks_=False)
    assert claimed is None or isinstance(claimed, PlanningClaim)
    return claimed


def _candidates(conn: Connection, now: float, types: Sequence[str]) -> list[Candidate]:
    rows = conn.execute(queries.CANDIDATE_JOBS, {"types": list(types), "now": now}).all()
    return [
        Candidate(r.id, r.type, r.owner, r.status, r.priority, r.max_concurrency, r.params, r.running) for r in rows
    ]


def _planning_candidates(conn: Connection, now: float, types: Sequence[str]) -> list[Candidate]:
    rows = conn.execute(queries.PLANNING_CANDIDATES, {"types": list(types), "now": now}).all()
    return [Candidate(r.id, r.type, r.owner, r.status, r.priority, None, r.params, 0, plans=True) for r in rows]


def _owner_load(conn: Connection, owners: set[str]) -> dict[str, tuple[int, float]]:
    rows = conn.execute(queries.OWNER_LOAD, {"owners": sorted(owners)}).all()
    return {r.owner: (int(r.running or 0), float(r.last_claim or 0.0)) for r in rows}


def _ranked(candidates: list[Candidate], load: dict[str, tuple[int, float]]) -> list[Candidate]:
    """Priority first; then the owner with the fewest running chunks, then the one served longest ago, so a
    tiny job of one user is not starved by a huge job of another; then the oldest job (its chunks before its
    planning). A job at its ``max_concurrency`` offers no chunk, but its planning goes on."""
    open_ = [c for c in candidates if c.plans or c.max_concurrency is None or c.running < c.max_concurrency]
    return sorted(open_, key=lambda c: (-c.priority, *load.get(c.owner, (0, 0.0)), c.job_id, c.plans))


def _claim_planning(db: Database, cand: Candidate, lease: float) -> PlanningClaim | None:
    """Take the planning of a job nobody plans (new, or its planner's lease ran out); the UPDATE re-checks."""
    token = new_token()
    now = epoch()
    with db.write() as conn:
        row = conn.execute(
            queries.CLAIM_PLANNING, {"job_id": cand.job_id, "token": token, "expires": now + lease, "now": now}
        ).first()
    if row is None:
        return None
    return PlanningClaim(
        job_id=cand.job_id,
        job_type=cand.type,
        owner=cand.owner,
        params=codec.loads(cand.params),
        planned=row.total,
        next_seq=row.next_seq,
        token=token,
    )


def _claim_from(db: Database, cand: Candidate, worker: str, lease: float) -> ClaimedChunk | None:
    now = epoch()
    token = new_token()
    with db.write() as conn:
        if cand.status == JobStatus.PENDING:  # the job row before any chunk row: one lock order everywhere
            conn.execute(queries.START_JOB, {"now": utcnow(), "job_id": cand.job_id})
        if cand.max_concurrency is not None and not _below_concurrency(db, conn, cand):
            return None
        row = conn.execute(
            queries.for_dialect(queries.CLAIM_CHUNK, db.dialect),
            {"token": token, "expires": now + lease, "now": now, "worker": worker, "job_id": cand.job_id},
        ).first()
        if row is None:
            return None
    return ClaimedChunk(
        id=row.id,
        job_id=cand.job_id,
        job_type=cand.type,
        owner=cand.owner,
        params=codec.loads(cand.params),
        round=row.round,
        token=token,
        seq=row.seq,
        first_index=row.first_index,
        items=codec.loads(row.items),
        keys=codec.loads(row.keys),
        states=row.states,
        outputs=codec.loads(row.outputs) or [None] * len(row.states),
        attempts=codec.loads_attempts(row.attempts),
        lost=row.lost,
    )


def _below_concurrency(db: Database, conn: Connection, cand: Candidate) -> bool:
    """Recount under a lock: on PostgreSQL the job row serialises claims of capped jobs only."""
    j, c = jobs.c, chunks.c
    if not db.is_sqlite:
        conn.execute(select(j.id).where(j.id == cand.job_id).with_for_update())
    running = conn.execute(
        select(func.count()).where(c.job_id == cand.job_id, c.status == ChunkStatus.RUNNING)
    ).scalar_one()
    return bool(running < (cand.max_concurrency or 0))


def heartbeat(db: Database, chunk: ClaimedChunk, lease: float, current: str | None) -> JobStatus | None:
    """Renew the lease; ``None`` when it was lost (the chunk was reclaimed), else the job's status."""
    c = chunks.c
    with db.write() as conn:
        renewed = conn.execute(
            update(chunks)
            .where(c.id == chunk.id, c.lease_token == chunk.token, c.status == ChunkStatus.RUNNING)
            .values(lease_expires=epoch() + lease, current=None if current is None else storable_text(current))
        ).rowcount
        if not renewed:
            return None
        return JobStatus(conn.execute(select(jobs.c.status).where(jobs.c.id == chunk.job_id)).scalar_one())


def job_status(db: Database, job_id: int) -> JobStatus:
    with db.read() as conn:
        return JobStatus(conn.execute(select(jobs.c.status).where(jobs.c.id == job_id)).scalar_one())


def new_token() -> str:
    return secrets.token_hex(16)
