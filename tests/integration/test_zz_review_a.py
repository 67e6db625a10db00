"""Review: bad input and OpenAPI completeness."""

from __future__ import annotations

import pytest

from batchyard.core.users import Role
from tests.integration.api_helpers import service

API = "/api/v1"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/jobs/99999999999999999999"),
        ("get", "/jobs/99999999999999999999/items"),
        ("post", "/jobs/99999999999999999999/cancel"),
        ("delete", "/me/tokens/99999999999999999999"),
        ("patch", "/users/99999999999999999999"),
    ],
)
def test_huge_path_ids_are_404_or_422_never_500(database_url: str, method: str, path: str) -> None:
    with service(database_url) as s:
        s.add_user("root", Role.ADMIN)
        kwargs = {"json": {"role": "viewer"}} if method == "patch" else {}
        r = s.client.request(method, API + path, headers=s.headers("root"), **kwargs)
        assert r.status_code in (404, 422), (r.status_code, r.text)
        assert "error" in r.json()


def test_every_documented_422_is_the_envelope_and_submit_documents_429(database_url: str) -> None:
    with service(database_url) as s:
        doc = s.client.get("/openapi.json").json()
    wrong = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            r422 = op["responses"].get("422")
            if r422 is not None and "HTTPValidationError" in str(r422):
                wrong.append(f"{method.upper()} {path}")
    submit = doc["paths"]["/api/v1/jobs"]["post"]["responses"]
    assert "429" in submit, "submit_job can answer 429 rate_limited / too_many_active_jobs"
    assert wrong == [], f"422 documented as FastAPI's {{detail}} schema, not the envelope: {wrong}"
