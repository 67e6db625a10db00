"""The hot-path SQL, named and in one place: statements run once or more per chunk, on the driver itself
(``raw.py``). Everything else uses SQLAlchemy Core on the tables of ``tables.py``."""

from __future__ import annotations

from functools import cache

from batchyard.store.sql.raw import Sql


@cache
def in_list(name: str, count: int) -> str:
    """``(:name0, :name1, ...)`` for an ``IN`` of ``count`` values; see ``list_params``."""
    return "(" + ", ".join(f":{name}{i}" for i in range(count)) + ")"


def list_params(name: str, values: list[str]) -> dict[str, str]:
    return {f"{name}{i}": value for i, value in enumerate(values)}


# The pending-chunk probe is a scalar subquery ordered by seq, not an EXISTS: PostgreSQL may turn an EXISTS into
# a join that reads every pending chunk of the table; this form is one step of the claim index per active job.
_CANDIDATE_JOBS = """
    SELECT j.id, j.type, j.owner, j.status, j.priority, j.max_concurrency, j.params,
           (SELECT count(*) FROM by_chunks c WHERE c.job_id = j.id AND c.status = 'running') AS running
    FROM by_jobs j
    WHERE j.status IN ('pending', 'running') AND j.type IN {types}
      AND (SELECT c.seq FROM by_chunks c
           WHERE c.job_id = j.id AND c.status = 'pending' AND c.run_after <= :now
           ORDER BY c.seq LIMIT 1) IS NOT NULL
"""

# Jobs whose source a worker must enumerate: new, or their planner's lease ran out.
_NEEDS_PLANNER = """
    plan_by_worker = TRUE AND sealed = FALSE AND status IN ('pending', 'running')
      AND (planner_expires IS NULL OR planner_expires < :now)
"""
_PLANNING_CANDIDATES = "SELECT id, type, owner, status, priority, params FROM by_jobs WHERE type IN {types} AND"


@cache
def candidate_jobs(types: int) -> Sql:
    return Sql(_CANDIDATE_JOBS.format(types=in_list("t", types)))


@cache
def planning_candidates(types: int) -> Sql:
    return Sql(_PLANNING_CANDIDATES.format(types=in_list("t", types)) + _NEEDS_PLANNER)


# Load of each owner over all their active jobs, not only those with a chunk to claim now: an owner whose
# other job is busy running chunks must not count as idle.
_OWNER_LOAD = """
    SELECT j.owner,
           sum((SELECT count(*) FROM by_chunks c WHERE c.job_id = j.id AND c.status = 'running')) AS running,
           max((SELECT max(c.claimed_at) FROM by_chunks c WHERE c.job_id = j.id)) AS last_claim
    FROM by_jobs j
    WHERE j.status IN ('pending', 'running', 'paused', 'cancelling') AND j.owner IN {owners}
    GROUP BY j.owner
"""


@cache
def all_candidates(types: int) -> Sql:
    """Jobs with a chunk to claim and jobs whose source needs a planner, in one read: the last column says
    which (planning rows have no concurrency cap and no running count)."""
    chunk_rows = _CANDIDATE_JOBS.format(types=in_list("t", types))
    planning_rows = (
        "SELECT id, type, owner, status, priority, NULL, params, 0, 1 FROM by_jobs WHERE type IN "
        + in_list("t", types)
        + " AND"
        + _NEEDS_PLANNER
    )
    return Sql(chunk_rows.replace("AS running", "AS running, 0 AS plans", 1) + " UNION ALL " + planning_rows)


@cache
def owner_load(owners: int) -> Sql:
    return Sql(_OWNER_LOAD.format(owners=in_list("o", owners)))


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
CLAIM_CHUNK_SQLITE = Sql(_CLAIM.format(lock=""))
CLAIM_CHUNK_POSTGRESQL = Sql(_CLAIM.format(lock="FOR UPDATE SKIP LOCKED"))

CLAIMED_WITH = Sql(
    """
    SELECT j.id, j.type, j.owner, j.params,
           c.id, c.seq, c.round, c.first_index, c.items, c.keys, c.states, c.outputs, c.attempts, c.lost
    FROM by_chunks c JOIN by_jobs j ON j.id = c.job_id
    WHERE c.lease_token = :token AND c.status = 'running'
    """
)

START_JOB = Sql("UPDATE by_jobs SET status = 'running', started_at = :now WHERE id = :job_id AND status = 'pending'")
RUNNING_CHUNKS = Sql("SELECT count(*) FROM by_chunks WHERE job_id = :job_id AND status = 'running'")
LOCK_JOB_FOR_CLAIM = Sql("SELECT id FROM by_jobs WHERE id = :job_id FOR UPDATE")

CLAIM_PLANNING = Sql(
    "UPDATE by_jobs SET planner_token = :token, planner_expires = :expires WHERE id = :job_id AND"
    + _NEEDS_PLANNER
    + "RETURNING total, next_seq"
)

RENEW_LEASE = Sql(
    """
    UPDATE by_chunks SET lease_expires = :expires, current = :current
    WHERE id = :id AND lease_token = :token AND status = 'running'
    """
)
JOB_STATUS = Sql("SELECT status FROM by_jobs WHERE id = :job_id")

# The commit fence. SQLite serialises writers, so one read suffices. PostgreSQL takes the job row first (one
# lock order everywhere: job row, then chunk rows, then counter shards): shared by the job's commits, so they
# run side by side, but exclusive against cancel, pause and the reaper, so the job status a commit acts on
# cannot change under it. A commit that may stop the job takes the row for update from the start: upgrading a
# shared lock that other commits also hold would deadlock.
FENCE_SQLITE = Sql(
    """
    SELECT j.status FROM by_chunks c JOIN by_jobs j ON j.id = c.job_id
    WHERE c.id = :id AND c.lease_token = :token AND c.status = 'running'
    """
)
LOCK_JOB_SHARED = Sql("SELECT status FROM by_jobs WHERE id = :job_id FOR SHARE")
LOCK_JOB_EXCLUSIVE = Sql("SELECT status FROM by_jobs WHERE id = :job_id FOR NO KEY UPDATE")
FENCE_CHUNK = Sql("SELECT 1 FROM by_chunks WHERE id = :id AND lease_token = :token AND status = 'running' FOR UPDATE")

# Fenced itself: a commit that writes before it has read the fence learns from the row count whether the lease
# held (and rolls everything back if it did not).
COMMIT_CHUNK = Sql(
    """
    UPDATE by_chunks SET status = :status, states = :states, outputs = :outputs, attempts = :attempts,
           run_after = :run_after, lease_token = NULL, lease_expires = NULL, current = :current
    WHERE id = :id AND lease_token = :token AND status = 'running'
    """
)

INSERT_EVENT = Sql("INSERT INTO by_events (job_id, kind, data, created_at) VALUES (:job_id, :kind, :data, :created_at)")
# PostgreSQL: a transaction that stores an event wakes the API processes' event readers when it commits
# (several in one transaction are delivered as one).
EVENTS_CHANNEL = "batchyard_events"
# The payload is the schema, so that deployments sharing a database (in schemas of their own) wake only their own.
NOTIFY_EVENTS = Sql(f"SELECT pg_notify('{EVENTS_CHANNEL}', current_schema())")

INSERT_ITEM_ERROR = Sql(
    """
    INSERT INTO by_item_errors (job_id, chunk_id, round, idx, error, error_zh, input, ref, attempts, created_at)
    VALUES (:job_id, :chunk_id, :round, :idx, :error, :error_zh, :input, :ref, :attempts, :created_at)
    """
)

INSERT_DONE_KEY = Sql(
    "INSERT INTO by_done_keys (scope, key, job_id) VALUES (:scope, :key, :job_id) ON CONFLICT DO NOTHING"
)

ADD_COUNTERS = Sql(
    """
    UPDATE by_job_counters SET processed = processed + :processed, succeeded = succeeded + :succeeded,
           failed = failed + :failed, skipped = skipped + :skipped
    WHERE job_id = :job_id AND shard = :shard
    """
)

READ_COUNTERS = Sql(
    """
    SELECT coalesce(sum(processed), 0), coalesce(sum(succeeded), 0), coalesce(sum(failed), 0),
           coalesce(sum(skipped), 0)
    FROM by_job_counters WHERE job_id = :job_id
    """
)

HAS_PENDING_CHUNKS = Sql("SELECT 1 FROM by_chunks WHERE job_id = :job_id AND status = 'pending' LIMIT 1")

STOP_JOB = Sql(
    """
    UPDATE by_jobs SET status = 'cancelling', error = :reason
    WHERE id = :job_id AND status IN ('pending', 'running', 'paused')
    RETURNING id
    """
)
CANCEL_PENDING_CHUNKS = Sql("UPDATE by_chunks SET status = 'cancelled' WHERE job_id = :job_id AND status = 'pending'")
