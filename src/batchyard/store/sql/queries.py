"""The hot-path SQL, named and in one place: statements run once or more per chunk.

Written as text so that no expression is built or cache-keyed per call; everything else uses SQLAlchemy
Core on the tables of ``tables.py``.
"""

from __future__ import annotations

from sqlalchemy import TextClause, bindparam, text

from batchyard.store.sql.tables import UtcTime

# The pending-chunk probe is a scalar subquery ordered by seq, not an EXISTS: PostgreSQL may turn an EXISTS into
# a join that reads every pending chunk of the table; this form is one step of the claim index per active job.
CANDIDATE_JOBS = text(
    """
    SELECT j.id, j.type, j.owner, j.status, j.priority, j.max_concurrency, j.params,
           (SELECT count(*) FROM by_chunks c WHERE c.job_id = j.id AND c.status = 'running') AS running
    FROM by_jobs j
    WHERE j.status IN ('pending', 'running') AND j.type IN :types
      AND (SELECT c.seq FROM by_chunks c
           WHERE c.job_id = j.id AND c.status = 'pending' AND c.run_after <= :now
           ORDER BY c.seq LIMIT 1) IS NOT NULL
    """
).bindparams(bindparam("types", expanding=True))

# Load of each owner over all their active jobs, not only those with a chunk to claim now: an owner whose
# other job is busy running chunks must not count as idle.
OWNER_LOAD = text(
    """
    SELECT j.owner,
           sum((SELECT count(*) FROM by_chunks c WHERE c.job_id = j.id AND c.status = 'running')) AS running,
           max((SELECT max(c.claimed_at) FROM by_chunks c WHERE c.job_id = j.id)) AS last_claim
    FROM by_jobs j
    WHERE j.status IN ('pending', 'running', 'paused', 'cancelling') AND j.owner IN :owners
    GROUP BY j.owner
    """
).bindparams(bindparam("owners", expanding=True))

_CLAIM = """
    UPDATE by_chunks SET status = 'running', lease_token = :token, lease_expires = :expires,
           claimed_at = :now, worker = :worker
    WHERE id = (
        SELECT id FROM by_chunks
        WHERE job_id = :job_id AND status = 'pending' AND run_after <= :now
          AND EXISTS (SELECT 1 FROM by_jobs WHERE id = :job_id AND status IN ('pending', 'running'))
        ORDER BY seq LIMIT 1 {lock}
    )
    RETURNING id, seq, round, first_index, items, keys, states, outputs, attempts, lost
"""
CLAIM_CHUNK = {"sqlite": text(_CLAIM.format(lock="")), "postgresql": text(_CLAIM.format(lock="FOR UPDATE SKIP LOCKED"))}

START_JOB = text("UPDATE by_jobs SET status = 'running', started_at = :now WHERE id = :job_id AND status = 'pending'")
START_JOB = START_JOB.bindparams(bindparam("now", type_=UtcTime))

# The commit fence. SQLite serialises writers, so one read suffices. PostgreSQL takes the job row first (one
# lock order everywhere: job row, then chunk rows, then counter shards): shared by the job's commits, so they
# run side by side, but exclusive against cancel, pause and the reaper, so the job status a commit acts on
# cannot change under it. A commit that may stop the job takes the row for update from the start: upgrading a
# shared lock that other commits also hold would deadlock.
FENCE_SQLITE = text(
    """
    SELECT j.status FROM by_chunks c JOIN by_jobs j ON j.id = c.job_id
    WHERE c.id = :id AND c.lease_token = :token AND c.status = 'running'
    """
)
LOCK_JOB_SHARED = text("SELECT status FROM by_jobs WHERE id = :job_id FOR SHARE")
LOCK_JOB_EXCLUSIVE = text("SELECT status FROM by_jobs WHERE id = :job_id FOR NO KEY UPDATE")
FENCE_CHUNK = text("SELECT 1 FROM by_chunks WHERE id = :id AND lease_token = :token AND status = 'running' FOR UPDATE")

COMMIT_CHUNK = text(
    """
    UPDATE by_chunks SET status = :status, states = :states, outputs = :outputs, attempts = :attempts,
           run_after = :run_after, lease_token = NULL, lease_expires = NULL, current = :current
    WHERE id = :id
    """
)

INSERT_EVENT = text(
    "INSERT INTO by_events (job_id, kind, data, created_at) VALUES (:job_id, :kind, :data, :created_at)"
).bindparams(bindparam("created_at", type_=UtcTime))

ADD_COUNTERS = text(
    """
    UPDATE by_job_counters SET processed = processed + :processed, succeeded = succeeded + :succeeded,
           failed = failed + :failed, skipped = skipped + :skipped
    WHERE job_id = :job_id AND shard = :shard
    """
)

HAS_PENDING_CHUNKS = text("SELECT 1 FROM by_chunks WHERE job_id = :job_id AND status = 'pending' LIMIT 1")


# Jobs whose source a worker must enumerate: new, or their planner's lease ran out.
_NEEDS_PLANNER = """
    plan_by_worker = TRUE AND sealed = FALSE AND status IN ('pending', 'running')
      AND (planner_expires IS NULL OR planner_expires < :now)
"""
PLANNING_CANDIDATES = text(
    "SELECT id, type, owner, status, priority, params FROM by_jobs WHERE type IN :types AND" + _NEEDS_PLANNER
).bindparams(bindparam("types", expanding=True))

CLAIM_PLANNING = text(
    "UPDATE by_jobs SET planner_token = :token, planner_expires = :expires WHERE id = :job_id AND"
    + _NEEDS_PLANNER
    + "RETURNING total, next_seq"
)


def for_dialect(statements: dict[str, TextClause], dialect: str) -> TextClause:
    return statements["sqlite" if dialect == "sqlite" else "postgresql"]
