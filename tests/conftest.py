"""Shared fixtures: every storage and engine test runs on a real SQLite file and on real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from batchyard import Yard

PG_URL = os.environ.get("BATCHYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return str(exc)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    problem = _postgres_reachable()
    if problem is not None:
        pytest.fail(
            f"the tests need PostgreSQL and none answers at {PG_URL} ({problem}); "
            "start one or point BATCHYARD_TEST_PG at one"
        )
    return PG_URL


@pytest.fixture
def pg_schema_url(postgres_server: str) -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards: each test starts from empty tables."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{postgres_server}?options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/batchyard.db"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def yard(database_url: str) -> Iterator[Yard]:
    """A yard on a fresh database, with a short lease so lost workers are noticed within a test."""
    y = Yard(database_url, lease_seconds=2.0)
    yield y
    y.close()
