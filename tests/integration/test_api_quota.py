"""Quota as a ledger, over HTTP on SQLite and PostgreSQL: the seeds' cases. Every test ends by checking the
invariants: a balance is the sum of its ledger rows, and for a finished job charged − refunded equals
unit_cost × succeeded."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from batchyard.core.users import Role
from tests.integration.api_helpers import Service, service

API = "/api/v1"


@pytest.fixture
def svc(database_url: str) -> Iterator[Service]:
    with service(database_url) as s:
        s.add_user("root", Role.ADMIN)
        s.add_user("alice", Role.OPERATOR, quota=25)
        yield s


def _balance(svc: Service, caller: str = "alice") -> int:
    return int(svc.client.get(f"{API}/me", headers=svc.headers(caller)).json()["quota"])


def _ledger(svc: Service, caller: str = "alice") -> list[dict[str, object]]:
    entries: list[dict[str, object]] = svc.client.get(f"{API}/me/ledger?limit=500", headers=svc.headers(caller)).json()[
        "entries"
    ]
    return entries


def _assert_invariants(svc: Service, caller: str = "alice") -> None:
    assert _balance(svc, caller) == sum(int(e["amount"]) for e in _ledger(svc, caller))
    for job in svc.client.get(f"{API}/jobs?limit=200", headers=svc.headers(caller)).json()["jobs"]:
        if job["type"] == "paid" and job["status"] in ("succeeded", "partially_succeeded", "failed", "cancelled"):
            assert job["quota"]["charged"] - job["quota"]["refunded"] == job["succeeded"], job


def _submit(svc: Service, items: list[int], kind: str = "paid", caller: str = "alice") -> tuple[int, dict]:
    response = svc.client.post(f"{API}/jobs", json={"type": kind, "items": items}, headers=svc.headers(caller))
    return response.status_code, response.json()


def test_ten_parallel_submits_of_five_items_against_a_quota_of_25_accept_exactly_five(svc: Service) -> None:
    results: list[tuple[int, dict]] = []
    start = threading.Barrier(10)

    def submit() -> None:
        start.wait()
        results.append(_submit(svc, [1, 2, 3, 4, 5]))

    threads = [threading.Thread(target=submit) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    statuses = Counter(status for status, _ in results)
    assert statuses == Counter({202: 5, 403: 5}), results
    refusals = [body["error"] for status, body in results if status == 403]
    assert {e["code"] for e in refusals} == {"quota_insufficient"}
    assert all(e["details"]["shortfall"] == 5 for e in refusals)
    assert _balance(svc) == 0
    assert len(svc.client.get(f"{API}/jobs", headers=svc.headers("alice")).json()["jobs"]) == 5, "refused: no job"
    _assert_invariants(svc)


def test_a_finished_round_refunds_its_failures_once(svc: Service) -> None:
    status, job = _submit(svc, [1, -2, 3, -4, 5])
    assert status == 202
    assert job["quota"] == {"charged": 5, "refunded": 0}
    assert _balance(svc) == 20
    svc.yard.run_until_done(job["id"], timeout=30)
    done = svc.client.get(f"{API}/jobs/{job['id']}", headers=svc.headers("alice")).json()
    assert (done["status"], done["succeeded"], done["failed"]) == ("partially_succeeded", 3, 2)
    assert done["quota"] == {"charged": 5, "refunded": 2}
    assert _balance(svc) == 22
    svc.yard.store.finish_if_done(job["id"])  # a second finish of the same round refunds nothing more
    assert _balance(svc) == 22
    _assert_invariants(svc)


def test_cancel_refunds_the_items_never_processed(svc: Service) -> None:
    _, job = _submit(svc, list(range(10)))
    assert _balance(svc) == 15
    cancelled = svc.client.post(f"{API}/jobs/{job['id']}/cancel", headers=svc.headers("alice")).json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["quota"] == {"charged": 10, "refunded": 10}
    assert _balance(svc) == 25
    _assert_invariants(svc)


def test_retry_failed_charges_again_and_two_parallel_retries_charge_once(svc: Service) -> None:
    _, job = _submit(svc, [1, -2, -3, 4])
    svc.yard.run_until_done(job["id"], timeout=30)
    assert _balance(svc) == 25 - 4 + 2
    outcomes: list[int] = []
    start = threading.Barrier(2)

    def retry() -> None:
        start.wait()
        outcomes.append(
            svc.client.post(f"{API}/jobs/{job['id']}/retry-failed", headers=svc.headers("alice")).status_code
        )

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == [200, 409]
    assert _balance(svc) == 25 - 4 + 2 - 2
    svc.yard.run_until_done(job["id"], timeout=30)
    done = svc.client.get(f"{API}/jobs/{job['id']}", headers=svc.headers("alice")).json()
    assert done["quota"] == {"charged": 6, "refunded": 4}, "round 2 failed both again: both refunded"
    assert _balance(svc) == 25 - 2
    _assert_invariants(svc)


def test_a_retry_the_balance_cannot_pay_is_refused_and_changes_nothing(svc: Service) -> None:
    _, job = _submit(svc, [-1, -2, -3, -4, -5])
    svc.yard.run_until_done(job["id"], timeout=30)
    svc.client.patch(f"{API}/users/{svc.user_ids['alice']}", json={"quota": 3}, headers=svc.headers("root"))
    refused = svc.client.post(f"{API}/jobs/{job['id']}/retry-failed", headers=svc.headers("alice"))
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == {"cost": 5, "balance": 3, "shortfall": 2}
    after = svc.client.get(f"{API}/jobs/{job['id']}", headers=svc.headers("alice")).json()
    assert (after["status"], after["round"]) == ("failed", 1)
    assert _balance(svc) == 3
    _assert_invariants(svc)


def test_the_sixth_job_in_an_hour_is_429_with_retry_after(svc: Service) -> None:
    for _ in range(5):
        assert _submit(svc, [1], kind="hourly")[0] == 202
    status, body = _submit(svc, [1], kind="hourly")
    assert status == 429
    assert body["error"]["code"] == "rate_limited"
    assert 3500 < body["error"]["details"]["retry_after"] <= 3601
    response = svc.client.post(
        f"{API}/jobs", json={"type": "hourly", "items": [1]}, headers=svc.headers("alice", **{"Accept-Language": "zh"})
    )
    assert int(response.headers["Retry-After"]) == response.json()["error"]["details"]["retry_after"]
    assert "每小时最多提交 5 个" in response.json()["error"]["message"]


def test_active_jobs_per_user_are_capped(svc: Service) -> None:
    status, first = _submit(svc, [1], kind="single")
    assert status == 202
    status, body = _submit(svc, [1], kind="single")
    assert (status, body["error"]["code"]) == (429, "too_many_active_jobs")
    svc.client.post(f"{API}/jobs/{first['id']}/cancel", headers=svc.headers("alice"))
    assert _submit(svc, [1], kind="single")[0] == 202


def test_an_admins_quota_change_is_a_ledger_row(svc: Service) -> None:
    svc.client.patch(f"{API}/users/{svc.user_ids['alice']}", json={"quota": 40}, headers=svc.headers("root"))
    assert _balance(svc) == 40
    kinds = [e["kind"] for e in _ledger(svc)]
    assert kinds == ["set", "grant"]
    _assert_invariants(svc)


def test_a_finished_job_leaves_a_notice_in_its_owners_inbox_only(svc: Service) -> None:
    svc.add_user("bob", Role.OPERATOR)
    _, job = _submit(svc, [1, -2, 3])
    svc.yard.run_until_done(job["id"], timeout=30)
    zh = svc.client.get(f"{API}/notifications", headers=svc.headers("alice", **{"Accept-Language": "zh-CN"})).json()
    [notice] = zh["notifications"]
    assert notice["job_id"] == job["id"]
    assert notice["data"] == {
        "status": "partially_succeeded",
        "type": "paid",
        "succeeded": 2,
        "failed": 1,
        "skipped": 0,
    }
    assert notice["message"].startswith(f"任务 {job['id']}（paid）已结束")
    assert svc.client.get(f"{API}/notifications", headers=svc.headers("bob")).json()["notifications"] == []
    assert svc.client.post(f"{API}/notifications/{notice['id']}/read", headers=svc.headers("bob")).status_code == 404
    assert svc.client.post(f"{API}/notifications/{notice['id']}/read", headers=svc.headers("alice")).status_code == 204
    unread = svc.client.get(f"{API}/notifications?unread=true", headers=svc.headers("alice")).json()
    assert unread["notifications"] == []
