"""Webhooks and e-mail over HTTP, on SQLite and PostgreSQL: the routes, who may use them, which URLs and
addresses are refused, and notices reaching a real receiver and a real SMTP server through an app that delivers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchyard import Context, Yard
from batchyard.api.app import create_app
from batchyard.api.channels import build
from batchyard.core.users import Role
from batchyard.errors import UserExists
from batchyard.service.auth import AuthService
from tests.acceptance.helpers import wait_for
from tests.integration.api_helpers import Service
from tests.support.receivers import receiving, smtp_server, verify

API = "/api/v1"
FAST = {
    "webhook_allow_private": True,
    "delivery_backoff_seconds": 0.05,
    "delivery_backoff_cap": 0.1,
    "delivery_poll_seconds": 0.05,
    "delivery_max_attempts": 3,
}
PUBLIC = "https://93.184.215.14/hook"  # a public address written as one: no DNS needed


def _square(item: int, ctx: Context) -> int:
    return item * item


@contextmanager
def app_on(database_url: str, data_dir: Path, *, deliver: bool = False, **settings: Any) -> Iterator[Service]:
    yard = Yard(database_url, data_dir=data_dir, lease_seconds=2.0, **{**FAST, **settings})
    yard.job("square", chunk_size=10)(_square)
    auth = AuthService(yard.store)
    app = create_app(yard.store, yard.registry, auth_service=auth, settings=yard.settings, deliver=deliver)
    try:
        with TestClient(app) as client:
            svc = Service(yard, client, auth)
            for name, role in USERS:
                _sign_up(svc, name, role)
            yield svc
    finally:
        yard.close()


USERS = (("alice", Role.OPERATOR), ("bob", Role.OPERATOR), ("vera", Role.VIEWER), ("root", Role.ADMIN))


def _sign_up(svc: Service, name: str, role: Role) -> None:
    """The user and a token of theirs; an app made again on the same database finds them there."""
    try:
        svc.add_user(name, role, password=None)
    except UserExists:
        user = svc.yard.store.get_user(name)
        svc.tokens[name], svc.user_ids[name] = svc.auth.issue_token(user, "again").secret, user.id


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Service]:
    with app_on(database_url, tmp_path) as s:
        yield s


def _create(svc: Service, caller: str, url: str, **headers: str) -> Any:
    return svc.client.post(f"{API}/me/webhooks", json={"url": url}, headers=svc.headers(caller, **headers))


def _finish_job(svc: Service, caller: str = "alice") -> int:
    submitted = svc.client.post(f"{API}/jobs", json={"type": "square", "items": [1, 2, 3]}, headers=svc.headers(caller))
    assert submitted.status_code == 202, submitted.text
    job_id: int = submitted.json()["id"]
    assert svc.yard.run_until_done(job_id, timeout=30).status == "succeeded"
    return job_id


def test_a_webhook_made_over_http_receives_a_signed_notice_when_a_job_finishes(
    database_url: str, tmp_path: Path
) -> None:
    with app_on(database_url, tmp_path, deliver=True) as svc, receiving() as receiver:
        made = _create(svc, "alice", receiver.url)
        assert made.status_code == 201, made.text
        hook = made.json()
        assert hook["secret"].startswith("whsec_")
        listed = svc.client.get(f"{API}/me/webhooks", headers=svc.headers("alice")).json()
        assert listed == [{k: v for k, v in hook.items() if k != "secret"}], "the secret is shown once only"

        job_id = _finish_job(svc)
        [hit] = receiver.wait_for(1)
        assert verify(hook["secret"], hit.body, hit.headers["x-batchyard-signature"])
        body = json.loads(hit.body)
        assert (body["type"], body["data"]["job_id"], body["data"]["status"]) == ("job.finished", job_id, "succeeded")

        # the receiver has the notice before the dispatcher has recorded its answer: wait for that record
        def recorded() -> dict[str, Any] | None:
            url = f"{API}/me/webhooks/{hook['id']}/deliveries"
            found: dict[str, Any] = svc.client.get(url, headers=svc.headers("alice")).json()
            return found if found["deliveries"][0]["status"] != "pending" else None

        page = wait_for(recorded, timeout=10, what="the delivery's answer to be recorded")
    [delivery] = page["deliveries"]
    assert (delivery["id"], delivery["status"], delivery["attempts"]) == (body["id"], "delivered", 1)
    assert [(a["status_code"], a["error"]) for a in delivery["log"]] == [(200, None)]
    assert page["next_cursor"] is None


def test_a_ping_is_queued_once_at_a_time_and_delivered(svc: Service) -> None:
    with receiving() as receiver:
        hook = _create(svc, "alice", receiver.url).json()
        ping = f"{API}/me/webhooks/{hook['id']}/ping"
        pings = [svc.client.post(ping, headers=svc.headers("alice")) for _ in "ab"]
        assert [p.status_code for p in pings] == [202, 202]
        assert pings[0].json()["id"] == pings[1].json()["id"], "a pending ping is not queued again"
        assert (pings[0].json()["event"], pings[0].json()["status"]) == ("ping", "pending")

        dispatcher = build(svc.yard.store, svc.yard.settings, deliver=True).dispatcher
        assert dispatcher is not None
        assert dispatcher.deliver_one()
        [hit] = receiver.hits
        again = svc.client.post(ping, headers=svc.headers("alice"))
        assert (again.status_code, again.json()["error"]["code"]) == (429, "ping_too_soon"), "one a minute"
    assert json.loads(hit.body)["type"] == "ping"
    assert json.loads(hit.body)["data"] == {"webhook_id": hook["id"]}
    assert hit.headers["x-batchyard-event"] == "ping"
    assert verify(hook["secret"], hit.body, hit.headers["x-batchyard-signature"])


def test_another_users_webhook_cannot_be_listed_deleted_pinged_or_read(svc: Service) -> None:
    hook = _create(svc, "alice", PUBLIC).json()
    for caller in ("bob", "vera", "root"):
        assert svc.client.get(f"{API}/me/webhooks", headers=svc.headers(caller)).json() == []
        for method, path in (("GET", "/deliveries"), ("POST", "/ping"), ("DELETE", "")):
            response = svc.client.request(method, f"{API}/me/webhooks/{hook['id']}{path}", headers=svc.headers(caller))
            assert response.status_code == 404, (caller, method, path)
            assert response.json()["error"]["code"] == "webhook_not_found"
    mine = svc.headers("alice")
    assert svc.client.get(f"{API}/me/webhooks/{hook['id']}/deliveries", headers=mine).status_code == 200
    assert svc.client.delete(f"{API}/me/webhooks/{hook['id']}", headers=mine).status_code == 204
    assert svc.client.delete(f"{API}/me/webhooks/{hook['id']}", headers=mine).status_code == 404
    assert svc.client.get(f"{API}/me/webhooks/{hook['id']}/deliveries", headers=mine).status_code == 404
    assert svc.client.get(f"{API}/me/webhooks", headers=mine).json() == []


def test_viewers_manage_their_own_webhooks(svc: Service) -> None:
    made = _create(svc, "vera", PUBLIC)
    assert made.status_code == 201
    assert svc.client.delete(f"{API}/me/webhooks/{made.json()['id']}", headers=svc.headers("vera")).status_code == 204


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("file:///etc/passwd", "webhook_url_refused"),
        ("javascript:alert(1)", "webhook_url_refused"),
        ("ftp://93.184.215.14/hook", "webhook_url_refused"),
        ("https://user:secret@93.184.215.14/hook", "webhook_url_refused"),
        ("https://:secret@93.184.215.14/hook", "webhook_url_refused"),
        ("https:///hook", "webhook_url_refused"),
        ("https://93.184.215.14:99999/hook", "webhook_url_refused"),
        ("https://93.184.215.14/a b", "webhook_url_refused"),
        ("https://93.184.215.14/\r\nX-Injected: 1", "webhook_url_refused"),
        ("https://bücher.example/hook", "webhook_url_refused"),
        ("https://93.184.215.14/" + "a" * 10_000, "invalid_params"),
        ("", "invalid_params"),
    ],
)
def test_a_hostile_url_is_422(svc: Service, url: str, code: str) -> None:
    response = _create(svc, "alice", url)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert svc.client.get(f"{API}/me/webhooks", headers=svc.headers("alice")).json() == []


PRIVATE = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://100.64.0.1/hook",
]


def test_a_private_address_is_refused_unless_the_server_allows_it(database_url: str, tmp_path: Path) -> None:
    with app_on(database_url, tmp_path, webhook_allow_private=False) as svc:
        for url in PRIVATE:
            refused = _create(svc, "alice", url, **{"Accept-Language": "zh-CN"})
            assert refused.status_code == 422, url
            error = refused.json()["error"]
            assert error["code"] == "webhook_url_refused"
            assert error["message"].startswith("Webhook 地址不被接受："), error
            assert "回环、私有或链路本地地址" in error["message"]
        assert "a loopback, private or link-local address" in _create(svc, "alice", PRIVATE[0]).text
        assert _create(svc, "alice", PUBLIC).status_code == 201
    with app_on(database_url, tmp_path, webhook_allow_private=True) as svc:
        assert [_create(svc, "alice", url).status_code for url in PRIVATE] == [201] * len(PRIVATE)


def test_a_user_has_at_most_ten_webhooks(svc: Service) -> None:
    assert [_create(svc, "alice", f"{PUBLIC}/{n}").status_code for n in range(10)] == [201] * 10
    refused = _create(svc, "alice", PUBLIC)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "too_many_webhooks"
    assert _create(svc, "bob", PUBLIC).status_code == 201, "the limit is per user"


def test_deliveries_are_listed_newest_first_a_page_at_a_time(svc: Service) -> None:
    hook = _create(svc, "alice", PUBLIC).json()
    jobs = [_finish_job(svc) for _ in range(3)]
    url = f"{API}/me/webhooks/{hook['id']}/deliveries"
    first = svc.client.get(f"{url}?limit=2", headers=svc.headers("alice")).json()
    rest = svc.client.get(f"{url}?limit=2&cursor={first['next_cursor']}", headers=svc.headers("alice")).json()
    listed = [d["data"]["job_id"] for d in first["deliveries"] + rest["deliveries"]]
    assert listed == jobs[::-1]
    assert rest["next_cursor"] is None
    assert {d["status"] for d in first["deliveries"]} == {"pending"}, "this app does not deliver"


def test_a_server_without_smtp_takes_no_email_address(svc: Service) -> None:
    refused = svc.client.patch(
        f"{API}/me", json={"email": "alice@example.com"}, headers=svc.headers("alice", **{"Accept-Language": "zh-CN"})
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "email_not_configured"
    assert "SMTP" in refused.json()["error"]["message"]
    cleared = svc.client.patch(f"{API}/me", json={"email": None}, headers=svc.headers("alice"))
    assert (cleared.status_code, cleared.json()["email"]) == (200, None)
    unchanged = svc.client.patch(f"{API}/me", json={}, headers=svc.headers("alice"))
    assert (unchanged.status_code, unchanged.json()["name"]) == (200, "alice")


@pytest.mark.parametrize(
    "address", ["alice@example.com\r\nBcc: eve@example.com", "Alice <alice@example.com>", "a@b.com, c@d.com", "x" * 300]
)
def test_a_malformed_email_address_is_422(svc: Service, address: str) -> None:
    response = svc.client.patch(f"{API}/me", json={"email": address}, headers=svc.headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_params"


def test_a_finished_job_is_emailed_to_the_address_its_owner_set(database_url: str, tmp_path: Path) -> None:
    with smtp_server() as (mailbox, port):
        smtp = {"smtp_url": f"smtp://127.0.0.1:{port}", "smtp_from": "Batchyard <batchyard@example.com>"}
        with app_on(database_url, tmp_path, deliver=True, **smtp) as svc:
            me = svc.client.patch(f"{API}/me", json={"email": "alice@example.com"}, headers=svc.headers("alice"))
            assert (me.status_code, me.json()["email"]) == (200, "alice@example.com")
            assert svc.client.get(f"{API}/me", headers=svc.headers("alice")).json()["email"] == "alice@example.com"
            bob = f"{API}/users/{svc.user_ids['bob']}"
            assert (
                svc.client.patch(bob, json={"email": "bob@example.com"}, headers=svc.headers("alice")).status_code
                == 403
            )
            by_admin = svc.client.patch(bob, json={"email": "bob@example.com"}, headers=svc.headers("root"))
            assert (by_admin.status_code, by_admin.json()["email"]) == (200, "bob@example.com")

            job_id = _finish_job(svc, "alice")
            [(recipients, message)] = mailbox.wait_for(1)
    assert recipients == ["alice@example.com"]
    assert message["From"] == "Batchyard <batchyard@example.com>"
    assert f"Job {job_id} ended: succeeded" in message["Subject"]
