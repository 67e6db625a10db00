"""Notices end to end through `batchyard serve` with real worker processes, on SQLite and PostgreSQL: a user
registers a webhook and an e-mail address over HTTP, submits a job, and a worker's finish reaches the test's
receiver, signed with the secret shown at creation, and its SMTP server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from batchyard import Yard
from batchyard.core.users import Role
from batchyard.service.auth import AuthService
from tests.acceptance.helpers import TEST_APP, batchyard_process, free_port, stop_group, subprocess_env, wait_for
from tests.support.receivers import receiving, smtp_server, verify


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def _recorded(log: dict[str, list[dict[str, object]]]) -> bool:
    return any(delivery["log"] for delivery in log["deliveries"])


def test_a_job_finished_by_a_serve_worker_is_posted_to_the_webhook_and_emailed(
    database_url: str, tmp_path: Path
) -> None:
    yard = Yard(database_url)
    try:
        _, issued = AuthService(yard.store).create_user("alice", role=Role.OPERATOR, quota=100)
    finally:
        yard.close()
    as_alice = {"Authorization": f"Bearer {issued.secret}"}
    port = free_port()
    with receiving() as receiver, smtp_server() as (mailbox, smtp_port):
        env = subprocess_env(
            BATCHYARD_DATABASE_URL=database_url,
            BATCHYARD_DATA_DIR=str(tmp_path / "data"),
            BATCHYARD_WEBHOOK_ALLOW_PRIVATE="true",
            BATCHYARD_DELIVERY_POLL_SECONDS="0.1",
            BATCHYARD_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
            BATCHYARD_SMTP_FROM="batchyard@example.com",
            BATCHYARD_TEST_ITEM_SECONDS="0.001",
        )
        serve = batchyard_process(
            ["serve", "--app", TEST_APP, "--port", str(port), "--workers", "1"], env, tmp_path / "serve.log"
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=10) as http:
                wait_for(lambda: _answers(http), timeout=60, what="the API to answer")
                hook = http.post("/me/webhooks", json={"url": receiver.url}, headers=as_alice)
                assert hook.status_code == 201, hook.text
                email = http.patch("/me", json={"email": "alice@example.com"}, headers=as_alice)
                assert email.status_code == 200, email.text
                job = http.post("/jobs", json={"type": "slow_square", "items": list(range(40))}, headers=as_alice)
                assert job.status_code == 202, job.text

                [hit] = receiver.wait_for(1, timeout=60)
                [(recipients, message)] = mailbox.wait_for(1, timeout=60)
                # The receiver answers before the sender records the attempt: wait for the record.
                deliveries = f"/me/webhooks/{hook.json()['id']}/deliveries"
                wait_for(
                    lambda: _recorded(http.get(deliveries, headers=as_alice).json()),
                    timeout=30,
                    what="the delivery to be recorded",
                )
                log = http.get(deliveries, headers=as_alice).json()
        finally:
            stop_group(serve)
    assert verify(hook.json()["secret"], hit.body, hit.headers["x-batchyard-signature"])
    body = json.loads(hit.body)
    assert body["data"]["job_id"] == job.json()["id"]
    assert (body["data"]["status"], body["data"]["counts"]["succeeded"]) == ("succeeded", 40)
    assert recipients == ["alice@example.com"]
    assert f"Job {job.json()['id']} ended: succeeded" in message["Subject"]
    [delivery] = log["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["log"][0]["status_code"]) == ("delivered", 1, 200)
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o077 == 0
