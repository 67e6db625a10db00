"""Exports end to end through a yard and its worker, on SQLite and PostgreSQL: a resource's rows filtered,
ordered and written as CSV, XLSX or JSON Lines, the file an artifact of the job; an export imported again
gives back the same rows."""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import create_engine, text

from batchyard import Yard
from batchyard.core.model import Job
from tests.support.shop import csv_bytes, declare, product_rows


@pytest.fixture
def shop(yard: Yard) -> Yard:
    return declare(yard)


def load(yard: Yard, rows: list[list[Any]]) -> None:
    upload = yard.upload(io.BytesIO(csv_bytes(rows)), filename="seed.csv")
    job = yard.run_until_done(
        yard.submit("import", params={"resource": "products"}, upload_ids=[upload.id]).id, timeout=300
    )
    assert job.status == "succeeded", job.error


def export(yard: Yard, **params: Any) -> tuple[Job, bytes]:
    job = yard.run_until_done(yard.submit("export", params={"resource": "products", **params}).id, timeout=300)
    assert job.status == "succeeded", job.error
    [artifact] = [a for a in yard.artifacts(job.id) if a.kind == "export"]
    with yard.open_artifact(artifact.id) as stream:
        return job, stream.read()


def test_a_csv_export_has_every_row_in_key_order_with_titles(shop: Yard) -> None:
    load(shop, list(product_rows(12_001)))
    job, data = export(shop, language="zh-CN", bom=True)
    assert job.total == 12_002  # the rows, and the file made of them
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["商品编码", "名称", "价格", "库存", "上架日期"]
    assert len(rows) == 12_002
    assert rows[1] == ["SKU0000000", "商品 0 号", "0.00", "0", "2024-01-01"]
    assert [r[0] for r in rows[1:]] == sorted(r[0] for r in rows[1:])
    assert [a.kind for a in shop.artifacts(job.id)] == ["export"]  # the parts are gone


def test_filters_columns_and_order(shop: Yard) -> None:
    load(shop, list(product_rows(300)))
    _, data = export(
        shop,
        columns=["sku", "price"],
        filter=[{"field": "stock", "op": "ge", "value": 250}, {"field": "name", "op": "contains", "value": "9"}],
        order_by="-price",
        format="jsonl",
    )
    found = [json.loads(line) for line in data.decode().splitlines()]
    expected = [r for r in product_rows(300) if r[3] >= 250 and "9" in r[1]]
    assert sorted(found, key=lambda r: r["sku"]) == sorted(
        ({"sku": r[0], "price": r[2]} for r in expected), key=lambda r: r["sku"]
    )
    prices = [Decimal(r["price"]) for r in found]
    assert prices == sorted(prices, reverse=True)


def test_formula_like_text_is_neutralised_in_csv_and_xlsx(shop: Yard) -> None:
    load(shop, [["F1", "=1+2", "1.00", 1, ""], ["F2", "@SUM(A1)", "2.00", 2, ""], ["F3", "-5 apples", "3.00", 3, ""]])
    _, data = export(shop)
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert [r[1] for r in rows[1:]] == ["'=1+2", "'@SUM(A1)", "'-5 apples"]
    _, book = export(shop, format="xlsx")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(book)).get_sheet_by_index(0).to_python()
    assert [r[1] for r in sheet[1:]] == ["=1+2", "@SUM(A1)", "-5 apples"]  # text cells, not formulas
    assert b"<f>" not in _sheet_xml(book)


def _sheet_xml(book: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def test_gzip_and_xlsx_types(shop: Yard) -> None:
    load(shop, [["G1", "连衣裙", "12.50", 3, "2025-02-28"], ["G2", "x", "0.10", 0, ""]])
    _, data = export(shop, gzip=True)
    assert gzip.decompress(data).decode().splitlines()[1] == "G1,连衣裙,12.50,3,2025-02-28"
    _, book = export(shop, format="xlsx")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(book)).get_sheet_by_index(0).to_python()
    assert sheet[1][2:] == [12.5, 3.0, datetime.date(2025, 2, 28)]


def test_an_empty_result_is_a_file_with_its_header(shop: Yard) -> None:
    load(shop, [["E1", "x", "1.00", 1, ""]])
    job, data = export(shop, filter=[{"field": "sku", "op": "eq", "value": "nope"}])
    assert data.decode().splitlines() == ["sku,name,price,stock,launched"]
    assert job.total == 1


def test_bad_params_fail_the_job_with_what_is_wrong(shop: Yard) -> None:
    load(shop, [["B1", "x", "1.00", 1, ""]])
    job = shop.run_until_done(
        shop.submit("export", params={"resource": "products", "columns": ["nope"]}).id, timeout=60
    )
    assert job.status == "failed"
    assert "nope" in (job.error or "")


def test_an_export_imported_again_gives_back_the_same_rows(shop: Yard, tmp_path: Any) -> None:
    rows = list(product_rows(100_000))
    rows[7][1] = "=cmd|' /C calc'!A0"
    rows[8][4] = ""
    load(shop, rows)
    _, data = export(shop, bom=True)
    other = declare(Yard(f"sqlite:///{tmp_path}/copy.db", data_dir=tmp_path / "copy"))
    try:
        upload = other.upload(io.BytesIO(data), filename="products.csv")
        job = other.run_until_done(
            other.submit("import", params={"resource": "products"}, upload_ids=[upload.id]).id, timeout=300
        )
        assert (job.status, job.succeeded) == ("succeeded", 100_000), job.error
        assert _rows(other) == _rows(shop)
    finally:
        other.close()


def _rows(yard: Yard) -> list[tuple[Any, ...]]:
    engine = create_engine(yard.settings.database_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT sku, name, price, stock, launched FROM products ORDER BY sku")).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], Decimal(str(r[2])), int(r[3]), str(r[4]) if r[4] is not None else None) for r in found]
