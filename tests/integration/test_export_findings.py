"""Exports on SQLite and PostgreSQL against what a careful reader found: a page retried after a fault before
the file is joined, a join that runs twice, filters with empty values and long lists, case in text filters,
text that starts with a quote, numbers a spreadsheet would round, and working files kept out of sight."""

from __future__ import annotations

import datetime
import io
import json
import sqlite3
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from python_calamine import CalamineWorkbook
from sqlalchemy import create_engine, text

from batchyard import Yard
from batchyard.core.context import Context
from batchyard.core.model import Job
from batchyard.core.resources import define_resource
from batchyard.errors import DatabaseUnavailable, InvalidParams, InvalidResource
from batchyard.jobs.tabular import exporting
from batchyard.store.sql import resource_reads
from tests.support.shop import csv_bytes, declare, product_rows


class Big(BaseModel):
    code: str
    count: int
    amount: Decimal
    note: str | None = None


@pytest.fixture
def shop(yard: Yard) -> Yard:
    return declare(yard)


def load(yard: Yard, data: bytes, resource: str = "products") -> None:
    upload = yard.upload(io.BytesIO(data), filename="seed.csv")
    job = yard.submit("import", params={"resource": resource}, upload_ids=[upload.id])
    assert yard.run_until_done(job.id, timeout=120).status == "succeeded"


def export(yard: Yard, resource: str = "products", **params: Any) -> tuple[Job, bytes]:
    job = yard.run_until_done(yard.submit("export", params={"resource": resource, **params}).id, timeout=120)
    made = [a for a in yard.artifacts(job.id) if a.kind == "export"]
    if not made:
        return job, b""
    with yard.open_artifact(made[0].id) as stream:
        return job, stream.read()


def test_a_key_that_may_be_empty_is_refused_at_declaration() -> None:
    class Pair(BaseModel):
        a: int
        b: str | None

    with pytest.raises(InvalidResource, match="may be empty"):
        define_resource("pairs", Pair, key=["a", "b"])


def test_a_page_retried_after_a_fault_is_waited_for_before_the_file_is_joined(
    shop: Yard, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(shop, csv_bytes(list(product_rows(10))))
    monkeypatch.setattr(exporting, "PAGE_ROWS", 3)
    monkeypatch.setattr(exporting, "PARTS_WAIT_SECONDS", 0.2)
    monkeypatch.setattr("batchyard.engine.runner.LOAD_RETRY_SECONDS", 0.5)
    real, calls = exporting.read_page, {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise DatabaseUnavailable(reason="the database is away")
        return real(*args, **kwargs)

    monkeypatch.setattr(exporting, "read_page", flaky)
    job, data = export(shop, format="jsonl")
    assert (job.status, job.failed) == ("succeeded", 0)
    assert [json.loads(line)["sku"] for line in data.decode().splitlines()] == [r[0] for r in product_rows(10)]


def test_a_page_that_cannot_be_read_stops_the_export_instead_of_leaving_it_waiting(
    shop: Yard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The joining item waits for every page; a page that failed for good would have kept it waiting for ever."""
    load(shop, csv_bytes(list(product_rows(10))))
    monkeypatch.setattr(exporting, "PAGE_ROWS", 3)
    real, calls = exporting.read_page, {"n": 0}

    def broken(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("a value the page cannot hold")
        return real(*args, **kwargs)

    monkeypatch.setattr(exporting, "read_page", broken)
    job, data = export(shop, format="csv")
    assert job.status == "failed"
    assert "a value the page cannot hold" in (job.error or "")
    assert data == b""


def test_joining_the_file_again_gives_the_file_already_made(shop: Yard) -> None:
    load(shop, csv_bytes(list(product_rows(5))))
    job, data = export(shop)
    ctx = Context(job_id=job.id, owner=job.owner, params=exporting.ExportParams(resource="products"), round=1)
    ctx.files = shop.files
    ctx.index = job.total - 1
    again = exporting.Export(shop.resources, shop._resource_databases)._assemble(ctx, ctx_plan(shop))
    [made] = [a for a in shop.artifacts(job.id) if a.kind == "export"]
    assert again["artifact_id"] == made.id
    assert len(data.decode().splitlines()) == 6


def ctx_plan(yard: Yard) -> exporting.Plan:
    return exporting.Export(yard.resources, yard._resource_databases)._plan(exporting.ExportParams(resource="products"))


def test_empty_values_long_lists_and_case_in_filters(shop: Yard) -> None:
    load(
        shop,
        csv_bytes(
            [
                ["A1", "Apple 50%", "1.00", 1, ""],
                ["A2", "apple 50_x", "2.00", 2, "2024-01-01"],
                ["A3", "APPLE", "3.00", 3, ""],
            ]
        ),
    )
    _, data = export(shop, format="jsonl", filter=[{"field": "launched", "op": "eq", "value": None}])
    assert [json.loads(x)["sku"] for x in data.decode().splitlines()] == ["A1", "A3"]
    _, data = export(shop, format="jsonl", filter=[{"field": "launched", "op": "ne", "value": None}])
    assert [json.loads(x)["sku"] for x in data.decode().splitlines()] == ["A2"]
    _, data = export(shop, format="jsonl", filter=[{"field": "name", "op": "contains", "value": "apple"}])
    assert len(data.decode().splitlines()) == 3
    _, data = export(shop, format="jsonl", filter=[{"field": "name", "op": "contains", "value": "50%"}])
    assert [json.loads(x)["sku"] for x in data.decode().splitlines()] == ["A1"]
    job, _ = export(shop, filter=[{"field": "sku", "op": "in", "value": [f"S{i}" for i in range(1_001)]}])
    assert job.status == "failed"
    assert "1,000" in (job.error or "")
    job, _ = export(shop, filter=[{"field": "price", "op": "lt", "value": None}])
    assert job.status == "failed"
    assert "needs a value" in (job.error or "")


def test_text_starting_with_a_quote_comes_back_the_same_through_csv(shop: Yard, tmp_path: Any) -> None:
    load(shop, csv_bytes([["Q1", "x", "1.00", 1, ""], ["Q2", "x", "1.00", 1, ""], ["Q3", "x", "1.00", 1, ""]]))
    stored = {"Q1": "'=1+1", "Q2": "'plain", "Q3": "=2"}  # written by other software, quotes and all
    with shop.store.db.write() as conn:  # type: ignore[attr-defined]
        for sku, name in stored.items():
            conn.execute(text("UPDATE products SET name = :name WHERE sku = :sku"), {"name": name, "sku": sku})
    _, data = export(shop)
    other = declare(Yard(f"sqlite:///{tmp_path}/copy.db", data_dir=tmp_path / "copy"))
    try:
        load(other, data)
        with other.store.db.read() as conn:  # type: ignore[attr-defined]
            back = dict(conn.execute(text("SELECT sku, name FROM products")).all())
    finally:
        other.close()
    assert back == stored


def test_numbers_a_spreadsheet_would_round_are_kept_as_text(yard: Yard) -> None:
    yard.resource("big", Big, key=["code"])
    load(yard, b"code,count,amount,note\nB1,1234567890123456789,12345678901234567.89,\nB2,42,1.50,\n", "big")
    _, book = export(yard, "big", format="xlsx")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(book)).get_sheet_by_index(0).to_python()
    assert rows[1][1:3] == ["1234567890123456789", "12345678901234567.89"]
    assert rows[2][1:3] == [42.0, 1.5]


def test_text_too_long_for_a_cell_fails_the_xlsx_export_with_what_to_do(yard: Yard) -> None:
    yard.resource("big", Big, key=["code"])
    load(yard, f"code,count,amount,note\nL1,1,1,{'x' * 40_000}\n".encode(), "big")
    job, _ = export(yard, "big", format="xlsx")
    assert job.status == "failed"  # no file could be made: the job says why
    assert "export it as CSV" in (job.error or "")
    [failed] = yard.items(job.id, "failed")
    assert "export it as CSV" in (failed.error or "")


def test_rows_at_a_position_past_any_number_are_exported(yard: Yard, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sort value JSON cannot hold (a decimal past a float's range, ordered as a float on SQLite; infinity
    itself on PostgreSQL) once became null in a page's position, and its page matched no row."""
    yard.resource("big", Big, key=["code"])
    monkeypatch.setattr(exporting, "PAGE_ROWS", 2)
    load(yard, b"code,count,amount,note\nA,1,1,\nB,2,1E+400,\nC,3,2,\nD,4,3,\n", "big")
    if yard.settings.database_url.startswith("postgresql"):  # numeric holds 1E+400 itself; a float sorts past it
        with yard.store.db.write() as conn:  # type: ignore[attr-defined]
            conn.execute(text("UPDATE big SET amount = 'Infinity' WHERE code = 'B'"))
    job, data = export(yard, "big", format="csv", order_by="amount")
    assert job.status == "succeeded"
    assert [line.split(",")[0] for line in data.decode().splitlines()[1:]] == ["A", "C", "D", "B"]


def test_working_files_are_not_listed_as_what_the_job_made(shop: Yard) -> None:
    load(shop, csv_bytes(list(product_rows(3))))
    job, _ = export(shop)
    kinds = {a.kind for a in shop.store.artifacts(job.id)}
    assert kinds == {"export"}
    assert [a.kind for a in shop.artifacts(job.id)] == ["export"]


def test_joining_again_after_a_page_ran_again_gives_the_file_made_and_clears_the_stray_part(shop: Yard) -> None:
    """A page whose worker was lost after its part was saved runs again after the file was joined; a join run
    again (its commit lost) must give the file made, not wait for ever on the stray part."""
    load(shop, csv_bytes(list(product_rows(5))))
    job, data = export(shop)
    [made] = [a for a in shop.artifacts(job.id) if a.kind == "export"]
    ctx = Context(job_id=job.id, owner=job.owner, params=exporting.ExportParams(resource="products"), round=1)
    ctx.files = shop.files
    ctx.index = job.total - 1
    ctx.save_file(f"{exporting.PART_PREFIX}000000000000-5-5", [b"SKU,x\r\n"], "text/csv", kind="part")

    again = exporting.Export(shop.resources, shop._resource_databases)._assemble(ctx, ctx_plan(shop))

    assert again["artifact_id"] == made.id
    assert [a.id for a in shop.artifacts(job.id) if a.kind == "export"] == [made.id]
    with shop.open_artifact(made.id) as stream:
        assert stream.read() == data
    assert not [f for f in ctx.list_files() if f.name.startswith(exporting.PART_PREFIX)]


def test_a_page_written_twice_with_different_row_counts_is_joined_once() -> None:
    """A page run again after its worker was lost may read a row more or less: the latest part stands."""

    def part(id: int, name: str) -> Any:
        return type("Part", (), {"id": id, "name": exporting.PART_PREFIX + name})()

    last = [part(1, "000000000000-5000-5000"), part(2, "000000005000-3-3"), part(3, "000000005000-3-2")]
    middle = [part(4, "000000000000-5000-5000"), part(5, "000000000000-5000-4999"), part(6, "000000005000-3-3")]

    assert [p.id for p in exporting._ordered_parts(last, expected=5003)] == [1, 3]
    assert [p.id for p in exporting._ordered_parts(middle, expected=5003)] == [5, 6]


@pytest.mark.parametrize("descending", [False, True])
def test_pages_stepped_along_the_key_are_the_pages_numbered_in_one_pass(shop: Yard, descending: bool) -> None:
    """Planning in key order steps along the key's index; it must cut the very pages the sorted pass cuts."""
    load(shop, csv_bytes(list(product_rows(23))))
    resource = shop.resources["products"]
    order = resource_reads.Order(None, descending)
    with shop._resource_databases.reading(resource) as conn:
        table = resource_reads.resource_table(conn, resource, create=False)
        columns = [table.c[name] for name in resource_reads.sort_columns(resource, order)]
        ordering = [c.desc() if descending else c.asc() for c in columns]
        for conditions in (
            [],
            [resource_reads.Condition("stock", "ge", 7)],
            [resource_reads.Condition("sku", "eq", "-")],
        ):
            where = resource_reads._where(conn, table, resource, conditions)
            for page_rows in (1, 5, 16, 23, 50):
                stepped = list(resource_reads.page_bounds(conn, resource, conditions, order, page_rows))
                numbered = list(resource_reads._numbered_bounds(conn, columns, ordering, where, page_rows))
                assert stepped == numbered, (conditions, page_rows)
        assert sum(rows for *_, rows in resource_reads.page_bounds(conn, resource, [], order, 5)) == 23


def test_rows_in_key_order_are_planned_by_steps_and_others_in_one_sorted_pass(
    shop: Yard, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(shop, csv_bytes(list(product_rows(12))))
    resource = shop.resources["products"]
    used: list[str] = []
    for name in ("_stepped_bounds", "_numbered_bounds"):
        real = getattr(resource_reads, name)
        monkeypatch.setattr(
            resource_reads, name, lambda *a, _real=real, _name=name, **k: used.append(_name) or _real(*a, **k)
        )
    with shop._resource_databases.reading(resource) as conn:
        by_key = list(resource_reads.page_bounds(conn, resource, [], resource_reads.Order("sku", True), 5))
        by_name = list(resource_reads.page_bounds(conn, resource, [], resource_reads.Order("name"), 5))
    assert used == ["_stepped_bounds", "_numbered_bounds"]
    assert [rows for *_, rows in by_key] == [rows for *_, rows in by_name] == [5, 5, 2]


PAIRS = "CREATE TABLE pairs (a bigint NOT NULL, b bigint NOT NULL, v text)"


class Event(BaseModel):
    at: datetime.datetime
    n: int


def test_a_key_stored_in_another_form_than_it_reads_back_fails_planning_instead_of_looping(tmp_path: Path) -> None:
    """An existing SQLite table keeping datetimes as 2024-01-01T08:00:00: read back and bound again they sort
    before every row of that day, so a step would find the same position for ever."""
    path = tmp_path / "events.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE events (at DATETIME PRIMARY KEY, n integer)")
        base = datetime.datetime(2024, 1, 1, 8)
        db.executemany(
            "INSERT INTO events VALUES (?, ?)",
            [((base + datetime.timedelta(seconds=i)).isoformat(), i) for i in range(12)],
        )
    resource = define_resource("events", Event, key=["at"], database_url=f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            bounds = resource_reads.page_bounds(conn, resource, [], resource_reads.Order(None), 5)
            with pytest.raises(InvalidParams, match="do not compare as they read back"):
                list(islice(bounds, 50))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "statements",
    [
        [
            "CREATE TABLE pairs (a bigint NOT NULL, b bigint NOT NULL, v text)",
            "CREATE UNIQUE INDEX pairs_ba ON pairs (b, a)",
        ],
        [PAIRS],
    ],
)
def test_rows_in_key_order_without_an_index_in_that_order_are_planned_in_one_sorted_pass(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, statements: list[str]
) -> None:
    """A step walks the key's index; without one in key order, each step would sort the rest of the table."""

    class Pair(BaseModel):
        a: int
        b: int
        v: str

    engine = create_engine(database_url)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("INSERT INTO pairs VALUES (1, 2, 'x'), (2, 1, 'y'), (3, 0, 'z')")
    engine.dispose()
    yard = Yard(database_url, data_dir=tmp_path)
    try:
        yard.resource("pairs", Pair, key=["a", "b"])
        used: list[str] = []
        real = resource_reads._numbered_bounds
        monkeypatch.setattr(
            resource_reads, "_numbered_bounds", lambda *a, **k: used.append("numbered") or real(*a, **k)
        )
        with yard._resource_databases.reading(yard.resources["pairs"]) as conn:
            bounds = list(resource_reads.page_bounds(conn, yard.resources["pairs"], [], resource_reads.Order(None), 2))
        assert used == ["numbered"]
        assert [rows for *_, rows in bounds] == [2, 1]
    finally:
        yard.close()


def test_filtered_rows_are_planned_in_one_sorted_pass(shop: Yard, monkeypatch: pytest.MonkeyPatch) -> None:
    """A filter may lead the database to another index and a sort at every step: filtered exports are numbered."""
    load(shop, csv_bytes(list(product_rows(12))))
    used = _spied(monkeypatch)
    resource = shop.resources["products"]
    with shop._resource_databases.reading(resource) as conn:
        condition = resource_reads.Condition("stock", "ge", 0)
        bounds = list(resource_reads.page_bounds(conn, resource, [condition], resource_reads.Order(None), 5))
    assert used == ["numbered"]
    assert [rows for *_, rows in bounds] == [5, 5, 2]


def _spied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each planning in one sorted pass."""
    used: list[str] = []
    real = resource_reads._numbered_bounds
    monkeypatch.setattr(resource_reads, "_numbered_bounds", lambda *a, **k: used.append("numbered") or real(*a, **k))
    return used
