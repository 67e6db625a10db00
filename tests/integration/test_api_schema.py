"""The OpenAPI document is a contract. Schemathesis sends every operation generated requests, well-formed and
malformed, as an admin and as an operator, to the app over a SQLite file seeded with jobs in several states;
no answer may be a 5xx, nor have a status, content type or body the document does not give that operation.

SQLite only: the document and its checks live in the HTTP layer, and the database faults PostgreSQL adds are
tested where they happen (tests/acceptance); a second run on PostgreSQL would double the time for nothing new."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import Case, HookContext, Response
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.openapi.checks import RejectedPositiveData

from batchyard import Yard
from batchyard.api.app import create_app
from batchyard.core.users import Role
from batchyard.errors import NotSignedIn
from tests.integration.api_helpers import Service, service

API = "/api/v1"
STREAMS = ["job_events", "all_events"]  # endless: their refusals are checked below, their 200 in test_api_events
MAX_EXAMPLES = int(os.environ.get("BATCHYARD_SCHEMA_EXAMPLES", "15"))  # per operation and caller
JOB_TYPES = ("greet", "fails", "paid", "hourly", "single", None)  # None: keep the generated name (unknown)
# All a server can take: e-mail addresses (nothing is sent: the app does not deliver), webhooks to any address
# (no DNS lookups for generated host names), a signing key of its own (none written under data_dir).
APP_SETTINGS = {
    "secret_key": "schema-test-signing-key-of-32-characters",
    "webhook_allow_private": True,
    "smtp_url": "smtp://127.0.0.1:2525",
    "smtp_from": "batchyard@example.com",
}
WEBHOOK_URL = "http://127.0.0.1:9/hook"  # never called: the app does not deliver
EXACT_JSON_INTEGERS = 2**53  # the largest a double holds exactly

CONFIG: dict[str, Any] = {
    "seed": 20240601,
    "generation": {
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,  # the same requests on every run: CI does not flake on a new example
        "database": "none",
        # Requests carry the caller's token (below); a generated Authorization header would be overwritten by
        # it, so "no token" cases would go out signed in. test_api_matrix.py checks every caller on every route.
        "with-security-parameters": False,
    },
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "negative_data_rejection": {"enabled": True},
        "positive_data_acceptance": {"enabled": True},
    },
    "operations": [
        # What a job accepts depends on its type, which the document cannot say: `params` follows the type's own
        # JSON Schema (GET /job-types), `items` its max_items and whether it has a source; an unknown type,
        # items over the limit or none at all are 422 for a body the document calls valid.
        {"include-operation-id": "submit_job", "checks": {"positive_data_acceptance": {"enabled": False}}},
        # The same for a preview: its params are the type's, and a type may have none (422).
        {"include-operation-id": "preview_job", "checks": {"positive_data_acceptance": {"enabled": False}}},
        # A webhook URL must be http(s), with a host, no credentials, ASCII: more than the document says of it.
        {"include-operation-id": "create_my_webhook", "checks": {"positive_data_acceptance": {"enabled": False}}},
        # A file is kept or refused by its bytes (empty, its sniffed type, its size), which the document cannot
        # describe; a ZIP needs a job with output files, which is state, not the request.
        {"include-operation-id": "upload_files", "checks": {"positive_data_acceptance": {"enabled": False}}},
        {"include-operation-id": "download_zip", "checks": {"positive_data_acceptance": {"enabled": False}}},
        # A cron expression and an IANA zone are checked against a cron grammar and the zone database, and a
        # schedule's params are its job type's: more than the document can say of them.
        {"include-operation-id": "create_schedule", "checks": {"positive_data_acceptance": {"enabled": False}}},
        {"include-operation-id": "update_schedule", "checks": {"positive_data_acceptance": {"enabled": False}}},
        {"include-operation-id": "preview_schedule", "checks": {"positive_data_acceptance": {"enabled": False}}},
    ],
}


def _document() -> dict[str, Any]:
    """The app's OpenAPI document. It is made from the routes alone, so an empty database will do; the requests
    go to the seeded app of each run."""
    yard = Yard("sqlite://")
    try:
        return create_app(yard.store, yard.registry).openapi()
    finally:
        yard.close()


schema = schemathesis.openapi.from_dict(_document(), config=SchemathesisConfig.from_dict(CONFIG))


@schema.hook
def filter_failure(context: HookContext, failure: Failure, case: Case[Any], response: Response) -> bool:
    """Schemathesis compares numbers as doubles: a generated id of 9223372036854775999 equals, as a double, the
    largest id (2**63-1, which FastAPI writes into the document as the double 9.223372036854776e18), so it
    calls the request valid. Our 422 for it is right; only that verdict, for only such numbers, is dropped."""
    return not (isinstance(failure, RejectedPositiveData) and _has_inexact_integer(case))


def _has_inexact_integer(case: Case[Any]) -> bool:
    values = [case.body, case.path_parameters, case.query]
    while values:
        value = values.pop()
        if isinstance(value, dict):
            values.extend(value.values())
        elif isinstance(value, list):
            values.extend(value)
        elif isinstance(value, int) and abs(value) > EXACT_JSON_INTEGERS:
            return True
    return False


@dataclass
class Caller:
    """Who the requests come from. A generated request may revoke the caller's own token or change its own
    role (ids are small integers, and so are the caller's): both are put back before each request, so every
    operation is exercised with the authority the run means to have."""

    svc: Service
    name: str
    role: Role

    def headers(self) -> dict[str, str]:
        store = self.svc.yard.store
        try:
            self.svc.auth.authenticate(self.svc.tokens[self.name])
        except NotSignedIn:
            user = store.get_user(self.name)
            self.svc.tokens[self.name] = self.svc.auth.issue_token(user, "schema").secret
        if store.get_user(self.name).role != self.role:
            store.update_user(self.svc.user_ids[self.name], role=self.role)
        return self.svc.headers(self.name)


def _seed(svc: Service) -> None:
    """Jobs of the demo types in the states a caller meets — finished (succeeded, failed, partly), pending,
    paused, cancelled — the admin's and the operator's: ids 1-8 name jobs, 1-4 left notifications."""
    yard = svc.yard
    for type_, items, owner in (
        ("greet", ["a", "b"], "root"),
        ("fails", [1, 3], "ops"),
        ("paid", [1, -1, 2], "root"),
        ("paid", [4, 5], "ops"),
    ):
        yard.run_until_done(yard.submit(type_, items=items, owner=owner).id, timeout=30)
    yard.submit("greet", items=["c"], owner="ops")
    yard.pause(yard.submit("greet", items=["d"], owner="root").id)
    yard.cancel(yard.submit("greet", items=["e"], owner="ops").id)
    yard.submit("single", items=[1], owner="root")
    for name in ("root", "ops", "root", "ops"):  # webhook ids 1-4, each with a ping waiting to be delivered
        hook = svc.client.post(f"{API}/me/webhooks", json={"url": WEBHOOK_URL}, headers=svc.headers(name))
        ping = svc.client.post(
            f"{API}/me/webhooks/{hook.raise_for_status().json()['id']}/ping", headers=svc.headers(name)
        )
        ping.raise_for_status()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    database: Path = tmp_path_factory.mktemp("schema") / "batchyard.db"
    with service(f"sqlite:///{database}", **APP_SETTINGS) as svc:
        svc.add_user("root", Role.ADMIN, quota=1000)
        svc.add_user("ops", Role.OPERATOR, quota=1000)
        _seed(svc)
        yield svc


@pytest.fixture(scope="module", params=[("root", Role.ADMIN), ("ops", Role.OPERATOR)], ids=["admin", "operator"])
def caller(request: pytest.FixtureRequest, seeded: Service) -> Caller:
    name, role = request.param
    return Caller(seeded, name, role)


def _towards_real_job_types(case: Case[Any]) -> None:
    """A generated job type names nothing; most submits are pointed at a registered one (picked by the
    generated name's length, so the run stays the same) to reach quota, rate limits and params checks."""
    body = case.body
    if case.operation.definition.raw.get("operationId") != "submit_job" or not isinstance(body, dict):
        return
    generated = body.get("type")
    if isinstance(generated, str) and (name := JOB_TYPES[len(generated) % len(JOB_TYPES)]):
        body["type"] = name


@pytest.mark.slow  # about 25 s: every operation, twice, with MAX_EXAMPLES requests and the boundary cases
@schema.exclude(operation_id=STREAMS).parametrize()
def test_every_answer_is_documented(case: Case[Any], caller: Caller) -> None:
    _towards_real_job_types(case)
    case.call_and_validate(app=caller.svc.client.app, headers=caller.headers())


# The event streams: a 200 never ends, so only their refusals are sent here, each checked against the document.
REFUSALS = [  # operation, path parameters, caller, headers, status
    ("all_events", {}, None, {}, 401),
    ("all_events", {}, "ops", {"Last-Event-ID": "x"}, 422),
    ("job_events", {"job_id": 1}, None, {}, 401),
    ("job_events", {"job_id": 1}, "ops", {}, 403),
    ("job_events", {"job_id": 987654321}, "root", {}, 404),
    ("job_events", {"job_id": 0}, "root", {}, 422),
    ("job_events", {"job_id": 1}, "root", {"Last-Event-ID": "-1"}, 422),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[f"{r[0]}-{r[4]}-{i}" for i, r in enumerate(REFUSALS)])
def test_event_stream_refusals_are_documented(seeded: Service, refusal: tuple[Any, ...]) -> None:
    operation_id, path, who, headers, status = refusal
    case = schema.find_operation_by_id(operation_id).Case(path_parameters=path, headers=headers)
    response = case.call_and_validate(app=seeded.client.app, headers=seeded.headers(who))
    assert response.status_code == status, response.text
