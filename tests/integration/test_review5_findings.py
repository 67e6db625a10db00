"""Defects found reviewing users, sign-in, the jobs API and the quota ledger: each test shows one, on SQLite
and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from batchyard import Yard
from batchyard.api.app import create_app
from batchyard.core.users import Role
from batchyard.service.auth import AuthService
from batchyard.store.sql import reads
from tests.integration.api_helpers import PASSWORD, service

API = "/api/v1"


def _parallel(n, fn):  # type: ignore[no-untyped-def]
    out: list = []
    start = threading.Barrier(n)
    ts = [threading.Thread(target=lambda i=i: (start.wait(), out.append(fn(i)))) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    return out


# 1
@pytest.mark.parametrize("path", ["/jobs/99999999999999999999", "/me/tokens/99999999999999999999"])
def test_huge_path_id_is_not_500(database_url: str, path: str) -> None:
    with service(database_url) as s:
        s.add_user("root", Role.ADMIN)
        method = "delete" if "tokens" in path else "get"
        r = s.client.request(method, API + path, headers=s.headers("root"))
        assert r.status_code in (404, 422), r.text


# 2
@pytest.mark.parametrize("how", ["create", "change"])
def test_quota_beyond_bigint_is_422(database_url: str, how: str) -> None:
    with service(database_url) as s:
        s.add_user("root", Role.ADMIN)
        s.add_user("alice", Role.OPERATOR)
        h = s.headers("root")
        r = (
            s.client.post(f"{API}/users", json={"name": "bob", "quota": 10**19}, headers=h)
            if how == "create"
            else s.client.patch(f"{API}/users/{s.user_ids['alice']}", json={"quota": 10**19}, headers=h)
        )
        assert r.status_code == 422, r.text


# 3
def test_parallel_wrong_passwords_are_limited(database_url: str) -> None:
    with service(database_url) as s:
        s.add_user("alice", Role.OPERATOR)
        codes = _parallel(
            20,
            lambda i: (
                s.client.post(f"{API}/auth/login", json={"username": "alice", "password": f"guess-{i}"}).status_code
            ),
        )
        assert Counter(codes)[401] <= 5, Counter(codes)


# 4
def test_retry_after_matches_the_window(database_url: str) -> None:
    now = [datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)]
    yard = Yard(database_url, lease_seconds=2.0)
    auth = AuthService(yard.store, clock=lambda: now[0])
    try:
        auth.create_user("alice", role=Role.OPERATOR, quota=0, password=PASSWORD)
        with TestClient(create_app(yard.store, yard.registry, auth_service=auth)) as c:
            login = lambda pw: c.post(f"{API}/auth/login", json={"username": "alice", "password": pw})  # noqa: E731
            for _ in range(5):
                assert login("wrong-one").status_code == 401
            now[0] += timedelta(minutes=14)
            refused = login(PASSWORD)
            now[0] += timedelta(seconds=61)
            assert login(PASSWORD).status_code == 200  # the lock-out really ended within 61 s
            assert int(refused.headers["Retry-After"]) <= 61, refused.headers["Retry-After"]
    finally:
        yard.close()


# 5
def test_retry_failed_respects_max_active_jobs(database_url: str) -> None:
    with service(database_url) as s:
        s.add_user("alice", Role.OPERATOR)
        h = s.headers("alice")
        first = s.client.post(f"{API}/jobs", json={"type": "single", "items": [-1]}, headers=h).json()
        s.yard.run_until_done(first["id"], timeout=30)
        assert s.client.post(f"{API}/jobs", json={"type": "single", "items": [1]}, headers=h).status_code == 202
        assert s.client.post(f"{API}/jobs/{first['id']}/retry-failed", headers=h).status_code == 429


# 6
def test_parallel_idempotent_repeats_return_the_first_job(database_url: str) -> None:
    with service(database_url) as s:
        s.add_user("alice", Role.OPERATOR)
        h = s.headers("alice", **{"Idempotency-Key": "once"})
        out = _parallel(4, lambda i: s.client.post(f"{API}/jobs", json={"type": "single", "items": [1]}, headers=h))
        assert [r.status_code for r in out] == [202] * 4, [r.json() for r in out]


# 7
def test_openapi_documents_429_and_the_envelope_for_422(database_url: str) -> None:
    with service(database_url) as s:
        doc = s.client.get("/openapi.json").json()
    wrong = [
        f"{m} {p}"
        for p, ops in doc["paths"].items()
        for m, op in ops.items()
        if "HTTPValidationError" in str(op["responses"].get("422"))
    ]
    assert wrong == []
    assert "429" in doc["paths"]["/api/v1/jobs"]["post"]["responses"]


# 8
def test_accept_language_q_values(database_url: str) -> None:
    with service(database_url) as s:
        r = s.client.get(f"{API}/me", headers={"Accept-Language": "zh-CN;q=0.1, en;q=0.9"})
        assert r.json()["error"]["message"].startswith("Sign in"), r.json()


# 9
def test_an_item_page_does_not_decode_every_chunk_before_the_cursor(database_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with service(database_url) as s:
        s.add_user("alice", Role.OPERATOR)
        h = s.headers("alice")
        job = s.client.post(
            f"{API}/jobs", json={"type": "greet", "items": [str(i) for i in range(50)]}, headers=h
        ).json()
        s.yard.run_until_done(job["id"], timeout=30)
        seen, real = [], reads._chunk_items
        monkeypatch.setattr(reads, "_chunk_items", lambda conn, ch, st: seen.append(1) or real(conn, ch, st))
        r = s.client.get(f"{API}/jobs/{job['id']}/items?cursor=47&limit=2", headers=h)
        assert [i["index"] for i in r.json()["items"]] == [48, 49]
        assert len(seen) <= 2, f"{len(seen)} of 25 chunks decoded"


# 10
def test_a_rejected_password_is_not_echoed_and_401_names_the_scheme(database_url):
    with service(database_url) as s:
        secret = "hunter2-" + "x" * 1000
        r = s.client.post(f"{API}/auth/login", json={"username": "alice", "password": secret})
        assert r.status_code == 422
        assert "hunter2" not in r.text
        assert s.client.get(f"{API}/me").headers["WWW-Authenticate"] == "Bearer"
