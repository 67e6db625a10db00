"""bulk_update over HTTP, on SQLite and PostgreSQL: params refused with 422 naming the field, a preview that
changes nothing, and `POST /jobs/{id}/rollback` — the owner's or an admin's, once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from batchyard.core.users import Role
from tests.integration.api_helpers import Service, service
from tests.integration.test_bulk_update import RAISE, checksum, seed
from tests.support.shop import declare


@pytest.fixture
def svc(database_url: str) -> Iterator[Service]:
    with service(database_url) as s:
        declare(s.yard)
        seed(s.yard, 300)
        for name, role in (("alice", Role.OPERATOR), ("bob", Role.OPERATOR), ("root", Role.ADMIN)):
            s.add_user(name, role)
        s.add_user("vera", Role.VIEWER)
        yield s


def updated(svc: Service, caller: str, **params: Any) -> int:
    body = {"type": "bulk_update", "params": {"resource": "products", **params}}
    answer = svc.client.post("/api/v1/jobs", json=body, headers=svc.headers(caller))
    assert answer.status_code == 202, answer.text
    job_id: int = answer.json()["id"]
    assert svc.yard.run_until_done(job_id, timeout=120).status == "succeeded"
    return job_id


def rolled_back(svc: Service, caller: str, job_id: int, **body: Any) -> Any:
    return svc.client.post(f"/api/v1/jobs/{job_id}/rollback", json=body or None, headers=svc.headers(caller))


def test_an_expression_on_a_key_column_is_422_naming_the_field(svc: Service) -> None:
    body = {"type": "bulk_update", "params": {"resource": "products", "set": {"sku": "concat(sku, 'x')"}}}
    answer = svc.client.post("/api/v1/jobs", json=body, headers=svc.headers("alice", **{"Accept-Language": "zh-CN"}))
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_expression", "sku")
    assert "键列" in error["message"]


def test_the_preview_endpoint_shows_the_change_and_changes_nothing(svc: Service) -> None:
    original = checksum(svc.yard)
    body = {"params": {"resource": "products", "set": RAISE, "filter": [{"field": "stock", "op": "lt", "value": 10}]}}
    answer = svc.client.post("/api/v1/job-types/bulk_update/preview", json=body, headers=svc.headers("alice"))
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["matched"] == 10  # stock is the row number modulo 500: rows 0 to 9
    assert shown["changed"] == 9  # row 0's price is 0.00
    assert checksum(svc.yard) == original


def test_the_owner_rolls_an_update_back_once(svc: Service) -> None:
    original = checksum(svc.yard)
    job_id = updated(svc, "alice", set=RAISE)
    assert rolled_back(svc, "bob", job_id).status_code == 403
    assert rolled_back(svc, "vera", job_id).status_code == 403
    answer = rolled_back(svc, "alice", job_id, force=False)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert (job["type"], job["owner"], job["params"]) == ("bulk_rollback", "alice", {"job_id": job_id, "force": False})
    assert rolled_back(svc, "alice", job_id).json()["error"]["code"] == "conflict"  # one is running
    assert svc.yard.run_until_done(job["id"], timeout=120).status == "succeeded"
    assert checksum(svc.yard) == original
    again = rolled_back(svc, "alice", job_id)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "rollback_refused")


def test_an_admin_rolls_back_another_users_update_in_their_name(svc: Service) -> None:
    job_id = updated(svc, "alice", set={"stock": "stock + 1"})
    answer = rolled_back(svc, "root", job_id, force=True)
    assert answer.status_code == 202, answer.text
    assert answer.json()["owner"] == "alice"


def test_only_a_finished_bulk_update_is_rolled_back(svc: Service) -> None:
    body = {"type": "greet", "items": ["x"]}
    other = svc.client.post("/api/v1/jobs", json=body, headers=svc.headers("alice")).json()["id"]
    svc.yard.run_until_done(other, timeout=60)
    answer = rolled_back(svc, "alice", other)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "rollback_refused")
    assert rolled_back(svc, "alice", 10**9).status_code == 404


def test_a_rollback_submitted_directly_for_another_users_update_restores_nothing(svc: Service) -> None:
    original = checksum(svc.yard)
    job_id = updated(svc, "alice", set=RAISE)
    body = {"type": "bulk_rollback", "params": {"job_id": job_id}}
    answer = svc.client.post("/api/v1/jobs", json=body, headers=svc.headers("bob"))
    assert answer.status_code == 202
    job = svc.yard.run_until_done(answer.json()["id"], timeout=60)
    assert job.status == "failed"
    assert job.succeeded == 0
    assert checksum(svc.yard) != original
