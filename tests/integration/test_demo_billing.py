"""The demo shop's scheduled money jobs (seed 003), on SQLite and PostgreSQL: a month is billed once however often
its job runs, each bill equal to its orders summed in Shanghai's month, and points expire exactly once."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Date, DateTime, bindparam, text
from sqlalchemy.types import TypeEngine

from batchyard import Yard
from batchyard.demo import billing, shop
from batchyard.errors import Conflict, InvalidParams

# November 2025 in Shanghai (UTC+8), in UTC: written out here, not derived by the code under test.
NOVEMBER_START = datetime.datetime(2025, 10, 31, 16, 0, tzinfo=datetime.UTC)
NOVEMBER_END = datetime.datetime(2025, 11, 30, 16, 0, tzinfo=datetime.UTC)


@pytest.fixture
def demo(database_url: str, tmp_path: Path) -> Iterator[Yard]:
    yard = Yard(database_url, data_dir=tmp_path, lease_seconds=2.0)
    shop.declare(yard)
    billing.declare(yard)
    try:
        shop.seed(yard)
        billing.seed_members(yard)
        yield yard
    finally:
        yard.close()


def _rows(yard: Yard, sql: str, **params: Any) -> list[Any]:
    """A plain SQL query; instants and days bound as the database keeps them (SQLite: as text)."""
    instant: TypeEngine[Any] = DateTime(timezone=True)
    types: dict[str, TypeEngine[Any]] = {"start": instant, "end": instant, "day": Date()}
    query = text(sql).bindparams(*(bindparam(name, type_=types[name]) for name in params))
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        return list(conn.execute(query, params).all())


def _cents(value: Any) -> int:
    return int(Decimal(str(value)) * 100)


def _november_orders_in_cents(yard: Yard) -> dict[str, int]:
    found = _rows(
        yard,
        "SELECT customer, SUM(CAST(ROUND(amount * 100) AS BIGINT)) FROM orders"
        " WHERE status IN ('paid', 'shipped') AND ordered_at >= :start AND ordered_at < :end GROUP BY customer",
        start=NOVEMBER_START,
        end=NOVEMBER_END,
    )
    return {customer: int(cents) for customer, cents in found}


def _invoices(yard: Yard) -> list[tuple[str, str, str, int, str]]:
    found = _rows(yard, "SELECT number, customer, month, amount, issued_at FROM invoices ORDER BY number")
    return [(number, customer, month, _cents(amount), str(at)) for number, customer, month, amount, at in found]


def test_a_month_is_billed_once_and_each_bill_sums_its_paid_and_shipped_orders(demo: Yard) -> None:
    slot = datetime.datetime(2025, 12, 1, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    first = demo.submit("monthly_bills", params={"scheduled_for": slot.isoformat()})
    assert first.params["month"] == "2025-11"  # the month before the slot, in Shanghai (2025-11-30T16:00Z)
    first = demo.run_until_done(first.id, timeout=120)
    expected = _november_orders_in_cents(demo)
    invoices = _invoices(demo)
    assert (first.status, first.total, first.failed) == ("succeeded", shop.CUSTOMERS, 0)
    assert (first.succeeded, first.skipped) == (len(expected), shop.CUSTOMERS - len(expected))
    assert 100 < len(expected) < shop.CUSTOMERS  # the seed gives both billed and skipped customers
    assert {(customer, cents) for _, customer, _, cents, _ in invoices} == set(expected.items())
    assert all(number == f"INV-2025-11-{customer}" and month == "2025-11" for number, customer, month, *_ in invoices)
    assert demo.tally(first.id)["outputs"] == {"issued": len(expected)}
    skipped = next(iter(demo.items(first.id, status="skipped")))
    assert skipped.error == "no orders this month"

    again = demo.run_until_done(demo.submit("monthly_bills", params={"month": "2025-11"}).id, timeout=120)
    assert (again.status, again.failed) == ("succeeded", 0)
    assert (again.succeeded, again.skipped) == (first.succeeded, first.skipped)
    assert {item.output for item in demo.items(again.id, status="succeeded")} == {"already_issued"}
    assert _invoices(demo) == invoices  # no invoice added, none changed (issued_at included)
    assert len({number for number, *_ in invoices}) == len(invoices)


def test_a_month_not_over_yet_is_refused_at_submit(demo: Yard) -> None:
    today = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=8)
    current, future = f"{today:%Y-%m}", f"{today.year + 1}-01"
    for month in (future, current):
        with pytest.raises(InvalidParams) as refused:
            demo.submit("monthly_bills", params={"month": month})
        assert f"month: {month} has not ended yet in Asia/Shanghai" in refused.value.message("en")
        assert refused.value.message("zh-CN").startswith("参数无效：")
    with pytest.raises(InvalidParams, match="month"):
        demo.submit("monthly_bills", params={"month": "2025-13"})


def test_one_billing_of_a_month_at_a_time_while_other_months_may_run(demo: Yard) -> None:
    october = demo.submit("monthly_bills", params={"month": "2025-10"})
    with pytest.raises(Conflict) as refused:
        demo.submit("monthly_bills", params={"scheduled_for": "2025-10-31T16:00:00Z"})  # October again, by its slot
    assert refused.value.details == {"job_id": october.id, "key": "monthly-bills:2025-10"}
    september = demo.submit("monthly_bills", params={"month": "2025-09"})
    assert september.id != october.id


def _points(yard: Yard) -> tuple[int, int]:
    """Points held by all members, and how many members hold points due to expire before 2025-12-01."""
    [(held, due)] = _rows(
        yard,
        "SELECT SUM(points), SUM(CASE WHEN points > 0 AND points_expire_on < :day THEN 1 ELSE 0 END) FROM members",
        day=datetime.date(2025, 12, 1),
    )
    return int(held), int(due)


def test_points_expire_once_and_the_totals_are_conserved(demo: Yard) -> None:
    held_before, due = _points(demo)
    assert due > 0
    first = demo.run_until_done(demo.submit("points_expiry", params={"as_of": "2025-12-01"}).id, timeout=120)
    assert (first.status, first.total, first.succeeded, first.failed) == ("succeeded", due, due, 0)
    [(records, expired)] = _rows(demo, "SELECT count(*), SUM(points) FROM point_expirations")
    held_after, due_after = _points(demo)
    assert (records, due_after) == (due, 0)
    assert held_before - int(expired) == held_after
    assert sum(item.output["points"] for item in demo.items(first.id)) == int(expired)

    slot = datetime.datetime(2025, 11, 30, 16, 0, tzinfo=datetime.UTC)  # midnight of 2025-12-01 in Shanghai
    again = demo.submit("points_expiry", params={"scheduled_for": slot.isoformat()})
    assert again.params["as_of"] == "2025-12-01"
    again = demo.run_until_done(again.id, timeout=60)
    assert (again.status, again.total, again.succeeded) == ("succeeded", 0, 0)
    assert _rows(demo, "SELECT count(*), SUM(points) FROM point_expirations") == [(records, expired)]
    assert _points(demo) == (held_after, 0)
