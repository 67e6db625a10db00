"""A service over a real database for API tests: a yard with a few job types, its app, and signed-in callers."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from batchyard import Context, Yard
from batchyard.api.app import create_app
from batchyard.core.users import Role
from batchyard.service.auth import AuthService

PASSWORD = "correct horse battery"


class Greeting(BaseModel):
    greeting: str = Field(default="hello", max_length=20)


class Greet:
    Params = Greeting

    def process(self, item: str, ctx: Context) -> str:
        return f"{ctx.params.greeting}, {item}"


def _fails(item: int, ctx: Context) -> int:
    raise ValueError(f"item {item} is odd")


def _paid(item: int, ctx: Context) -> int:
    """Negative items fail: a paid job with some failures to refund."""
    if item < 0:
        raise ValueError(f"item {item} is negative")
    return item


@dataclass
class Service:
    yard: Yard
    client: TestClient
    auth: AuthService
    tokens: dict[str, str] = field(default_factory=dict)  # caller -> bearer secret
    user_ids: dict[str, int] = field(default_factory=dict)

    def add_user(self, name: str, role: Role, *, quota: int = 100, password: str | None = PASSWORD) -> str:
        user, issued = self.auth.create_user(name, role=role, quota=quota, password=password)
        self.tokens[name], self.user_ids[name] = issued.secret, user.id
        return issued.secret

    def headers(self, caller: str | None, **extra: str) -> dict[str, str]:
        token = self.tokens.get(caller or "")
        return {**({"Authorization": f"Bearer {token}"} if token else {}), **extra}


@contextmanager
def service(database_url: str, **settings: Any) -> Iterator[Service]:
    """``settings`` (a secret key, SMTP, ...) go to the yard and the app; without any, the app has no settings."""
    scratch = tempfile.mkdtemp(prefix="batchyard-files-")
    yard = Yard(database_url, lease_seconds=2.0, **{"data_dir": scratch, **settings})
    yard.job("greet", chunk_size=2, max_items=50)(Greet)
    yard.job("fails", chunk_size=5, max_attempts=1)(_fails)
    yard.job("paid", chunk_size=2, max_items=50, unit_cost=1, max_attempts=1)(_paid)
    yard.job("hourly", unit_cost=0, jobs_per_hour=5)(_paid)
    yard.job("single", max_active_jobs=1)(_paid)
    yard.job("nightly", source=lambda params: [1, 2, 3])(_paid)  # finds its own items: a schedule may start it
    auth = AuthService(yard.store)
    try:
        app = create_app(
            yard.store,
            yard.registry,
            auth_service=auth,
            settings=yard.settings if settings else None,
            files=yard.files,
            resources=yard.resources,
        )
        with TestClient(app) as client:
            yield Service(yard, client, auth)
    finally:
        yard.close()
        shutil.rmtree(scratch, ignore_errors=True)
