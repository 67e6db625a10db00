"""Running batchyard for the benchmark: warm ``batchyard worker`` subprocesses, jobs timed submit -> done."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from noop_app import type_for  # the bench directory is the script's own, first on sys.path

HERE = Path(__file__).resolve().parent


class Workers:
    """Worker subprocesses running the benchmark's app, started once and kept warm across runs."""

    def __init__(self, url: str, count: int) -> None:
        env = dict(os.environ, BATCHYARD_DATABASE_URL=url, PYTHONPATH=str(HERE))
        command = [sys.executable, "-m", "batchyard", "worker", "--app", "noop_app:yard"]
        self.logs = [tempfile.TemporaryFile() for _ in range(count)]  # noqa: SIM115 - closed with the process
        self.procs = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log) for log in self.logs]

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

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

    def signal(self, signum: int) -> None:
        for proc in self.procs:
            proc.send_signal(signum)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"worker {proc.pid} ignored SIGTERM for 30 s; killing it", file=sys.stderr)
                proc.kill()
                proc.wait()


class Bench:
    """A yard and its warm workers on one database."""

    def __init__(self, url: str, workers: int = 2) -> None:
        from batchyard import Yard
        from noop_app import yard as app

        self.url = url
        self.yard = Yard(url)
        for job_type in app.registry:
            if job_type.name not in self.yard.registry:
                self.yard.registry.add(job_type)
        self.yard.store  # noqa: B018 - create the schema before the workers start
        self.workers = Workers(url, workers)
        self.wait_done(self.yard.submit("noop", items=range(2_000)).id, time.perf_counter())  # workers polling

    def close(self) -> None:
        self.workers.stop()
        self.yard.close()

    def run(self, n: int, chunk: int) -> float:
        """Seconds from submit to the job finished."""
        start = time.perf_counter()
        job = self.yard.submit(type_for(chunk), items=range(n))
        self.wait_done(job.id, start)
        done = self.yard.get(job.id)
        assert done.succeeded == n, done
        return time.perf_counter() - start

    def first_chunks(self, pending: int, chunk: int, count: int) -> float:
        """Chunks per second over ``count`` chunks of a job stored whole before the workers see it (they are
        frozen with SIGSTOP while it is submitted): planning and wake-up are out of the figure, only claims
        and commits remain. Timed from the 50th chunk done, so that both workers are busy."""
        self._freeze()
        try:
            job = self.yard.submit(type_for(chunk), items=range(pending * chunk))
        finally:
            self.workers.signal(signal.SIGCONT)
        start = self._when_processed(job.id, 50 * chunk)
        elapsed = self._when_processed(job.id, (50 + count) * chunk) - start
        self._cancel(job.id)
        self.wait_done(job.id, start)
        return count / elapsed

    def _cancel(self, job_id: int, attempts: int = 5) -> None:
        """Cancel, retrying a PostgreSQL deadlock with the workers' commits (the engine reports it as a
        StorageError; the benchmark only needs the job gone)."""
        from batchyard.errors import StorageError

        for attempt in range(attempts):
            try:
                self.yard.cancel(job_id)
                return
            except StorageError as exc:
                print(f"cancel of job {job_id} failed ({exc}); retrying", file=sys.stderr)
                if attempt == attempts - 1:
                    raise
                time.sleep(0.1)

    def _freeze(self) -> None:
        """Stop the workers where none holds SQLite's write lock (the submit would wait for it)."""
        while True:
            self.workers.signal(signal.SIGSTOP)
            if self._write_lock_free():
                return
            self.workers.signal(signal.SIGCONT)
            time.sleep(0.01)

    def _write_lock_free(self) -> bool:
        if not self.url.startswith("sqlite:///"):
            return True
        conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()

    def _when_processed(self, job_id: int, items: int) -> float:
        """Poll the counter rows directly: ``yard.get`` costs more as the job grows and would share the CPU."""
        start = time.perf_counter()
        with _raw_connection(self.url) as conn:
            while _processed(conn, job_id) < items:
                self._check(job_id, start)
                time.sleep(0.002)
        return time.perf_counter()

    def wait_done(self, job_id: int, start: float) -> None:
        while not self.yard.store.job_status(job_id).is_finished:
            self._check(job_id, start)
            time.sleep(0.002)

    def _check(self, job_id: int, start: float, deadline: float = 900.0) -> None:
        if time.perf_counter() - start > deadline:
            raise RuntimeError(f"job did not finish: {self.yard.get(job_id)}\n{self.workers.tail_logs()}")


@contextmanager
def _raw_connection(url: str) -> Iterator[Any]:
    if url.startswith("sqlite:///"):
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    else:
        import psycopg

        conn = psycopg.connect(url, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def _processed(conn: Any, job_id: int) -> int:
    row = conn.execute(f"SELECT sum(processed) FROM by_job_counters WHERE job_id = {int(job_id)}").fetchone()
    return int(row[0] or 0)


@contextmanager
def bench(url: str) -> Iterator[Bench]:
    b = Bench(url)
    try:
        yield b
    finally:
        b.close()


@contextmanager
def scratch_postgres(url: str, name: str) -> Iterator[str]:
    """A scratch schema on the given server so that every run starts from empty tables."""
    import psycopg

    schema = f"bench_{name}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row: Any = conn.execute("SELECT current_setting('server_version')").fetchone()
    return str(row[0])


def submitter_peak_mib(url: str, n: int) -> float:
    code = (
        f"import resource,sys; sys.path.insert(0, {str(HERE)!r}); from noop_app import yard; "
        f"yard.settings.database_url = {url!r}; yard.submit('noop', items=range({n})); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 1024
