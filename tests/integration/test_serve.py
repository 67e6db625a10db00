"""``batchyard serve --app``: its workers run the app's job types, and SIGTERM stops the whole process tree."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from batchyard import Yard
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


def _healthy(serve: subprocess.Popen[bytes], port: int) -> bool:
    assert serve.poll() is None, f"serve exited with {serve.returncode}"
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _chunks_timed(port: int, job_type: str) -> int:
    """The chunk duration histogram's count for ``job_type`` in ``GET /metrics``."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    prefix = f'batchyard_chunk_duration_seconds_count{{type="{job_type}"}} '
    counts = [float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix)]
    assert len(counts) == 1, text
    return int(counts[0])


def test_serve_with_app_runs_a_submitted_job_and_sigterm_stops_its_tree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/serve.db"
    port = free_port()
    env = subprocess_env(
        BATCHYARD_DATABASE_URL=url, BATCHYARD_TEST_ITEM_SECONDS="0.001", BATCHYARD_DATA_DIR=str(tmp_path / "data")
    )
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "batchyard", "serve", "--app", TEST_APP, "--port", str(port), "--workers", "2"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yard = use_test_app(Yard(url), "slow_square")
    try:
        wait_for(lambda: _healthy(serve, port), timeout=60, what="the API to answer")
        workers = wait_for(lambda: len(found := children_of(serve.pid)) == 2 and found, timeout=30, what="2 workers")

        job = yard.submit("slow_square", items=range(200))
        done = wait_until_finished(yard, job.id, None, timeout=60)
        assert (done.status, done.succeeded, done.failed) == ("succeeded", 200, 0)
        assert [r.output for r in yard.items(job.id)] == [i * i for i in range(200)]
        chunks = len({r.index // yard.registry.get("slow_square").policies.chunk_size for r in yard.items(job.id)})
        assert _chunks_timed(port, "slow_square") == chunks, "each chunk the workers committed is in the histogram"

        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=20) == 0, (tmp_path / "serve.log").read_text(errors="replace")[-2000:]
        assert not [pid for pid in workers if pid_alive(pid)], "a worker outlived serve"
        assert process_group(serve.pid) == set(), "serve left processes behind"
    finally:
        yard.close()
        stop_group(serve)
