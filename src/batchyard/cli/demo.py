"""The demo's users: created on the first ``batchyard serve --demo``, their passwords and tokens printed once."""

from __future__ import annotations

import secrets
from pathlib import Path

import typer

from batchyard.core.users import Role
from batchyard.errors import UserExists
from batchyard.service.auth import AuthService
from batchyard.store.base import Store
from batchyard.yard import Yard

DEMO_USERS = (("admin", Role.ADMIN, 0), ("alice", Role.OPERATOR, 100), ("victor", Role.VIEWER, 0))


def prepare_shop(yard: Yard) -> Path:
    """The demo shop's tables filled (once) and its sample files written; where the files are."""
    from batchyard.demo import billing, legacy, shop  # the demo's own code, loaded only for the demo

    samples = Path(yard.settings.data_dir) / "samples"
    shop.write_samples(samples)
    shop.write_large_sample(samples)
    if seeded := shop.seed(yard):
        _say(f"demo shop: {seeded:,} generated rows in products, customers and orders")
    if members := billing.seed_members(yard):
        _say(f"demo shop: {members:,} members with points")
    legacy.prepare(yard)
    return samples


def create_demo_users(store: Store, url: str, samples: Path | None = None) -> None:
    auth = AuthService(store)
    created = []
    for name, role, quota in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        try:
            _, issued = auth.create_user(name, role=role, quota=quota, password=password)
        except UserExists:
            continue
        created.append((name, role, password, issued.secret))
    if not created:
        _say("demo users exist already (their passwords were printed when they were created)")
        return
    _say("demo users (shown this once):")
    for name, role, password, token in created:
        _say(f"  {name:<7} {role:<9} password {password}   token {token}")
    alice = next((token for name, _, _, token in created if name == "alice"), None)
    if alice:
        body = '{"type": "demo_slow", "items": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}'
        lines: tuple[str, ...] = (
            "",
            "try:",
            f"  export BATCHYARD_URL={url} BATCHYARD_TOKEN={alice}",
            "  curl -s -H \"Authorization: Bearer $BATCHYARD_TOKEN\" -H 'Content-Type: application/json' \\",
            f"       -d '{body}' {url}/api/v1/jobs",
            "  batchyard jobs watch 1",
        )
        if samples is not None:
            lines += (
                f"  batchyard import {samples / 'products-gbk.csv'} --resource products --mode upsert",
                f"  batchyard import {samples / 'products-100k.csv'} --resource products",
                "  batchyard export orders --format xlsx -o orders.xlsx --language zh-CN",
            )
        for line in lines:
            _say(line)


def _say(line: str) -> None:
    """Plain lines, never wrapped: tokens must survive a copy and paste."""
    typer.echo(line, err=True)
