"""Signing in, tokens, users and the error envelope, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from batchyard.core.users import Role
from batchyard.service.auth import FAILURES_ALLOWED, AuthService, digest
from batchyard.store.sql.tables import tokens, users
from tests.integration.api_helpers import PASSWORD, Service, service

API = "/api/v1"


@pytest.fixture
def svc(database_url: str) -> Iterator[Service]:
    with service(database_url) as s:
        s.add_user("root", Role.ADMIN)
        s.add_user("alice", Role.OPERATOR)
        yield s


def test_sign_in_returns_an_expiring_token_that_identifies_the_user(svc: Service) -> None:
    response = svc.client.post(f"{API}/auth/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11) < expires - datetime.now(UTC) <= timedelta(hours=12)
    me = svc.client.get(f"{API}/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["name"] == "alice"
    assert me.json()["role"] == "operator"


def test_passwords_and_tokens_are_never_stored_in_clear(svc: Service) -> None:
    with svc.yard.store.db.read() as conn:  # type: ignore[attr-defined]
        hashes = conn.execute(select(users.c.password_hash)).scalars().all()
        digests = conn.execute(select(tokens.c.digest)).scalars().all()
    assert all(h.startswith("$argon2") and PASSWORD not in h for h in hashes)
    assert svc.tokens["alice"] not in digests
    assert digest(svc.tokens["alice"]) in digests


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong password"), ("nobody", PASSWORD)])
def test_a_wrong_name_or_password_is_401_and_says_which_in_the_callers_language(
    svc: Service, username: str, password: str
) -> None:
    response = svc.client.post(
        f"{API}/auth/login", json={"username": username, "password": password}, headers={"Accept-Language": "zh-CN"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "sign_in_failed", "message": "用户名或密码错误。", "details": {}}


def test_failed_sign_ins_are_limited_per_user_name_with_retry_after(svc: Service) -> None:
    for _ in range(FAILURES_ALLOWED):
        assert svc.client.post(f"{API}/auth/login", json={"username": "alice", "password": "nope"}).status_code == 401
    limited = svc.client.post(f"{API}/auth/login", json={"username": "alice", "password": PASSWORD})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "too_many_sign_ins"
    assert 0 < int(limited.headers["Retry-After"]) <= 15 * 60
    other = svc.client.post(f"{API}/auth/login", json={"username": "root", "password": PASSWORD})
    assert other.status_code == 429, "the same address is limited too"


def test_sign_ins_from_other_addresses_are_limited_per_user_name_alone(svc: Service) -> None:
    auth = AuthService(svc.yard.store)
    for n in range(FAILURES_ALLOWED):
        with pytest.raises(Exception, match="wrong"):
            auth.sign_in("alice", "nope", f"10.0.0.{n}")
    with pytest.raises(Exception, match="Too many failed sign-ins"):
        auth.sign_in("alice", PASSWORD, "10.0.1.1")
    assert auth.sign_in("root", PASSWORD, "10.0.1.2").secret


def test_an_expired_or_revoked_token_is_refused(svc: Service) -> None:
    alice = svc.yard.store.get_user("alice")
    expired = svc.auth.issue_token(alice, "old", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    response = svc.client.get(f"{API}/me", headers={"Authorization": f"Bearer {expired.secret}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_signed_in"

    created = svc.client.post(f"{API}/me/tokens", json={"name": "ci"}, headers=svc.headers("alice"))
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    assert svc.client.get(f"{API}/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listed = svc.client.get(f"{API}/me/tokens", headers=svc.headers("alice")).json()
    assert "token" not in listed[0], "a token's secret is shown once, at creation"
    assert svc.client.delete(f"{API}/me/tokens/{token_id}", headers=svc.headers("alice")).status_code == 204
    assert svc.client.get(f"{API}/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    again = svc.client.delete(f"{API}/me/tokens/{token_id}", headers=svc.headers("alice"))
    assert again.status_code == 404


def test_another_users_token_cannot_be_revoked(svc: Service) -> None:
    alice_tokens = svc.client.get(f"{API}/me/tokens", headers=svc.headers("alice")).json()
    response = svc.client.delete(f"{API}/me/tokens/{alice_tokens[0]['id']}", headers=svc.headers("root"))
    assert response.status_code == 404
    assert svc.client.get(f"{API}/me", headers=svc.headers("alice")).status_code == 200


def test_admins_create_users_and_set_their_quota_and_role(svc: Service) -> None:
    created = svc.client.post(
        f"{API}/users", json={"name": "bob", "role": "viewer", "quota": 7}, headers=svc.headers("root")
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["user"]["name"], body["user"]["role"], body["user"]["quota"]) == ("bob", "viewer", 7)
    bob = {"Authorization": f"Bearer {body['token']['token']}"}
    assert svc.client.get(f"{API}/me", headers=bob).json()["name"] == "bob"

    changed = svc.client.patch(
        f"{API}/users/{body['user']['id']}", json={"role": "operator", "quota": 30}, headers=svc.headers("root")
    )
    assert (changed.json()["role"], changed.json()["quota"]) == ("operator", 30)
    clash = svc.client.post(f"{API}/users", json={"name": "bob"}, headers=svc.headers("root"))
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "user_exists"


@pytest.mark.parametrize("name", ["", "a b", "<script>", "x" * 201, "名字 空格"])
def test_a_hostile_or_malformed_user_name_is_422(svc: Service, name: str) -> None:
    response = svc.client.post(f"{API}/users", json={"name": name}, headers=svc.headers("root"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_params"


def test_errors_are_one_envelope_in_english_by_default(svc: Service) -> None:
    response = svc.client.get(f"{API}/jobs/999999", headers=svc.headers("alice"))
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "job_not_found", "message": "Job 999999 does not exist.", "details": {"job_id": 999999}}
    }
    unknown = svc.client.get(f"{API}/no-such-route", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {"code": "not_found", "message": "没有这个地址。", "details": {}}


def test_every_response_carries_a_request_id_that_its_log_line_names(
    svc: Service, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="batchyard.api"):
        given = svc.client.get(f"{API}/me", headers={**svc.headers("alice"), "X-Request-ID": "support-42"})
        made = svc.client.get(f"{API}/jobs/999999", headers=svc.headers("alice"))
        hostile = svc.client.get(f"{API}/me", headers={**svc.headers("alice"), "X-Request-ID": "x" * 500})
    assert given.headers["X-Request-ID"] == "support-42"
    assert len(made.headers["X-Request-ID"]) == 16
    assert hostile.headers["X-Request-ID"] != "x" * 500
    lines = {getattr(r, "request_id", None): r for r in caplog.records}
    assert lines["support-42"].status == 200
    assert lines[made.headers["X-Request-ID"]].status == 404
