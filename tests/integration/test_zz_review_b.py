"""Review: sign-in limiting."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from batchyard import Yard
from batchyard.api.app import create_app
from batchyard.core.users import Role
from batchyard.service.auth import AuthService
from tests.integration.api_helpers import PASSWORD, service

API = "/api/v1"


def test_retry_after_is_when_the_oldest_counted_failure_leaves_the_window(database_url: str) -> None:
    now = [datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)]
    yard = Yard(database_url, lease_seconds=2.0)
    auth = AuthService(yard.store, clock=lambda: now[0])
    try:
        auth.create_user("alice", role=Role.OPERATOR, quota=0, password=PASSWORD)
        with TestClient(create_app(yard.store, yard.registry, auth_service=auth)) as client:
            for _ in range(5):
                r = client.post(f"{API}/auth/login", json={"username": "alice", "password": "wrong-one"})
                assert r.status_code == 401
            now[0] += timedelta(minutes=14)  # the five failures leave the 15-minute window in 60 s
            r = client.post(f"{API}/auth/login", json={"username": "alice", "password": PASSWORD})
            assert r.status_code == 429
            retry_after = int(r.headers["Retry-After"])
            now[0] += timedelta(seconds=61)
            assert client.post(f"{API}/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
            assert retry_after <= 61, f"told to wait {retry_after} s; sign-in works again after 61 s"
    finally:
        yard.close()


def test_parallel_wrong_passwords_cannot_exceed_the_failure_limit(database_url: str) -> None:
    with service(database_url) as s:
        s.add_user("alice", Role.OPERATOR)
        results: list[int] = []
        start = threading.Barrier(20)

        def guess(i: int) -> None:
            start.wait()
            body = {"username": "alice", "password": f"guess-{i}"}
            results.append(s.client.post(f"{API}/auth/login", json=body).status_code)

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        counted = Counter(results)
        assert counted[401] <= 5, f"{counted[401]} passwords were checked; the limit is 5 per 15 minutes: {counted}"
