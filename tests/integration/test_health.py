"""``GET /api/v1/health`` over HTTP: 200 while the database answers, 503 with ``"database": "unreachable"``
when it does not."""

from __future__ import annotations

from fastapi.testclient import TestClient

from batchyard.api.app import create_app
from batchyard.bootstrap import open_store
from batchyard.settings import Settings
from tests.acceptance.helpers import free_port


def test_health_is_ok_while_the_database_answers(database_url: str) -> None:
    store = open_store(Settings(database_url=database_url))
    try:
        with TestClient(create_app(store)) as client:
            response = client.get("/api/v1/health")
    finally:
        store.close()
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_health_is_503_when_postgresql_is_unreachable() -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/test?connect_timeout=2"
    store = open_store(Settings(database_url=closed), create_schema=False)
    try:
        with TestClient(create_app(store)) as client:
            response = client.get("/api/v1/health")
    finally:
        store.close()
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"]) == ("degraded", "unreachable")
    assert body["version"]
