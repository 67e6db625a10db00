"""Jobs over HTTP, on SQLite and PostgreSQL: submit, list and page, read items, steer; bad input is a clear
error that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from batchyard.core.users import Role
from tests.integration.api_helpers import Service, service

API = "/api/v1"


@pytest.fixture
def svc(database_url: str) -> Iterator[Service]:
    with service(database_url) as s:
        s.add_user("root", Role.ADMIN)
        s.add_user("alice", Role.OPERATOR)
        s.add_user("bob", Role.OPERATOR)
        yield s


def _submit(svc: Service, caller: str, items: list[object], **body: object) -> dict[str, object]:
    response = svc.client.post(
        f"{API}/jobs", json={"type": "greet", "items": items, **body}, headers=svc.headers(caller)
    )
    assert response.status_code == 202, response.text
    result: dict[str, object] = response.json()
    return result


def test_a_submitted_job_runs_and_its_items_are_read_page_by_page(svc: Service) -> None:
    job = _submit(svc, "alice", ["ann", "ben", "cat", "dan", "eve"], params={"greeting": "hi"})
    assert (job["owner"], job["status"], job["total"]) == ("alice", "pending", 5)
    svc.yard.run_until_done(int(job["id"]), timeout=30)

    done = svc.client.get(f"{API}/jobs/{job['id']}", headers=svc.headers("alice")).json()
    assert (done["status"], done["succeeded"], done["progress"]) == ("succeeded", 5, 100.0)
    first = svc.client.get(f"{API}/jobs/{job['id']}/items?limit=2", headers=svc.headers("alice")).json()
    assert [i["output"] for i in first["items"]] == ["hi, ann", "hi, ben"]
    rest = svc.client.get(
        f"{API}/jobs/{job['id']}/items?limit=10&cursor={first['next_cursor']}", headers=svc.headers("alice")
    ).json()
    assert [i["index"] for i in rest["items"]] == [2, 3, 4]
    assert rest["next_cursor"] is None


def test_jobs_are_listed_newest_first_by_cursor_and_by_status_group(svc: Service) -> None:
    ids = [int(_submit(svc, "alice", [f"n{i}"])["id"]) for i in range(5)]
    _submit(svc, "bob", ["other"])
    svc.client.post(f"{API}/jobs/{ids[0]}/cancel", headers=svc.headers("alice"))

    seen, cursor = [], None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = svc.client.get(f"{API}/jobs{query}", headers=svc.headers("alice")).json()
        seen += [j["id"] for j in page["jobs"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == ids[::-1], "alice sees her own jobs only, newest first, each once"

    active = svc.client.get(f"{API}/jobs?group=active", headers=svc.headers("alice")).json()
    assert [j["id"] for j in active["jobs"]] == ids[:0:-1]
    finished = svc.client.get(f"{API}/jobs?group=finished", headers=svc.headers("alice")).json()
    assert [j["id"] for j in finished["jobs"]] == [ids[0]]
    everyone = svc.client.get(f"{API}/jobs?limit=200", headers=svc.headers("root")).json()
    assert {j["owner"] for j in everyone["jobs"]} == {"alice", "bob"}
    bobs = svc.client.get(f"{API}/jobs?owner=bob", headers=svc.headers("root")).json()
    assert [j["owner"] for j in bobs["jobs"]] == ["bob"]
    ignored = svc.client.get(f"{API}/jobs?owner=bob", headers=svc.headers("alice")).json()
    assert {j["owner"] for j in ignored["jobs"]} == {"alice"}, "owner= is an admin's filter"


def test_lifecycle_actions_return_the_job_and_refuse_illegal_moves(svc: Service) -> None:
    job_id = _submit(svc, "alice", ["a", "b", "c"])["id"]
    paused = svc.client.post(f"{API}/jobs/{job_id}/pause", headers=svc.headers("alice"))
    assert paused.json()["status"] == "paused"
    assert svc.client.post(f"{API}/jobs/{job_id}/resume", headers=svc.headers("alice")).json()["status"] == "pending"
    cancelled = svc.client.delete(f"{API}/jobs/{job_id}", headers=svc.headers("alice"))
    assert cancelled.json()["status"] == "cancelled"
    again = svc.client.post(f"{API}/jobs/{job_id}/pause", headers=svc.headers("alice"))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "illegal_transition"


def test_retry_failed_runs_the_failed_items_as_a_new_round(svc: Service) -> None:
    response = svc.client.post(f"{API}/jobs", json={"type": "fails", "items": [1, 2]}, headers=svc.headers("alice"))
    job_id = response.json()["id"]
    svc.yard.run_until_done(job_id, timeout=30)
    assert svc.client.get(f"{API}/jobs/{job_id}", headers=svc.headers("alice")).json()["status"] == "failed"
    retried = svc.client.post(f"{API}/jobs/{job_id}/retry-failed", headers=svc.headers("alice")).json()
    assert (retried["round"], retried["status"]) == (2, "running")


def test_a_repeated_idempotency_key_returns_the_first_job(svc: Service) -> None:
    key = {"Idempotency-Key": "order-42"}
    first = svc.client.post(f"{API}/jobs", json={"type": "greet", "items": ["a"]}, headers=svc.headers("alice", **key))
    second = svc.client.post(f"{API}/jobs", json={"type": "greet", "items": ["a"]}, headers=svc.headers("alice", **key))
    assert first.json()["id"] == second.json()["id"]
    bobs = svc.client.post(f"{API}/jobs", json={"type": "greet", "items": ["a"]}, headers=svc.headers("bob", **key))
    assert bobs.json()["id"] != first.json()["id"], "keys are per owner"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "greet", "items": ["x"] * 51}, "too_many_items"),
        ({"type": "greet", "items": ["x"], "params": {"greeting": "x" * 21}}, "invalid_params"),
        ({"type": "greet", "items": ["x"], "params": {"nonsense": 1, "greeting": 5}}, "invalid_params"),
        ({"type": "no_such_type", "items": ["x"]}, "unknown_job_type"),
        ({"type": "greet"}, "no_items"),
        ({"type": "greet", "items": "not a list"}, "invalid_params"),
        ({"items": ["x"]}, "invalid_params"),
    ],
)
def test_bad_submissions_are_422_with_a_clear_code_and_create_nothing(
    svc: Service, body: dict[str, object], code: str
) -> None:
    response = svc.client.post(f"{API}/jobs", json=body, headers=svc.headers("alice", **{"Accept-Language": "en"}))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert svc.client.get(f"{API}/jobs", headers=svc.headers("alice")).json()["jobs"] == []


def test_too_many_items_reads_in_chinese_when_asked(svc: Service) -> None:
    response = svc.client.post(
        f"{API}/jobs",
        json={"type": "greet", "items": ["x"] * 51},
        headers=svc.headers("alice", **{"Accept-Language": "zh-CN"}),
    )
    assert response.json()["error"]["message"] == "'greet' 类型的任务最多 50 项，实际有 51 项。"


def test_job_types_describe_their_params_and_limits(svc: Service) -> None:
    types = {t["name"]: t for t in svc.client.get(f"{API}/job-types", headers=svc.headers("alice")).json()}
    greet = types["greet"]
    assert greet["max_items"] == 50
    assert greet["params_schema"]["properties"]["greeting"]["maxLength"] == 20
    assert types["fails"]["params_schema"] is None


def test_failures_are_grouped_by_cause(svc: Service) -> None:
    items = [1, -2, 3, -4, -5, 6, -7]
    response = svc.client.post(f"{API}/jobs", json={"type": "paid", "items": items}, headers=svc.headers("alice"))
    job_id = response.json()["id"]
    svc.yard.run_until_done(job_id, timeout=30)
    body = svc.client.get(f"{API}/jobs/{job_id}/failures", headers=svc.headers("alice")).json()
    assert body["failed"] == 4
    [cause] = body["causes"]
    assert cause["cause"] == "ValueError: item <n> is negative"
    assert (cause["count"], cause["indices"]) == (4, [1, 3, 4, 6])
    assert cause["sample"]["index"] == 1
    assert "-2" in cause["sample"]["error"]
    assert cause["first_seen"] <= cause["last_seen"]
    retried = svc.client.post(f"{API}/jobs/{job_id}/retry-failed", headers=svc.headers("alice"))
    assert retried.status_code == 200
    svc.yard.run_until_done(job_id, timeout=30)
    again = svc.client.get(f"{API}/jobs/{job_id}/failures", headers=svc.headers("alice")).json()
    assert again["failed"] == 4, "failed again in round 2: each item counted once, with its latest reason"


def test_bulk_actions_act_on_ids_or_a_filter_and_report_each_job(svc: Service) -> None:
    mine = [_submit(svc, "alice", [f"n{i}"])["id"] for i in range(3)]
    bobs = _submit(svc, "bob", ["b"])["id"]
    svc.client.post(f"{API}/jobs/{mine[0]}/cancel", headers=svc.headers("alice"))

    paused = svc.client.post(
        f"{API}/jobs/actions",
        json={"action": "pause", "ids": [*mine, bobs, 987654321], "reason": "maintenance"},
        headers=svc.headers("alice", **{"Accept-Language": "zh-CN"}),
    ).json()
    by_id = {o["job_id"]: o for o in paused["outcomes"]}
    assert paused["reason"] == "maintenance"
    assert (by_id[mine[1]]["ok"], by_id[mine[1]]["status"]) == (True, "paused")
    assert by_id[mine[0]]["error"]["code"] == "illegal_transition"
    assert by_id[mine[0]]["status"] == "cancelled"
    assert (by_id[bobs]["error"]["code"], by_id[bobs]["status"]) == ("forbidden", None), "nothing of bob's job told"
    assert by_id[987654321]["error"]["code"] == "job_not_found"
    assert svc.client.get(f"{API}/jobs/{bobs}", headers=svc.headers("bob")).json()["status"] == "pending"

    resumed = svc.client.post(
        f"{API}/jobs/actions", json={"action": "resume", "filter": {"status": ["paused"]}}, headers=svc.headers("alice")
    ).json()
    assert resumed["matched"] == 2
    assert all(o["ok"] for o in resumed["outcomes"])

    cancelled = svc.client.post(
        f"{API}/jobs/actions", json={"action": "cancel", "filter": {"group": "active"}}, headers=svc.headers("root")
    ).json()
    assert {o["job_id"] for o in cancelled["outcomes"]} == {mine[1], mine[2], bobs}, "an admin acts on anyone's"


def test_a_bulk_cancel_reports_the_quota_it_gave_back(svc: Service) -> None:
    job = svc.client.post(f"{API}/jobs", json={"type": "paid", "items": [1, 2, 3]}, headers=svc.headers("alice")).json()
    outcome = svc.client.post(
        f"{API}/jobs/actions", json={"action": "cancel", "ids": [job["id"]]}, headers=svc.headers("alice")
    ).json()["outcomes"][0]
    assert outcome["quota_moved"] == {"charged": 0, "refunded": 3}


def test_a_viewer_cannot_act_in_bulk(svc: Service) -> None:
    svc.add_user("vera", Role.VIEWER)
    response = svc.client.post(
        f"{API}/jobs/actions", json={"action": "cancel", "ids": [1]}, headers=svc.headers("vera")
    )
    assert response.status_code == 403


def test_metrics_count_jobs_chunks_and_items_for_prometheus(svc: Service) -> None:
    response = svc.client.post(f"{API}/jobs", json={"type": "paid", "items": [1, -2, 3]}, headers=svc.headers("alice"))
    svc.yard.run_until_done(response.json()["id"], timeout=30)
    _submit(svc, "alice", ["waiting"])
    text = svc.client.get("/metrics").text
    assert 'batchyard_jobs{status="partially_succeeded"} 1.0' in text
    assert 'batchyard_jobs{status="pending"} 1.0' in text
    assert 'batchyard_chunks{status="pending"} 1.0' in text
    assert 'batchyard_items{state="failed"} 1.0' in text
    assert 'batchyard_items{state="succeeded"} 2.0' in text
    assert "batchyard_event_streams 0.0" in text


def test_resources_are_listed_with_their_fields_types_titles_and_keys(database_url: str) -> None:
    from decimal import Decimal

    from pydantic import BaseModel, Field

    class Product(BaseModel):
        sku: str = Field(max_length=32)
        price: Decimal = Field(ge=0, decimal_places=2)
        note: str | None = None

    with service(database_url) as s:
        s.yard.resource("products", Product, key=["sku"], titles={"zh-CN": {"sku": "商品编码"}, "en": {"sku": "SKU"}})
        s.add_user("alice", Role.VIEWER)
        # the app was made before the declaration: it reads the yard's resources as they are now
        s.client.app.state.resources = s.yard.resources  # type: ignore[attr-defined]
        [listed] = s.client.get(f"{API}/resources", headers=s.headers("alice")).json()
    assert (listed["name"], listed["key"]) == ("products", ["sku"])
    sku, price, note = listed["fields"]
    assert (sku["kind"], sku["max_length"], sku["titles"]) == ("text", 32, {"zh-CN": "商品编码", "en": "SKU"})
    assert (price["kind"], price["decimal_places"], price["required"]) == ("decimal", 2, True)
    assert (note["nullable"], note["required"]) == (True, False)
