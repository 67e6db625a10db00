"""A claim costs the same with 20 pending chunks or 20,000: the hot queries walk an index in ``seq`` order and
never sort or scan a job's pending chunks. Checked on the query plans, which do not depend on timing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text

from batchyard.store.sql import queries
from batchyard.store.sql.database import Database
from batchyard.store.sql.migrate import upgrade

CLAIM_INDEX = "ix_by_chunks_job_id_status_seq_run_after"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def plan(db: Database, sql: str, params: dict[str, object]) -> str:
    """The plan as one string; on PostgreSQL with sequential scans priced out, so that the plan shows whether
    an index can serve the query at all (a tiny test table would otherwise always be scanned)."""
    with db.write() as conn:
        if db.is_sqlite:
            rows = conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params).all()
            return "\n".join(str(r[-1]) for r in rows)
        _price_out_scans(conn)
        rows = conn.execute(text(f"EXPLAIN {sql}"), params).all()
        conn.rollback()
        return "\n".join(str(r[0]) for r in rows)


def _price_out_scans(conn: Connection) -> None:
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    conn.execute(text("SET LOCAL enable_bitmapscan = off"))


def claim_params() -> dict[str, object]:
    now = time.time()
    return {"token": "t", "expires": now + 30, "now": now, "worker": "w", "job_id": 1}


def test_claim_walks_the_claim_index_without_sorting(db: Database) -> None:
    claim = queries.CLAIM_CHUNK_SQLITE if db.is_sqlite else queries.CLAIM_CHUNK_POSTGRESQL
    shown = plan(db, claim.sqlite, claim_params())
    assert CLAIM_INDEX in shown, shown
    assert "TEMP B-TREE" not in shown, shown
    assert "Sort" not in shown, shown


def test_candidate_jobs_probe_pending_chunks_through_the_claim_index(db: Database) -> None:
    shown = plan(db, queries.candidate_jobs(1).sqlite, {"now": time.time(), "t0": "noop"})
    assert CLAIM_INDEX in shown, shown
    assert "SCAN c" not in shown, shown
    assert "Seq Scan on by_chunks" not in shown, shown
    assert "Hash" not in shown, shown
