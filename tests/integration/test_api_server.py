"""The service as a newcomer meets it: a user created on the command line, `batchyard serve` with real worker
processes, and a job submitted, watched and read over HTTP with the printed token."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from batchyard import Yard
from batchyard.service.auth import hash_password
from tests.acceptance.helpers import (
    REPO,
    TEST_APP,
    batchyard_process,
    children_of,
    free_port,
    stop_group,
    subprocess_env,
    wait_for,
)

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


def test_the_cli_client_signs_in_lists_watches_and_steers_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/client.db"
    port = free_port()
    env = subprocess_env(BATCHYARD_DATABASE_URL=url, BATCHYARD_TEST_ITEM_SECONDS="0.002", XDG_CONFIG_HOME=str(tmp_path))
    env.pop("BATCHYARD_TOKEN", None)
    _users_create(env, "alice", "--role", "operator")
    # a password for alice, set through the service's own code (the CLI asks for it on a terminal)
    yard = Yard(url)
    user = yard.store.get_user("alice")
    yard.store.set_password_hash(user.id, hash_password("correct horse battery"))
    yard.close()

    serve_args = ["serve", "--app", TEST_APP, "--port", str(port), "--workers", "2"]
    serve = batchyard_process(serve_args, env, tmp_path / "serve.log")
    server = f"http://127.0.0.1:{port}"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*BATCHYARD, *args]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)

    try:
        with httpx.Client(base_url=f"{server}/api/v1", timeout=10) as http:
            wait_for(lambda: _answers(http), timeout=60, what="the API to answer")
        signed = cli("login", "--url", server, "--username", "alice", "--password", "correct horse battery")
        assert signed.returncode == 0, signed.stderr
        saved = tmp_path / "batchyard" / "credentials.json"
        assert oct(saved.stat().st_mode & 0o777) == "0o600"

        wrong = cli("login", "--url", server, "--username", "alice", "--password", "nope")
        assert wrong.returncode == 1
        assert "sign_in_failed" in wrong.stderr

        token = json.loads(saved.read_text())["token"]
        with httpx.Client(base_url=f"{server}/api/v1", timeout=10) as http:
            job = http.post(
                "/jobs",
                json={"type": "slow_square", "items": list(range(300))},
                headers={"Authorization": f"Bearer {token}"},
            ).json()
        watched = cli("jobs", "watch", str(job["id"]), "--json")
        assert watched.returncode == 0, watched.stderr
        kinds = [json.loads(line)["kind"] for line in watched.stdout.splitlines()]
        assert kinds[0] == "created"
        assert kinds[-1] == "finished"

        listed = json.loads(cli("jobs", "list", "--json").stdout)
        assert [j["id"] for j in listed["jobs"]] == [job["id"]]
        shown = cli("jobs", "show", str(job["id"]))
        assert "succeeded" in shown.stdout
        assert "300/300" in shown.stdout
        refused = cli("jobs", "cancel", str(job["id"]))
        assert refused.returncode == 1
        assert "illegal_transition" in refused.stderr
        other = cli("jobs", "show", "999999", "--token", "by_not-a-real-token")
        assert (other.returncode, "not_signed_in" in other.stderr) == (1, True)
    finally:
        stop_group(serve)


def test_serve_demo_prints_its_users_once_and_offers_its_job_types(tmp_path: Path) -> None:
    env = subprocess_env(BATCHYARD_DATABASE_URL=f"sqlite:///{tmp_path}/demo.db")
    port = free_port()
    logs = []
    for run in range(2):
        log = tmp_path / f"demo{run}.log"
        serve = batchyard_process(["serve", "--demo", "--port", str(port), "--workers", "1"], env, log)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=10) as http:
                wait_for(lambda: _answers(http), timeout=60, what="the API to answer")
                text = log.read_text()
                if run == 0:
                    alice = next(line.split("token ")[1].strip() for line in text.splitlines() if "alice" in line)
                    types = http.get("/job-types", headers={"Authorization": f"Bearer {alice}"}).json()
                    assert {t["name"] for t in types} >= {"demo_enhance", "demo_slow"}
                    assert "jobs watch 1" in text
                logs.append(text)
        finally:
            stop_group(serve)
    assert "password" in logs[0]
    assert "exist already" in logs[1]
    assert "by_" not in logs[1], "a second start prints no secrets"


def test_batchyard_api_serves_the_api_alone(tmp_path: Path) -> None:
    env = subprocess_env(BATCHYARD_DATABASE_URL=f"sqlite:///{tmp_path}/api.db")
    port = free_port()
    api = batchyard_process(["api", "--app", TEST_APP, "--port", str(port)], env, tmp_path / "api.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=10) as http:
            wait_for(lambda: _answers(http), timeout=60, what="the API to answer")
            assert http.get("/job-types").status_code == 401
        assert children_of(api.pid) == set(), "the API alone starts no workers"
    finally:
        stop_group(api)
