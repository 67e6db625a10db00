"""Defects the schemathesis run over the OpenAPI document found (test_api_schema.py): each test shows one. They
live in the HTTP layer, which answers the same whatever the database, so they run on SQLite only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from batchyard.core.users import Role
from tests.integration.api_helpers import Service, service

API = "/api/v1"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    with service(f"sqlite:///{tmp_path}/batchyard.db") as s:
        s.add_user("root", Role.ADMIN)
        s.add_user("alice", Role.OPERATOR, quota=10)
        yield s


# 1: FastAPI answers a body it cannot decode with 400 `bad_request`, a status no operation documents, while
# malformed JSON it can decode is 422 `invalid_params`: one mistake, two answers.
@pytest.mark.parametrize(
    "body", [b'{"name": "\xff\xfe"}', b"[" * 100_000 + b"]" * 100_000], ids=["not-utf8", "nested-too-deep"]
)
def test_a_body_that_cannot_be_read_as_json_is_422_invalid_params(svc: Service, body: bytes) -> None:
    r = svc.client.post(f"{API}/me/tokens", content=body, headers=svc.headers("alice", **JSON))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_params"
    assert r.json()["error"]["details"]["errors"][0]["loc"] == ["body"]


# 2: `true` was read as job id 1: a bulk cancel of `[true]` cancelled job 1.
def test_a_boolean_is_not_a_job_id(svc: Service) -> None:
    job = svc.yard.submit("greet", items=["a"], owner="alice")
    r = svc.client.post(f"{API}/jobs/actions", json={"action": "cancel", "ids": [True]}, headers=svc.headers("alice"))
    assert r.status_code == 422, r.text
    assert svc.yard.get(job.id).status == "pending"


# 3: `true`, `false` and "7" were read as quotas 1, 0 and 7: `PATCH {"quota": false}` emptied a balance.
@pytest.mark.parametrize("quota", [True, False, "7"])
def test_a_quota_is_an_integer_not_a_boolean_or_a_string(svc: Service, quota: object) -> None:
    h = svc.headers("root")
    created = svc.client.post(f"{API}/users", json={"name": "bob", "quota": quota}, headers=h)
    changed = svc.client.patch(f"{API}/users/{svc.user_ids['alice']}", json={"quota": quota}, headers=h)
    assert (created.status_code, changed.status_code) == (422, 422), (created.text, changed.text)
    assert svc.yard.store.get_user("alice").quota == 10


def test_a_quota_written_7_0_is_still_an_integer(svc: Service) -> None:
    """JSON Schema's `integer` takes 7.0: the fix for 3 must not refuse what the document allows."""
    r = svc.client.post(f"{API}/users", json={"name": "bob", "quota": 7.0}, headers=svc.headers("root"))
    assert r.status_code == 201, r.text
    assert r.json()["user"]["quota"] == 7


# 4: `GET /metrics` answered text/plain under a document that described no content at all.
def test_the_document_says_metrics_are_text(svc: Service) -> None:
    doc = svc.client.get("/openapi.json").json()
    documented = doc["paths"]["/metrics"]["get"]["responses"]["200"].get("content", {})
    served = svc.client.get("/metrics").headers["content-type"].split(";")[0]
    assert list(documented) == [served]


# 4: Python's JSON parser reads NaN and Infinity, which JSON has not; stored, an item came back as null.
@pytest.mark.parametrize(
    "body",
    [
        '{"type": "greet", "items": [NaN]}',
        '{"type": "greet", "items": [[1, {"a": -Infinity}]]}',
        '{"type": "greet", "items": ["a"], "params": {"greeting": Infinity}}',
    ],
)
def test_nan_and_infinity_are_refused_not_stored_as_null(svc: Service, body: str) -> None:
    r = svc.client.post(f"{API}/jobs", content=body.encode(), headers=svc.headers("alice", **JSON))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_params"
    assert svc.client.get(f"{API}/jobs", headers=svc.headers("alice")).json()["jobs"] == []


# 5: an unknown job type of 100 kB was echoed twice in the 422.
def test_a_job_type_name_is_at_most_200_characters(svc: Service) -> None:
    r = svc.client.post(f"{API}/jobs", json={"type": "x" * 100_000, "items": [1]}, headers=svc.headers("alice"))
    assert r.status_code == 422
    assert len(r.content) < 5_000


# 6: the event streams' 200 was documented as JSON too (FastAPI's default), beside text/event-stream.
def test_the_document_says_event_streams_are_event_streams_only(svc: Service) -> None:
    paths = svc.client.get("/openapi.json").json()["paths"]
    for path in (f"{API}/events", f"{API}/jobs/{{job_id}}/events"):
        assert list(paths[path]["get"]["responses"]["200"]["content"]) == ["text/event-stream"], path
