"""The authorisation matrix: every route of the OpenAPI document × every kind of caller, with the status each
must get. The routes come from the app itself, so a new route without a row here fails the test rather than
going unchecked. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from batchyard.core.users import Role
from tests.integration.api_helpers import PASSWORD, Service, service

API = "/api/v1"
CALLERS = ("owner", "other", "viewer", "admin", "anonymous", "bad_token", "expired")


@dataclass(frozen=True)
class Access:
    """Who may call a route. ``job``: it names a job, which must be the caller's (or the caller an admin).
    ``acts``: it changes something, so viewers are refused. ``admin``: administrators only."""

    job: bool = False
    acts: bool = False
    admin: bool = False
    public: bool = False
    ok: int = 200
    stream: bool = False  # an endless event stream: its 200 is checked over a real server (test_api_events.py)


# One row per operation id of the OpenAPI document.
ROUTES: dict[str, Access] = {
    "health": Access(public=True),
    "metrics": Access(public=True),
    "sign_in": Access(public=True),
    "sign_out": Access(ok=204),  # with a token of its own for each caller: it ends the token it is sent with
    "me": Access(),
    "my_tokens": Access(),
    "my_ledger": Access(),
    "list_notifications": Access(),
    "mark_notification_read": Access(ok=404),  # a notification id nobody has
    "create_my_token": Access(ok=201),
    "revoke_my_token": Access(ok=404),  # a token id nobody has
    "change_me": Access(),
    "create_my_webhook": Access(ok=201),  # viewers too: they only receive
    "my_webhooks": Access(),
    "delete_my_webhook": Access(ok=404),  # a webhook id nobody has
    "webhook_deliveries": Access(ok=404),
    "ping_my_webhook": Access(ok=404),
    "list_job_types": Access(),
    "submit_job": Access(acts=True, ok=202),
    "preview_job": Access(acts=True, ok=422),  # greet has no preview
    "bulk_action": Access(acts=True),
    "list_jobs": Access(),
    "get_job": Access(job=True),
    "list_items": Access(job=True),
    "job_failures": Access(job=True),
    "job_tally": Access(job=True),
    "job_events": Access(job=True, stream=True),
    "all_events": Access(stream=True),
    "cancel_job": Access(job=True, acts=True),
    "delete_job": Access(job=True, acts=True),
    "pause_job": Access(job=True, acts=True),
    "resume_job": Access(job=True, acts=True, ok=409),  # the job is not paused
    "retry_failed": Access(job=True, acts=True, ok=409),  # the job has no failed items
    "upload_files": Access(acts=True, ok=422),  # a body that is not multipart
    "list_artifacts": Access(job=True),
    "list_resources": Access(),
    "download_artifact": Access(ok=404),  # an artifact id nobody has
    "download_zip": Access(job=True, ok=400),  # the job has no output files
    "download_item_output": Access(job=True, ok=404),  # the item has no output file
    "download_errors_csv": Access(job=True),
    "download_errors_xlsx": Access(job=True),
    "list_users": Access(admin=True),
    "create_user": Access(acts=True, admin=True, ok=201),
    "change_user": Access(acts=True, admin=True),
    "rollback_job": Access(job=True, acts=True, ok=409),  # a greet job is no bulk update
    "migration_report": Access(job=True, ok=404),  # a greet job has no report
    "recopy_range": Access(job=True, acts=True, ok=404),  # nor ranges
    "list_schedules": Access(),
    "create_schedule": Access(acts=True, ok=201),
    "preview_schedule": Access(),
    "get_schedule": Access(ok=404),  # a schedule id nobody has
    "update_schedule": Access(acts=True, ok=404),
    "delete_schedule": Access(acts=True, ok=404),
    "pause_schedule": Access(acts=True, ok=404),
    "resume_schedule": Access(acts=True, ok=404),
    "list_schedule_slots": Access(ok=404),
}

BODIES: dict[str, Callable[[Service], object]] = {
    "sign_in": lambda s: {"username": "owner", "password": PASSWORD},
    "create_my_token": lambda s: {"name": "matrix"},
    "change_me": lambda s: {},
    "create_my_webhook": lambda s: {"url": "https://93.184.215.14/hook"},  # a public address: no DNS needed
    "submit_job": lambda s: {"type": "greet", "items": ["a"]},
    "preview_job": lambda s: {"params": {}},
    "bulk_action": lambda s: {"action": "pause", "filter": {"group": "active"}},
    "create_user": lambda s: {"name": f"new{len(s.tokens)}{datetime.now(UTC).timestamp():.0f}"},
    "change_user": lambda s: {"quota": 5},
    "create_schedule": lambda s: {"name": f"m{datetime.now(UTC).timestamp()}", "type": "nightly", "cron": "0 2 * * *"},
    "preview_schedule": lambda s: {"cron": "0 2 * * *", "timezone": "UTC"},
    "update_schedule": lambda s: {"cron": "0 3 * * *"},
}


def expected(access: Access, caller: str) -> int:
    if access.public:
        return access.ok
    if caller in ("anonymous", "bad_token", "expired"):
        return 401
    if access.admin:
        return access.ok if caller == "admin" else 403
    if access.acts and caller == "viewer":
        return 403
    if access.job and caller in ("other", "viewer"):
        return 403
    return access.ok


@pytest.fixture
def svc(database_url: str) -> Iterator[Service]:
    with service(database_url) as s:
        s.add_user("owner", Role.OPERATOR)
        s.add_user("other", Role.OPERATOR)
        s.add_user("viewer", Role.VIEWER)
        s.add_user("admin", Role.ADMIN)
        s.tokens["bad_token"] = "by_" + "x" * 43
        owner = s.yard.store.get_user("owner")
        s.tokens["expired"] = s.auth.issue_token(
            owner, "old", expires_at=datetime.now(UTC) - timedelta(minutes=1)
        ).secret
        yield s


def _operations(svc: Service) -> list[tuple[str, str, str]]:
    schema = svc.client.get("/openapi.json").json()
    return [
        (op["operationId"], method.upper(), path)
        for path, item in schema["paths"].items()
        for method, op in item.items()
    ]


def test_every_route_has_a_row_in_the_matrix(svc: Service) -> None:
    operations = {op for op, _, _ in _operations(svc)}
    assert operations - set(ROUTES) == set(), "a route nobody decided the access of"
    assert set(ROUTES) - operations == set(), "a row for a route that no longer exists"


def test_every_route_answers_every_caller_as_the_matrix_says(svc: Service) -> None:
    failures = []
    for operation, method, path in _operations(svc):
        access = ROUTES[operation]
        for caller in CALLERS:
            want = expected(access, caller)
            if access.stream and want == 200:
                continue
            url = _url(svc, path, caller)
            body = BODIES[operation](svc) if operation in BODIES else None
            headers = _session_of(svc, caller) if operation == "sign_out" else svc.headers(caller)
            response = svc.client.request(method, url, json=body, headers=headers)
            if response.status_code != want:
                failures.append(f"{method} {path} as {caller}: {response.status_code}, expected {want}")
            elif response.status_code >= 400:
                assert set(response.json()) == {"error"}, f"{method} {path}: not the error envelope"
    assert failures == [], "\n".join(failures)


def test_an_unknown_job_is_404_for_everyone_signed_in(svc: Service) -> None:
    for caller in ("owner", "other", "viewer", "admin"):
        response = svc.client.get(f"{API}/jobs/987654321", headers=svc.headers(caller))
        assert response.status_code == 404, caller


def _session_of(svc: Service, caller: str) -> dict[str, str]:
    """A token of the caller's to spend (signing out revokes it), or the caller's own when they have no user."""
    if caller not in svc.user_ids:
        return svc.headers(caller)
    issued = svc.auth.issue_token(svc.yard.store.get_user(caller), "spent", expires_at=None)
    return {"Authorization": f"Bearer {issued.secret}"}


def _url(svc: Service, path: str, caller: str) -> str:
    """The path with a fresh job of the owner's (each call may change or end it) and ids that exist."""
    if "{job_id}" in path:
        submitted = svc.client.post(
            f"{API}/jobs", json={"type": "greet", "items": ["a", "b"]}, headers=svc.headers("owner")
        )
        path = path.replace("{job_id}", str(submitted.json()["id"]))
    path = path.replace("{user_id}", str(svc.user_ids["other"]))
    path = path.replace("{notification_id}", "999999999")
    path = path.replace("{webhook_id}", "999999999")
    path = path.replace("{schedule_id}", "999999999")
    path = path.replace("{range_index}", "0")
    path = path.replace("{artifact_id}", "999999999")
    path = path.replace("{index}", "0")
    path = path.replace("{type_name}", "greet")
    return path.replace("{token_id}", "999999999")
