"""Engine throughput: 200,000 no-op items, chunk 1,000, 2 workers already running, submit -> done.

Prints items/s (best of 3) on SQLite and PostgreSQL and, measured in the same run, the ratio to two
references: the floor of any database-backed engine (raw sqlite3 rows written back per chunk) and a
ProcessPoolExecutor(2) making the same no-op calls. Also each worker's peak RSS, and with --memory the
worker's and submitter's peak RSS for 200k versus 2M items.

Usage: python bench/engine.py [--items 200000] [--runs 3] [--pg URL] [--memory]
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def noop(item: int) -> int:
    return item


def raw_sqlite_floor(n: int, chunk: int) -> float:
    """Insert n item rows, then per chunk read them and write each status and output back in one transaction."""
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
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(noop, range(1000), chunksize=100))  # warm the pool up, as our workers are already running
        start = time.perf_counter()
        for _ in pool.map(noop, range(n), chunksize=chunk):
            pass
        return n / (time.perf_counter() - start)


class Workers:
    def __init__(self, url: str, count: int) -> None:
        env = dict(os.environ, BATCHYARD_DATABASE_URL=url, PYTHONPATH=str(HERE))
        command = [sys.executable, "-m", "batchyard", "worker", "--app", "noop_app:yard"]
        self.logs = [tempfile.TemporaryFile() for _ in range(count)]  # noqa: SIM115 - closed with the process
        self.procs = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log) for log in self.logs]

    def tail_logs(self) -> str:
        lines = []
        for log in self.logs:
            log.seek(0)
            lines.extend(log.read().decode(errors="replace").splitlines()[-5:])
        return "\n".join(lines)

    def peak_rss_mib(self) -> list[float]:
        peaks = []
        for proc in self.procs:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return peaks

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"worker {proc.pid} ignored SIGTERM for 30 s; killing it", file=sys.stderr)
                proc.kill()
                proc.wait()


def engine_run(yard: object, n: int, workers: Workers, deadline: float = 600.0) -> float:
    start = time.perf_counter()
    job = yard.submit("noop", items=range(n))  # type: ignore[attr-defined]
    while not yard.store.job_status(job.id).is_finished:  # type: ignore[attr-defined]
        time.sleep(0.002)
        if time.perf_counter() - start > deadline:
            raise RuntimeError(f"job did not finish: {yard.get(job.id)}\n{workers.tail_logs()}")  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    done = yard.get(job.id)  # type: ignore[attr-defined]
    assert done.succeeded == n, done
    return n / elapsed


def bench_engine(url: str, n: int, runs: int) -> tuple[float, list[float]]:
    sys.path.insert(0, str(HERE))
    from batchyard import Yard
    from noop_app import noop as _noop  # noqa: F401  (the same job type the workers run)

    yard = Yard(url)
    yard.registry.add(__import__("noop_app").yard.registry.get("noop"))
    yard.store  # noqa: B018 - create the schema before the workers start
    workers = Workers(url, 2)
    try:
        engine_run(yard, 2_000, workers)  # the workers are up and polling
        rates = [engine_run(yard, n, workers) for _ in range(runs)]
        return max(rates), workers.peak_rss_mib()
    finally:
        workers.stop()
        yard.close()


def fresh_postgres(url: str) -> str:
    """A scratch schema on the given server so repeated runs start from empty tables."""
    import psycopg

    schema = f"bench_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{url}?options=-csearch_path%3D{schema}"


def drop_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS bench_{os.getpid()} CASCADE")


def submitter_peak_mib(url: str, n: int) -> float:
    code = (
        f"import resource,sys; sys.path.insert(0, {str(HERE)!r}); from noop_app import yard; "
        f"yard.settings.database_url = {url!r}; yard.submit('noop', items=range({n})); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("BATCHYARD_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--memory", action="store_true", help="also compare peak RSS for 200k and 2M items")
    args = parser.parse_args()
    n = args.items
    floor = max(raw_sqlite_floor(n, 1000) for _ in range(args.runs))
    pool = max(process_pool(n, 1000) for _ in range(args.runs))
    print(f"reference raw sqlite3 floor        {floor:>10,.0f} items/s")
    print(f"reference ProcessPoolExecutor(2)   {pool:>10,.0f} items/s")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{tmp}/bench.db"
        rate, rss = bench_engine(sqlite_url, n, args.runs)
        _report("SQLite", rate, rss, floor, pool)
    pg_url = fresh_postgres(args.pg)
    try:
        rate, rss = bench_engine(pg_url, n, args.runs)
        _report("PostgreSQL", rate, rss, floor, pool)
    finally:
        drop_postgres(args.pg)
    if args.memory:
        _memory(n)
    print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def _report(name: str, rate: float, rss: list[float], floor: float, pool: float) -> None:
    print(
        f"batchyard {name:<11} 2 workers   {rate:>10,.0f} items/s   {rate / floor:5.2f}x raw-sqlite floor   "
        f"{rate / pool:5.2f}x process pool   worker peak RSS {', '.join(f'{r:.0f}' for r in rss)} MiB"
    )


def _memory(n: int) -> None:
    for size in (n, 10 * n):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/mem.db"
            _, rss = bench_engine(url, size, 1)
            sub = submitter_peak_mib(url, size)
            print(f"memory {size:>9,} items: worker peak RSS {max(rss):.0f} MiB, submitter peak RSS {sub:.0f} MiB")


if __name__ == "__main__":
    main()
