"""Live events over a real server (`batchyard serve`, real worker processes), on SQLite and PostgreSQL: a
client that drops in the middle of a 100-chunk job and reconnects with `Last-Event-ID` receives every event of
the job exactly once, the last one its end; the stream of all events shows a caller only their own jobs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from batchyard import Yard
from batchyard.core.users import Role
from batchyard.service.auth import AuthService
from batchyard.store.sql.tables import events
from tests.acceptance.helpers import TEST_APP, batchyard_process, free_port, stop_group, subprocess_env, wait_for

BATCHYARD = [sys.executable, "-m", "batchyard"]


@contextmanager
def _server(database_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    yard = Yard(database_url)
    auth = AuthService(yard.store)
    tokens = {name: auth.create_user(name, role=Role.OPERATOR, quota=0)[1].secret for name in ("alice", "bob")}
    yard.close()
    port = free_port()
    env = subprocess_env(BATCHYARD_DATABASE_URL=database_url, BATCHYARD_TEST_ITEM_SECONDS="0.002")
    serve = batchyard_process(
        ["serve", "--app", TEST_APP, "--port", str(port), "--workers", "2"], env, tmp_path / "serve.log"
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30) as http:
            wait_for(lambda: _answers(http), timeout=60, what="the API to answer")
            yield http, tokens
    finally:
        stop_group(serve)


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def _read(http: httpx.Client, path: str, token: str, *, last_id: str | None, until: Any) -> list[dict[str, Any]]:
    """Events from the stream, until ``until(events)`` is true; then the connection is dropped."""
    headers = {"Authorization": f"Bearer {token}", **({"Last-Event-ID": last_id} if last_id else {})}
    received: list[dict[str, Any]] = []
    with http.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                field, _, value = line.partition(":")
                current[field] = value.strip()
            elif not line and "data" in current:
                body = json.loads(current["data"])
                assert str(body["id"]) == current["id"]
                assert body["kind"] == current["event"]
                received.append(body)
                current = {}
                if until(received):
                    break
    return received


def test_a_client_that_reconnects_with_last_event_id_gets_every_event_once(database_url: str, tmp_path: Path) -> None:
    with _server(database_url, tmp_path) as (http, tokens):
        alice = {"Authorization": f"Bearer {tokens['alice']}"}
        submitted = http.post("/jobs", json={"type": "slow_square", "items": list(range(2_000))}, headers=alice)
        assert submitted.status_code == 202
        job_id = submitted.json()["id"]
        path = f"/jobs/{job_id}/events"

        first = _read(http, path, tokens["alice"], last_id=None, until=lambda got: len(got) >= 3)
        rest = _read(
            http, path, tokens["alice"], last_id=str(first[-1]["id"]), until=lambda got: got[-1]["kind"] == "finished"
        )
        received = first + rest
        ids = [e["id"] for e in received]
        assert ids == sorted(set(ids)), "each event once, in order"
        assert received[-1]["data"]["status"] == "succeeded"
        assert {e["job_id"] for e in received} == {job_id}

        yard = Yard(database_url)
        try:
            stored = [e.id for e in yard.store.events(job_id, limit=10_000)]
        finally:
            yard.close()
        assert ids == stored, "the stream and the table agree: nothing lost, nothing repeated"
        assert sum(e["data"]["items"] for e in received if e["kind"] == "progress") <= 2_000


def test_the_stream_of_all_events_shows_only_the_callers_jobs(database_url: str, tmp_path: Path) -> None:
    with _server(database_url, tmp_path) as (http, tokens):
        bob = {"Authorization": f"Bearer {tokens['bob']}"}
        alice = {"Authorization": f"Bearer {tokens['alice']}"}
        start = http.post("/jobs", json={"type": "slow_square", "items": [1]}, headers=bob).json()["id"]
        wait_for(lambda: http.get(f"/jobs/{start}", headers=bob).json()["status"] == "succeeded", timeout=60, what="")
        mine = http.post("/jobs", json={"type": "slow_square", "items": [1, 2]}, headers=alice).json()["id"]
        http.post("/jobs", json={"type": "slow_square", "items": [3]}, headers=bob)
        seen = _read(
            http,
            "/events",
            tokens["alice"],
            last_id="1",
            until=lambda got: any(e["kind"] == "finished" and e["job_id"] == mine for e in got),
        )
        assert {e["job_id"] for e in seen} == {mine}, "bob's jobs are not alice's to see"


def test_a_resume_from_before_the_kept_events_gets_reset_then_carries_on(database_url: str, tmp_path: Path) -> None:
    with _server(database_url, tmp_path) as (http, tokens):
        alice = {"Authorization": f"Bearer {tokens['alice']}"}
        done = http.post("/jobs", json={"type": "slow_square", "items": [1, 2]}, headers=alice).json()["id"]
        wait_for(lambda: http.get(f"/jobs/{done}", headers=alice).json()["status"] == "succeeded", timeout=60, what="")
        yard = Yard(database_url)
        try:
            first = yard.store.events(done)[0].id
            with yard.store.db.write() as conn:  # type: ignore[attr-defined]
                conn.execute(update(events).values(created_at=datetime.now(UTC) - timedelta(days=30)))
            yard.store.tidy()
            newest = yard.store.last_event_id()
        finally:
            yard.close()
        reset = _read(http, "/events", tokens["alice"], last_id=str(first), until=lambda got: True)
        assert reset[0]["kind"] == "reset"
        assert reset[0]["id"] >= newest, "the reset names an id to carry on from"
        job_stream = _read(http, f"/jobs/{done}/events", tokens["alice"], last_id=str(first), until=lambda got: True)
        assert job_stream[0]["kind"] == "reset"

        later = http.post("/jobs", json={"type": "slow_square", "items": [3]}, headers=alice).json()["id"]
        seen = _read(
            http,
            "/events",
            tokens["alice"],
            last_id=str(reset[0]["id"]),
            until=lambda got: any(e["kind"] == "finished" and e["job_id"] == later for e in got),
        )
        assert [e["id"] for e in seen] == sorted({e["id"] for e in seen})
        assert all(e["id"] > reset[0]["id"] for e in seen)
        assert {e["job_id"] for e in seen} == {later}
        assert seen[0]["kind"] == "created", "carrying on from the reset's id missed nothing"
