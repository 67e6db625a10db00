"""The ``batchyard`` command line as an operator runs it: real processes, signals, HTTP and databases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, inspect, text

from batchyard import Yard
from batchyard.store.sql.database import normalize_url
from batchyard.store.sql.tables import metadata
from tests.acceptance.helpers import (
    REPO,
    TEST_APP,
    children_of,
    free_port,
    pid_alive,
    process_group,
    stop_group,
    subprocess_env,
    use_test_app,
    wait_for,
    wait_until_finished,
)

BATCHYARD = [sys.executable, "-m", "batchyard"]

# The Python example of DESIGN.md ("Public surfaces"), verbatim.
DESIGN_EXAMPLE = """\
from batchyard import Yard, Context

yard = Yard()                      # BATCHYARD_DATABASE_URL, else SQLite under ./.batchyard/ (schema created on first use)

@yard.job("square", chunk_size=500, on_error="retry", max_attempts=3)
def square(item: int, ctx: Context) -> int:
    return item * item

job = yard.submit("square", items=range(100_000), owner="alice")
yard.run_until_done(job.id)        # or run `batchyard worker --app mymodule:yard`
"""  # noqa: E501

SUMMARY = """
import json

done = yard.get(job.id)
print(json.dumps({"job": job.id, "status": done.status, "succeeded": done.succeeded, "total": done.total}))
"""


def _run(
    args: list[str], *, env: dict[str, str], cwd: Path = REPO, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _tables(url: str) -> set[str]:
    engine = create_engine(normalize_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_db_upgrade_creates_every_table_and_is_idempotent(database_url: str):
    env = subprocess_env(BATCHYARD_DATABASE_URL=database_url)
    first = _run([*BATCHYARD, "db", "upgrade"], env=env)
    assert first.returncode == 0, first.stderr
    assert "up to date" in first.stdout

    assert _tables(database_url) == {*metadata.tables, "batchyard_alembic_version"}

    again = _run([*BATCHYARD, "db", "upgrade"], env=env)
    assert again.returncode == 0, again.stderr
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM batchyard_alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert len(versions) == 1


def _health(port: int) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
    except httpx.TransportError:
        return None


def _alive(proc: subprocess.Popen[bytes]) -> bool:
    """True while ``proc`` runs; fails the test at once if it died (its log is in the test's tmp dir)."""
    assert proc.poll() is None, f"the process exited with {proc.returncode}"
    return True


def _two_children(parent: subprocess.Popen[bytes], *, without: int | None = None) -> set[int] | None:
    """The parent's child processes once there are exactly two, ``without`` not among them."""
    _alive(parent)
    found = children_of(parent.pid)
    return found if len(found) == 2 and without not in found else None


def test_serve_answers_health_restarts_a_killed_worker_and_stops_its_tree_on_sigint(tmp_path: Path):
    port = free_port()
    env = subprocess_env(BATCHYARD_DATABASE_URL=f"sqlite:///{tmp_path}/serve.db")
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen(
            [*BATCHYARD, "serve", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    seen: set[int] = set()
    try:
        response = wait_for(lambda: _alive(serve) and _health(port), timeout=60, what="the API to answer", interval=0.2)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["database"] == "ok"
        assert body["version"]

        first = wait_for(lambda: _two_children(serve), timeout=30, what="2 workers")
        seen |= first
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        restarted = wait_for(
            lambda: _two_children(serve, without=victim),
            timeout=30,
            what="the supervisor to replace the killed worker",
        )
        seen |= restarted
        assert restarted - first, "no new worker process"
        assert first - {victim} <= restarted, "a healthy worker was replaced too"
        wait_for(lambda: _health(port), timeout=10, what="the API after the restart")

        stopped_at = time.monotonic()
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=20) == 0
        assert time.monotonic() - stopped_at < 10
        assert not any(pid_alive(pid) for pid in seen), "a worker outlived serve"
        assert process_group(serve.pid) == set(), "serve left processes behind"
    finally:
        stop_group(serve)
    assert _health(port) is None


def test_worker_concurrency_runs_a_job_in_child_processes_and_sigterm_stops_them_all(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/workers.db"
    yard = use_test_app(Yard(url), "slow_square")
    try:
        job = yard.submit("slow_square", items=range(800))  # 40 chunks of 20
        env = subprocess_env(BATCHYARD_DATABASE_URL=url, BATCHYARD_TEST_ITEM_SECONDS="0.005")
        with (tmp_path / "worker.log").open("wb") as log:
            parent = subprocess.Popen(
                [*BATCHYARD, "worker", "--concurrency", "2", "--app", TEST_APP],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            children = wait_for(lambda: _two_children(parent), timeout=30, what="2 worker children")
            done = wait_until_finished(yard, job.id, None, timeout=60)
            assert done.status == "succeeded"
            assert (done.processed, done.succeeded, done.failed, done.skipped) == (800, 800, 0, 0)
            outputs = [(r.index, r.status, r.output) for r in yard.items(job.id)]
            assert outputs == [(i, "succeeded", i * i) for i in range(800)]
            with yard.store.db.read() as conn:
                names = conn.execute(text("SELECT DISTINCT worker FROM by_chunks WHERE job_id = :j"), {"j": job.id})
                workers = {int(name.rpartition(":")[2]) for name in names.scalars()}
            assert workers <= children, "chunks were run by a process other than the supervised children"

            parent.send_signal(signal.SIGTERM)
            assert parent.wait(timeout=20) == 0
            assert not [pid for pid in children if pid_alive(pid)], "a worker outlived its supervisor"
            assert process_group(parent.pid) == set(), "the supervisor left processes behind"
        finally:
            stop_group(parent)
    finally:
        yard.close()


def test_design_example_runs_verbatim_and_squares_100_000_items(tmp_path: Path):
    (tmp_path / "example.py").write_text(DESIGN_EXAMPLE + SUMMARY)
    env = subprocess_env()
    env.pop("BATCHYARD_DATABASE_URL", None)
    env.pop("BATCHYARD_DATA_DIR", None)
    result = _run([sys.executable, "example.py"], env=env, cwd=tmp_path, timeout=150)
    assert result.returncode == 0, result.stderr

    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert summary["total"] == summary["succeeded"] == 100_000
    database = tmp_path / ".batchyard" / "batchyard.db"
    assert database.is_file(), "the example's SQLite database is not under ./.batchyard/"

    yard = Yard(f"sqlite:///{database}")
    try:
        records = list(yard.items(summary["job"]))
    finally:
        yard.close()
    assert [r.index for r in records] == list(range(100_000))
    wrong = [(r.index, r.status, r.output) for r in records if r.status != "succeeded" or r.output != r.index**2]
    assert wrong == [], wrong[:5]
