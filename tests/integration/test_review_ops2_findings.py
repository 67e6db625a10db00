"""Review findings on ``bulk_update`` / ``bulk_rollback`` and ``migrate``, on a SQLite file and on PostgreSQL: each
test shows a defect by failing, and its docstring says what goes wrong and what should happen instead."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import text

from batchyard import Yard
from batchyard.core.users import Role
from batchyard.demo import legacy
from batchyard.errors import BatchyardError
from tests.integration.api_helpers import Service, service
from tests.integration.test_bulk_update import RAISE, checksum, prices, query, seed
from tests.support.shop import declare


class Thing(BaseModel):
    id: int
    name: str


class Amount(BaseModel):
    id: int
    amount: Decimal


@pytest.fixture
def shop(yard: Yard) -> Yard:
    declare(yard)
    seed(yard, 600)
    return yard


@pytest.fixture
def svc(database_url: str) -> Iterator[Service]:
    with service(database_url, migrate_sources=["*"]) as s:  # the guards below the allow-list are tested here
        declare(s.yard)
        seed(s.yard, 20)
        legacy.declare(s.yard)
        s.add_user("root", Role.ADMIN)
        s.add_user("mallory", Role.OPERATOR)
        yield s


def _legacy_file(path: Path, create: str, rows: list[tuple[Any, ...]]) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute(create)
        table = create.split()[2]
        conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    conn.close()
    return path


def _report(yard: Yard, job_id: int) -> dict[str, Any]:
    report: dict[str, Any] = yard.registry.get("migrate").report(yard.get(job_id))  # type: ignore[attr-defined]
    return report


# -- bulk_update: the atomic publish ---------------------------------------------------------------------------------


def test_an_atomic_publish_with_a_row_that_no_longer_computes_changes_nothing(shop: Yard) -> None:
    """jobs/bulk/updating.py ``publish``: the publish recomputes every staged row and keeps only the verdicts that
    are UPDATED; a row whose expression now fails (here: its divisor became 0 after it was staged) is silently
    counted as ``dropped``, every other row is published, and the row's item still says it succeeded. Decision
    0031: an atomic update publishes all rows or none — a row that cannot be computed must fail the publish and
    leave the table as it was."""
    before = prices(shop)
    params = {"resource": "products", "filter": [{"field": "stock", "op": "ge", "value": 1}]}
    job = shop.submit("bulk_update", params={**params, "set": {"price": "price + 10 / stock"}, "apply": "atomic"})
    shop.worker().run(until=lambda: (j := shop.get(job.id)).sealed and j.processed >= j.total - 1)  # all staged
    with shop.store.db.write() as conn:  # type: ignore[attr-defined]
        conn.execute(text("UPDATE products SET stock = 0 WHERE sku = 'SKU0000007'"))
    done = shop.run_until_done(job.id, timeout=120)
    [publish] = [item for item in shop.items(job.id) if item.index == done.total - 1]
    assert publish.status == "failed", publish.output
    assert prices(shop) == before


def test_an_atomic_update_that_publishes_nothing_ends_failed(shop: Yard) -> None:
    """jobs/bulk/updating.py: when a row of an atomic update fails, the publish refuses and nothing changes, yet
    the job ends ``partially_succeeded`` with every staged row counted as succeeded — it reads as if most rows
    changed. Decision 0031: "refuses to publish if any row failed (nothing changes; the job fails with
    update_not_published)" — the job's status must be ``failed``."""
    before = prices(shop)
    job = shop.submit(
        "bulk_update", params={"resource": "products", "set": {"price": "price - 100"}, "apply": "atomic"}
    )
    done = shop.run_until_done(job.id, timeout=120)
    assert prices(shop) == before
    assert done.status == "failed"


# -- bulk_rollback --------------------------------------------------------------------------------------------------


def test_a_rollback_cancelled_midway_can_be_finished_by_another_rollback(shop: Yard) -> None:
    """jobs/bulk/rollback.py ``validate``: the first rollback chunk records itself in ``by_bulk_rollbacks``; once
    that job is finished — cancelled counts — every later rollback is refused ("rolled it back already"), and a
    cancelled job cannot be retried. A rollback cancelled after its first chunk leaves the update half undone
    for good. Expected: only a rollback that ran to its end blocks another; a new rollback finishes the job."""
    original = checksum(shop)
    update = shop.run_until_done(shop.submit("bulk_update", params={"resource": "products", "set": RAISE}).id)
    assert update.status == "succeeded"
    first = shop.submit("bulk_rollback", params={"job_id": update.id})
    shop.worker().run(until=lambda: shop.get(first.id).processed >= 1)
    shop.cancel(first.id)
    assert shop.run_until_done(first.id, timeout=60).status == "cancelled"
    again = shop.submit("bulk_rollback", params={"job_id": update.id})
    assert shop.run_until_done(again.id, timeout=120).status == "succeeded"
    assert checksum(shop) == original


def test_a_rollback_of_a_job_id_past_64_bits_is_an_invalid_param(svc: Service) -> None:
    """jobs/bulk/params.py ``RollbackParams.job_id`` has no upper bound: ``POST /jobs`` with a ``bulk_rollback`` of
    job 2**63 reaches the database (SQLite: OverflowError, a crash; PostgreSQL: 500 "bigint out of range").
    The path id is bounded already (422); the param should be too — 422 naming job_id, or 404."""
    client = TestClient(svc.client.app, raise_server_exceptions=False)
    body = {"type": "bulk_rollback", "params": {"job_id": 2**63}}
    answer = client.post("/api/v1/jobs", json=body, headers=svc.headers("mallory"))
    assert answer.status_code in (404, 422), answer.text


# -- migrate: what a source may be ----------------------------------------------------------------------------------


def test_an_operator_cannot_read_batchyards_own_state_database_through_a_migration(
    svc: Service, database_url: str
) -> None:
    """store/sql/copying.py opens any ``source_url``: an operator points a migration's preview at batchyard's own
    state database (its URL is the default ``./.batchyard`` file, or the shared PostgreSQL) and gets back every
    user's argon2 password hash in the dry run's "before" rows — and could read tokens, webhooks and other users'
    job params the same way. Expected: a source that is batchyard's own state database is refused (403/422),
    and no secret comes back."""
    query_text = (
        "SELECT id AS user_id, name AS user_name, password_hash AS email_addr, created_at AS reg_time,"
        " role AS vip_flag, quota AS score FROM by_users"
    )
    params = {"source_url": database_url, "source": query_text, "key": "user_id", "resource": "users"}
    body = {"params": {**params, "mapping": legacy.MAPPING}}
    answer = svc.client.post("/api/v1/job-types/migrate/preview", json=body, headers=svc.headers("mallory"))
    assert "$argon2" not in answer.text
    assert answer.status_code in (403, 422), answer.text


def test_a_sqlite_source_path_cannot_smuggle_a_writable_open_mode(yard: Yard, tmp_path: Path) -> None:
    """store/sql/copying.py ``_sqlite_engine`` pastes the URL's path into ``sqlite:///file:{path}?mode=ro&uri=true``;
    an encoded ``?`` in the path (``x.db%3Fmode%3Drwc%26x%3D``) becomes the URI's own query, so the file is opened
    ``mode=rwc`` (created when missing) and the trailing ``mode=ro`` is swallowed by a dummy parameter. Expected:
    such a path is refused, or the file is still opened read-only — either way nothing is created."""
    yard.resource("things", Thing, key=["id"])
    target = tmp_path / "created.db"
    params = {
        "source_url": f"sqlite:///{target}%3Fmode%3Drwc%26x%3D",
        "source": "SELECT 1 AS id, 'x' AS name",
        "key": "id",
        "resource": "things",
    }
    with contextlib.suppress(BatchyardError):
        yard.preview("migrate", params=params, owner="alice")
    assert not target.exists()


# -- migrate: keys and casts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cast", ["decimal", "int"])
def test_a_decimal_comma_is_not_read_as_a_thousands_separator(yard: Yard, tmp_path: Path, cast: str) -> None:
    """jobs/migrate/mapping.py ``_to_decimal`` / ``_to_int`` delete every comma: "1,5" (one and a half, as many
    legacy systems write it) is migrated as 15 — a value ten times too large, silently. Only commas between
    groups of three digits are thousands separators. Expected: "1,5" is rejected (or read as 1.5, for a
    decimal), never 15."""
    yard.resource("amounts", Amount, key=["id"])
    source = _legacy_file(tmp_path / "old.db", "CREATE TABLE old (k INTEGER, amount TEXT)", [(1, "1,5")])
    params = {
        "source_url": f"sqlite:///{source}",
        "source": "old",
        "key": "k",
        "resource": "amounts",
        "mapping": {"id": "k", "amount": {"from": "amount", "cast": cast}},
    }
    job = yard.run_until_done(yard.submit("migrate", params=params, owner="alice").id, timeout=120)
    stored = [Decimal(str(amount)) for (amount,) in query(yard, "SELECT amount FROM amounts")]
    assert job.status.is_finished
    assert stored in ([], [Decimal("1.5")])
