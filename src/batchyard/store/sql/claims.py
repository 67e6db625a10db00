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
from typing import Any

from batchyard.core.model import ClaimedChunk
from batchyard.core.status import JobStatus
from batchyard.store.base import NextClaim, PlanningClaim
from batchyard.store.sql import codec, queries
from batchyard.store.sql.database import Database
from batchyard.store.sql.raw import Raw
from batchyard.store.sql.rows import epoch, storable_text, utcnow

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
    if not types:
        return None
    with db.raw(write=False) as raw:
        ranked = _rank(raw, types, chunks_=chunks_, planning=planning)
    for candidate in ranked:
        if candidate.plans:
            claimed: Work | None = _claim_planning(db, candidate, lease)
        else:
            claimed = _claim_from(db, candidate, worker, lease)
        if claimed is not None:
            return claimed
    return None


@dataclass(frozen=True, slots=True)
class SentClaim:
    """A claim sent inside a commit's transaction, its row read once the transaction has committed (on
    PostgreSQL the claim and the COMMIT travel together). SQLite's row is read at once: a statement not run to
    its end would keep the COMMIT from happening."""

    candidate: Candidate
    token: str
    cursor: Any = None
    row: tuple[Any, ...] | None = None

    def result(self) -> ClaimedChunk | None:
        row = self.row if self.cursor is None else self.cursor.fetchone()
        return None if row is None else _claimed_chunk(self.candidate, self.token, tuple(row))


def candidates_later(raw: Raw, types: Sequence[str]) -> Any:
    """Send the read of the claim candidates (chunks and planning), to be ranked by ``claim_next_later``."""
    return raw.later(queries.all_candidates(len(types)), {"now": epoch(), **queries.list_params("t", list(types))})


def claim_next_later(raw: Raw, candidate_rows: list[tuple[Any, ...]], claim: NextClaim) -> SentClaim | None:
    """Inside a commit's transaction, send the claim of the next chunk in claim order — when that is a chunk of
    a running, uncapped job, which needs no job row lock (a commit holds one job's row already; taking
    another's could deadlock with a commit of that job). Anything else is left to an ordinary claim."""
    ranked = _ranked_by_load(raw, _as_candidates(candidate_rows))
    if not ranked:
        return None
    best = ranked[0]
    if best.plans or best.status != JobStatus.RUNNING or best.max_concurrency is not None:
        return None
    now = epoch()
    sql = queries.CLAIM_CHUNK_SQLITE if raw.is_sqlite else queries.CLAIM_CHUNK_POSTGRESQL
    values = {"token": claim.token, "expires": now + claim.lease, "now": now, "worker": claim.worker}
    cursor = raw.later(sql, {**values, "job_id": best.job_id})
    if raw.is_sqlite:
        return SentClaim(best, claim.token, row=cursor.fetchone())
    return SentClaim(best, claim.token, cursor=cursor)


def claimed_with(db: Database, token: str) -> ClaimedChunk | None:
    """The chunk running under lease ``token``, if any: how a worker finds the chunk a commit claimed for it
    when the commit's answer was lost although it went through."""
    with db.raw(write=False) as raw:
        row = raw.one(queries.CLAIMED_WITH, {"token": token})
    if row is None:
        return None
    job_id, type_, owner, params, *chunk_row = row
    candidate = Candidate(job_id, type_, owner, JobStatus.RUNNING, 0, None, params, 0)
    return _claimed_chunk(candidate, token, tuple(chunk_row))


def _rank(raw: Raw, types: Sequence[str], *, chunks_: bool, planning: bool) -> list[Candidate]:
    now = epoch()
    if chunks_ and planning:
        candidates = _all_candidates(raw, now, types)
    else:
        candidates = _candidates(raw, now, types) if chunks_ else _planning_candidates(raw, now, types)
    return _ranked_by_load(raw, candidates)


def _ranked_by_load(raw: Raw, candidates: list[Candidate]) -> list[Candidate]:
    owners = {c.owner for c in candidates}
    return _ranked(candidates, _owner_load(raw, owners) if len(owners) > 1 else {})


def claim_chunk(db: Database, worker: str, lease: float, types: Sequence[str]) -> ClaimedChunk | None:
    claimed = claim_work(db, worker, lease, types, planning=False)
    assert claimed is None or isinstance(claimed, ClaimedChunk)
    return claimed


def claim_planning(db: Database, lease: float, types: Sequence[str]) -> PlanningClaim | None:
    claimed = claim_work(db, "", lease, types, chunks_=False)
    assert claimed is None or isinstance(claimed, PlanningClaim)
    return claimed


def _candidates(raw: Raw, now: float, types: Sequence[str]) -> list[Candidate]:
    rows = raw.all(queries.candidate_jobs(len(types)), {"now": now, **queries.list_params("t", list(types))})
    return [Candidate(*row) for row in rows]


def _all_candidates(raw: Raw, now: float, types: Sequence[str]) -> list[Candidate]:
    params = {"now": now, **queries.list_params("t", list(types))}
    return _as_candidates(raw.all(queries.all_candidates(len(types)), params))


def _as_candidates(rows: list[tuple[Any, ...]]) -> list[Candidate]:
    return [
        Candidate(job_id, type_, owner, status, priority, cap, params, running, plans=bool(plans))
        for job_id, type_, owner, status, priority, cap, params, running, plans in rows
    ]


def _planning_candidates(raw: Raw, now: float, types: Sequence[str]) -> list[Candidate]:
    rows = raw.all(queries.planning_candidates(len(types)), {"now": now, **queries.list_params("t", list(types))})
    return [
        Candidate(job_id, type_, owner, status, priority, None, params, 0, plans=True)
        for job_id, type_, owner, status, priority, params in rows
    ]


def _owner_load(raw: Raw, owners: set[str]) -> dict[str, tuple[int, float]]:
    rows = raw.all(queries.owner_load(len(owners)), queries.list_params("o", sorted(owners)))
    return {owner: (int(running or 0), float(last_claim or 0.0)) for owner, running, last_claim in rows}


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
    with db.raw(write=True) as raw:
        row = raw.one(
            queries.CLAIM_PLANNING, {"job_id": cand.job_id, "token": token, "expires": now + lease, "now": now}
        )
    if row is None:
        return None
    planned, next_seq = row
    return PlanningClaim(
        job_id=cand.job_id,
        job_type=cand.type,
        owner=cand.owner,
        params=codec.loads(cand.params),
        planned=planned,
        next_seq=next_seq,
        token=token,
    )


def _claim_from(db: Database, cand: Candidate, worker: str, lease: float) -> ClaimedChunk | None:
    with db.raw(write=True) as raw:
        return _claim_in(raw, cand, worker, lease)


def _claim_in(raw: Raw, cand: Candidate, worker: str, lease: float) -> ClaimedChunk | None:
    now = epoch()
    token = new_token()
    if cand.status == JobStatus.PENDING:  # the job row before any chunk row: one lock order everywhere
        raw.run(queries.START_JOB, {"now": raw.time(utcnow()), "job_id": cand.job_id})
    if cand.max_concurrency is not None and not _below_concurrency(raw, cand):
        return None
    claim = queries.CLAIM_CHUNK_SQLITE if raw.is_sqlite else queries.CLAIM_CHUNK_POSTGRESQL
    row = raw.one(claim, {"token": token, "expires": now + lease, "now": now, "worker": worker, "job_id": cand.job_id})
    return None if row is None else _claimed_chunk(cand, token, row)


def _claimed_chunk(cand: Candidate, token: str, row: tuple[Any, ...]) -> ClaimedChunk:
    chunk_id, seq, round_, first_index, items, keys, states, outputs, attempts, lost = row
    return ClaimedChunk(
        id=chunk_id,
        job_id=cand.job_id,
        job_type=cand.type,
        owner=cand.owner,
        params=codec.loads(cand.params),
        round=round_,
        token=token,
        seq=seq,
        first_index=first_index,
        items=codec.loads(items),
        keys=codec.loads(keys),
        states=states,
        outputs=codec.loads(outputs) or [None] * len(states),
        attempts=codec.loads_attempts(attempts),
        lost=lost,
    )


def _below_concurrency(raw: Raw, cand: Candidate) -> bool:
    """Recount under a lock: on PostgreSQL the job row serialises claims of capped jobs only."""
    if not raw.is_sqlite:
        raw.one(queries.LOCK_JOB_FOR_CLAIM, {"job_id": cand.job_id})
    running = raw.scalar(queries.RUNNING_CHUNKS, {"job_id": cand.job_id})
    return bool(running < (cand.max_concurrency or 0))


def heartbeat(db: Database, chunk: ClaimedChunk, lease: float, current: str | None) -> JobStatus | None:
    """Renew the lease; ``None`` when it was lost (the chunk was reclaimed), else the job's status."""
    label = None if current is None else storable_text(current)
    with db.raw(write=True) as raw:
        renewed = raw.run(
            queries.RENEW_LEASE, {"id": chunk.id, "token": chunk.token, "expires": epoch() + lease, "current": label}
        )
        if not renewed:
            return None
        return JobStatus(raw.scalar(queries.JOB_STATUS, {"job_id": chunk.job_id}))


def job_status(db: Database, job_id: int) -> JobStatus:
    with db.raw(write=False) as raw:
        return JobStatus(raw.scalar(queries.JOB_STATUS, {"job_id": job_id}))


def new_token() -> str:
    return secrets.token_hex(16)
