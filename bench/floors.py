"""References measured in the same run as batchyard, so that ratios survive a change of machine.

- ``layout_floor``: raw sqlite3 / raw psycopg on batchyard's own layout (a chunk row holding its items, outputs
  and states as JSON text, a lease token, sharded counters), two processes, each chunk one claim transaction
  (``UPDATE ... RETURNING`` of the next pending chunk by ``seq``) and one commit transaction (fence check,
  chunk row update, counter update). No SQLAlchemy, no batchyard: the least any engine of this design pays.
- ``item_row_floor``: a row per item, read and written back per chunk (another design: the cost it avoids).
- ``process_pool``: ProcessPoolExecutor(2) making the same no-op calls with no persistence at all.
"""

from __future__ import annotations

import json
import multiprocessing
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SHARDS = 8
_SCHEMA = (
    "CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL)",
    "CREATE TABLE counters (job_id INTEGER NOT NULL, shard INTEGER NOT NULL, processed BIGINT NOT NULL DEFAULT 0,"
    " succeeded BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (job_id, shard))",
    "CREATE TABLE chunks (id {serial} PRIMARY KEY, job_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " status TEXT NOT NULL, items TEXT NOT NULL, states TEXT NOT NULL, outputs TEXT, lease_token TEXT,"
    " lease_expires DOUBLE PRECISION, run_after DOUBLE PRECISION NOT NULL DEFAULT 0)",
    "CREATE INDEX chunks_claim ON chunks (job_id, status, seq, run_after)",
)
_CLAIM = (
    "UPDATE chunks SET status = 'running', lease_token = {p}, lease_expires = {p} WHERE id = ("
    " SELECT id FROM chunks WHERE job_id = {p} AND status = 'pending' AND run_after <= {p}"
    " ORDER BY seq LIMIT 1 {lock}) RETURNING id, seq, items, states, outputs"
)
_FENCE = "SELECT c.status FROM chunks c WHERE c.id = {p} AND c.lease_token = {p} AND c.status = 'running' {lock}"
_COMMIT = (
    "UPDATE chunks SET status = 'done', states = {p}, outputs = {p}, lease_token = NULL, lease_expires = NULL"
    " WHERE id = {p}"
)
_COUNT = (
    "UPDATE counters SET processed = processed + {p}, succeeded = succeeded + {p} WHERE job_id = {p} AND shard = {p}"
)


def noop(item: int) -> int:
    return item


class Dialect:
    """The few differences between the two raw drivers: placeholders, locks and how a write starts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = not url.startswith("postgresql")
        p = "?" if self.sqlite else "%s"
        self.claim = _CLAIM.format(p=p, lock="" if self.sqlite else "FOR UPDATE SKIP LOCKED")
        self.fence = _FENCE.format(p=p, lock="" if self.sqlite else "FOR UPDATE")
        self.commit = _COMMIT.format(p=p)
        self.count = _COUNT.format(p=p)
        self.p = p

    def connect(self) -> Any:
        if self.sqlite:
            conn = sqlite3.connect(self.url, isolation_level=None, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        import psycopg

        conn = psycopg.connect(self.url, autocommit=True)
        conn.execute("SET synchronous_commit = off")  # the same trade as batchyard's workers (decision 0015)
        return conn

    @contextmanager
    def write(self, conn: Any) -> Iterator[Any]:
        conn.execute("BEGIN IMMEDIATE" if self.sqlite else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def create_layout(dialect: Dialect) -> None:
    with _closing(dialect.connect()) as conn:
        for table in ("chunks", "counters", "jobs"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        for ddl in _SCHEMA:
            conn.execute(ddl.format(serial="INTEGER" if dialect.sqlite else "BIGSERIAL"))


def plan_job(dialect: Dialect, job_id: int, n: int, chunk: int) -> None:
    """Store a job's chunk rows as the submitter does: items as JSON text, one state character per item."""
    p = dialect.p
    rows = (
        (job_id, seq, json.dumps(list(range(o, min(o + chunk, n)))), "." * (min(o + chunk, n) - o))
        for seq, o in enumerate(range(0, n, chunk))
    )
    with _closing(dialect.connect()) as conn, dialect.write(conn):
        conn.execute(f"INSERT INTO jobs VALUES ({p}, 'running')", (job_id,))
        _executemany(
            conn, f"INSERT INTO counters (job_id, shard) VALUES ({p}, {p})", [(job_id, s) for s in range(SHARDS)]
        )
        _executemany(
            conn,
            f"INSERT INTO chunks (job_id, seq, status, items, states) VALUES ({p}, {p}, 'pending', {p}, {p})",
            rows,
        )


def drain(dialect: Dialect, job_id: int, limit: int | None = None) -> int:
    """One worker: claim, run, commit until no chunk is left (or ``limit`` chunks are done). Returns chunks."""
    done = 0
    with _closing(dialect.connect()) as conn:
        while limit is None or done < limit:
            token = secrets.token_hex(16)
            with dialect.write(conn):
                row = conn.execute(dialect.claim, (token, time.time() + 30, job_id, time.time())).fetchone()
            if row is None:
                return done
            chunk_id, seq, items, states, _ = row
            outputs = json.dumps([noop(x) for x in json.loads(items)])
            with dialect.write(conn):
                if conn.execute(dialect.fence, (chunk_id, token)).fetchone() is None:
                    continue
                conn.execute(dialect.commit, ("s" * len(states), outputs, chunk_id))
                conn.execute(dialect.count, (len(states), len(states), job_id, seq % SHARDS))
            done += 1
    return done


def layout_floor(url: str, n: int, chunk: int, job_id: int = 1) -> float:
    """Chunks per second, planning included (as batchyard's submit -> done), with 2 processes."""
    dialect = Dialect(url)
    create_layout(dialect)
    start = time.perf_counter()
    plan_job(dialect, job_id, n, chunk)
    _in_two_processes(drain, dialect, job_id, None)
    return -(-n // chunk) / (time.perf_counter() - start)


def layout_claim_cost(url: str, pending: int, chunk: int, first: int) -> float:
    """Chunks per second for the first ``first`` chunks of a job with ``pending`` chunks already stored."""
    dialect = Dialect(url)
    create_layout(dialect)
    plan_job(dialect, 1, pending * chunk, chunk)
    start = time.perf_counter()
    _in_two_processes(drain, dialect, 1, first // 2)
    return first / (time.perf_counter() - start)


def item_row_floor(n: int, chunk: int) -> float:
    """Items per second: insert n item rows, then per chunk read them and write each status and output back."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, chunk INT, input INT, status TEXT, output INT)")
        db.execute("CREATE INDEX items_chunk ON items (chunk)")
        start = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO items VALUES (?, ?, ?, 'pending', NULL)", ((i, i // chunk, i) for i in range(n)))
        db.execute("COMMIT")
        for c in range(n // chunk):
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute("SELECT id, input FROM items WHERE chunk = ?", (c,)).fetchall()
            db.executemany(
                "UPDATE items SET status = 'succeeded', output = ? WHERE id = ?", ((noop(x), i) for i, x in rows)
            )
            db.execute("COMMIT")
        elapsed = time.perf_counter() - start
        db.close()
    return n / elapsed


def process_pool(n: int, chunk: int) -> float:
    """Items per second of a warm ProcessPoolExecutor(2): the same calls with no persistence at all."""
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(noop, range(1000), chunksize=100))
        start = time.perf_counter()
        for _ in pool.map(noop, range(n), chunksize=chunk):
            pass
        return n / (time.perf_counter() - start)


def _in_two_processes(target: Callable[..., int], *args: Any) -> None:
    procs = [multiprocessing.get_context("fork").Process(target=target, args=args) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"floor worker exited with {proc.exitcode}")


def _executemany(conn: Any, sql: str, rows: Any) -> None:
    if isinstance(conn, sqlite3.Connection):
        conn.executemany(sql, rows)
    else:
        with conn.cursor() as cur:
            cur.executemany(sql, list(rows))


@contextmanager
def _closing(conn: Any) -> Iterator[Any]:
    try:
        yield conn
    finally:
        conn.close()
