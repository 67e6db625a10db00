"""Real worker processes against a test database, and the checks of what they left behind.

Workers are started exactly as an operator would start them (``python -m batchyard worker --app ...``) and are
steered only from outside: signals, environment variables and the database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

from batchyard import Yard
from batchyard.core.model import Job
from batchyard.store.base import Event
from batchyard.store.sql.tables import chunks

REPO = Path(__file__).resolve().parents[2]
TEST_APP = "tests.support.apps:yard"
WORKER_COMMAND = [sys.executable, "-m", "batchyard", "worker", "--app", TEST_APP]
# Subprocesses cache their bytecode outside the working tree: starting a worker from cold source costs seconds.
PYCACHE = Path(tempfile.gettempdir()) / "batchyard-test-pycache"


def subprocess_env(**variables: str) -> dict[str, str]:
    """The test's environment for a batchyard subprocess, plus ``variables``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(PYCACHE))
    env.update(variables)
    return env


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll until ``condition()`` is truthy and return its value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def api_answers(http: httpx.Client) -> bool:
    """Whether the service at ``http``'s base URL answers its health check yet."""
    try:
        return http.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie awaiting its parent's ``wait`` counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _live_processes() -> Iterator[tuple[int, int, int]]:
    """``(pid, parent pid, process group)`` of every live process, from ``/proc`` (zombies left out)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if fields[0] != "Z":
            yield int(entry.name), int(fields[1]), int(fields[2])


def children_of(pid: int) -> set[int]:
    """Live child processes of ``pid``."""
    return {child for child, parent, _ in _live_processes() if parent == pid}


def process_group(pgid: int) -> set[int]:
    """Live processes of the process group ``pgid``: a supervisor and its workers, orphans included."""
    return {pid for pid, _, group in _live_processes() if group == pgid}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` if it still runs and reap it: safe to call from any ``finally``."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill every process in ``proc``'s process group (start it with ``start_new_session=True``), orphans
    included, and reap ``proc``: a supervisor's workers never outlive a test that failed midway."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    stop_process(proc)


def batchyard_process(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m batchyard ARGS`` from the repository, in a process group of its own, logging to a file."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "batchyard", *args],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def log_records(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines a process wrote to ``path`` (other lines, such as tracebacks, are left out)."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class Workers:
    """Worker subprocesses of one test, each logging to its own file; all killed when the block ends."""

    def __init__(self, database_url: str, log_dir: Path, *, lease: float, item_seconds: float) -> None:
        self.database_url = database_url
        self.log_dir = log_dir
        self.lease = lease
        self.item_seconds = item_seconds
        self.started: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}

    def start(self, *, item_seconds: float | None = None, database_url: str | None = None) -> subprocess.Popen[bytes]:
        env = subprocess_env(
            BATCHYARD_DATABASE_URL=database_url or self.database_url,
            BATCHYARD_LEASE_SECONDS=str(self.lease),
            BATCHYARD_TEST_ITEM_SECONDS=str(self.item_seconds if item_seconds is None else item_seconds),
        )
        log = self.log_dir / f"worker-{len(self.started)}.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                WORKER_COMMAND, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
        self.started.append(proc)
        self.logs[proc.pid] = log
        return proc

    def ready(self, proc: subprocess.Popen[bytes]) -> bool:
        """Whether ``proc`` has started its work loop (it logs so once, when its signal handlers are set)."""
        return any("ready for" in r.get("message", "") for r in log_records(self.logs[proc.pid]))

    @property
    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.started if p.poll() is None]

    def kill9(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a stopped process cannot die until it runs again
            stop_process(proc)

    def describe(self) -> str:
        """Exit codes and the tail of each worker's log, for failure messages."""
        parts = []
        for proc in self.started:
            tail = self.logs[proc.pid].read_text(errors="replace")[-1500:]
            parts.append(f"--- worker pid {proc.pid} exit {proc.poll()}:\n{tail}")
        return "\n".join(parts)


@contextmanager
def workers(database_url: str, log_dir: Path, *, lease: float, item_seconds: float) -> Iterator[Workers]:
    pool = Workers(database_url, log_dir, lease=lease, item_seconds=item_seconds)
    try:
        yield pool
    finally:
        pool.close()


def use_test_app(yard: Yard, *names: str) -> Yard:
    """Teach ``yard`` (the test's own, on the test database) the job types the worker subprocesses run."""
    from tests.support.apps import yard as app_yard

    for name in names:
        yard.registry.add(app_yard.registry.get(name))
    return yard


def create_effects_table(yard: Yard) -> None:
    """The ``ledger`` job type's outside effect, deliberately without a unique key so duplicates show."""
    with yard.store.db.write() as conn:
        conn.execute(text("CREATE TABLE test_effects (job_id BIGINT NOT NULL, item BIGINT NOT NULL, square BIGINT)"))


def effects(yard: Yard, job_id: int) -> list[tuple[int, int]]:
    """Every ``(item, square)`` row the job's commits wrote, duplicates included."""
    with yard.store.db.read() as conn:
        rows = conn.execute(text("SELECT item, square FROM test_effects WHERE job_id = :job"), {"job": job_id}).all()
    return [(int(item), int(square)) for item, square in rows]


def running_chunks(yard: Yard, job_id: int) -> list[tuple[int, str]]:
    """``(seq, worker name)`` of the job's chunks that are claimed right now."""
    c = chunks.c
    with yard.store.db.read() as conn:
        rows = conn.execute(select(c.seq, c.worker).where(c.job_id == job_id, c.status == "running")).all()
    return [(int(seq), str(worker)) for seq, worker in rows]


def worker_pid(worker_name: str) -> int:
    """Workers are named ``host:pid``."""
    return int(worker_name.rpartition(":")[2])


def all_events(yard: Yard, job_id: int) -> list[Event]:
    found: list[Event] = []
    while batch := yard.store.events(job_id, after=found[-1].id if found else 0, limit=500):
        found.extend(batch)
    return found


def wait_until_finished(yard: Yard, job_id: int, pool: Workers | None, *, timeout: float) -> Job:
    """Wait for the job to finish; fail early, with the workers' logs, if every worker has died."""
    deadline = time.monotonic() + timeout
    while True:
        job = yard.get(job_id)
        if job.status.is_finished:
            return job
        if pool is not None and pool.started and not pool.alive:
            raise AssertionError(f"every worker exited before job {job_id} finished\n{pool.describe()}")
        if time.monotonic() > deadline:
            detail = pool.describe() if pool is not None else ""
            raise AssertionError(f"job {job_id} still {job.status} after {timeout:g}s: {job.counters}\n{detail}")
        time.sleep(0.1)


def assert_ledger_done_exactly_once(yard: Yard, job_id: int, items: range) -> None:
    """The job succeeded; every item has its correct output; each item's effect was written exactly once;
    the job's counters equal the tally of its items' states."""
    job = yard.get(job_id)
    records = list(yard.items(job_id))
    states = Counter(r.status for r in records)
    assert job.status == "succeeded", (job.status, job.error, states)
    assert [r.input for r in records] == list(items)
    wrong = [r for r in records if r.status != "succeeded" or r.output != {"item": r.input, "square": r.input**2}]
    assert wrong == [], wrong[:5]

    written = Counter(item for item, _ in effects(yard, job_id))
    duplicates = {item: n for item, n in written.items() if n > 1}
    missing = set(items) - set(written)
    assert duplicates == {}, f"{len(duplicates)} items written more than once, e.g. {list(duplicates.items())[:5]}"
    assert missing == set(), f"{len(missing)} items never written, e.g. {sorted(missing)[:5]}"
    assert sum(written.values()) == len(items)
    assert all(square == item * item for item, square in effects(yard, job_id))

    assert job.total == len(items)
    assert (job.processed, job.succeeded, job.failed, job.skipped) == (
        states["succeeded"] + states["failed"] + states["skipped"],
        states["succeeded"],
        states["failed"],
        states["skipped"],
    )
    assert job.processed == len(items)
