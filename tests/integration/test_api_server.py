"""The service as a newcomer meets it: a user created on the command line, `batchyard serve` with real worker
processes, and a job submitted, watched and read over HTTP with the printed token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.acceptance.helpers import REPO, TEST_APP, batchyard_process, free_port, stop_group, subprocess_env, wait_for

BATCHYARD = [sys.executable, "-m", "batchyard"]


def _users_create(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [*BATCHYARD, "users", "create", *args, "--app", TEST_APP]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)


def _create_user(env: dict[str, str], *args: str) -> str:
    done = _users_create(env, *args)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("by_"), done.stdout
    return token


def test_a_user_created_on_the_command_line_submits_and_watches_a_job_over_http(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/service.db"
    port = free_port()
    env = subprocess_env(BATCHYARD_DATABASE_URL=url, BATCHYARD_TEST_ITEM_SECONDS="0.001")
    alice = _create_user(env, "alice", "--role", "operator", "--quota", "100")
    viewer = _create_user(env, "vera", "--role", "viewer")
    again = _users_create(env, "alice")
    assert again.returncode == 1
    assert "already exists" in again.stderr

    serve = batchyard_process(
        ["serve", "--app", TEST_APP, "--port", str(port), "--workers", "2"], env, tmp_path / "serve.log"
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            wait_for(lambda: _answers(http), timeout=60, what="the API to answer")
            as_alice = {"Authorization": f"Bearer {alice}"}
            submitted = http.post("/jobs", json={"type": "slow_square", "items": list(range(50))}, headers=as_alice)
            assert submitted.status_code == 202, submitted.text
            job_id = submitted.json()["id"]
            done = wait_for(
                lambda: (j := http.get(f"/jobs/{job_id}", headers=as_alice).json())["status"] == "succeeded" and j,
                timeout=60,
                what="the job to finish",
            )
            assert (done["succeeded"], done["failed"], done["progress"]) == (50, 0, 100.0)
            items = http.get(f"/jobs/{job_id}/items?limit=3", headers=as_alice).json()["items"]
            assert [i["output"] for i in items] == [0, 1, 4]

            as_viewer = {"Authorization": f"Bearer {viewer}"}
            assert http.get(f"/jobs/{job_id}", headers=as_viewer).status_code == 403
            refused = http.post("/jobs", json={"type": "slow_square", "items": [1]}, headers=as_viewer)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "read_only_role"
    finally:
        stop_group(serve)


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/health").status_code == 200
    except httpx.TransportError:
        return False
