"""Imports end to end through a yard and its worker, on SQLite and PostgreSQL: a file uploaded, its rows
validated by the resource's model and written to its table, failed rows kept with their line, cells and reasons."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
import xlsxwriter  # type: ignore[import-untyped]
from sqlalchemy import create_engine, text

from batchyard import Yard
from batchyard.core.model import Job
from batchyard.errors import InvalidParams
from batchyard.service.downloads import Downloads
from tests.support.shop import TITLES, Product


@pytest.fixture
def shop(yard: Yard) -> Yard:
    yard.resource("products", Product, key=["sku"], titles=TITLES)
    return yard


def csv_of(rows: list[list[Any]], header: str = "sku,name,price,stock,launched") -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # quotes what needs quoting, ends lines with CRLF as Excel does
    writer.writerow(header.split(","))
    writer.writerows(rows)
    return out.getvalue()


def run_import(yard: Yard, data: bytes, name: str = "products.csv", **params: Any) -> Job:
    upload = yard.upload(io.BytesIO(data), filename=name)
    job = yard.submit("import", params={"resource": "products", **params}, upload_ids=[upload.id])
    return yard.run_until_done(job.id, timeout=120)


def table_rows(yard: Yard) -> list[tuple[Any, ...]]:
    engine = create_engine(yard.settings.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT sku, name, price, stock, launched FROM products ORDER BY sku")).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]


def test_a_csv_imports_every_valid_row_and_keeps_the_bad_ones_with_their_line_and_reasons(shop: Yard) -> None:
    rows: list[list[Any]] = [[f"SKU{i:04d}", f"商品{i}", f"{i}.50", i, "2024-01-31"] for i in range(1000)]
    rows[10][2] = "-1"  # line 12: negative price
    rows[500][3] = "many"  # line 502: stock not a number
    rows[999][1] = ""  # line 1001: no name
    job = run_import(shop, csv_of(rows).encode())

    assert (job.status, job.total, job.succeeded, job.failed) == ("partially_succeeded", 1000, 997, 3)
    failed = sorted(shop.items(job.id, "failed"), key=lambda r: r.index)
    assert [(r.index, r.ref) for r in failed] == [(10, 12), (500, 502), (999, 1001)]
    assert failed[0].input == {
        "sku": "SKU0010",
        "name": "商品10",
        "price": "-1",
        "stock": "10",
        "launched": "2024-01-31",
    }
    assert failed[0].error == 'price: "-1" must be at least 0'
    assert failed[0].error_zh == 'price："-1" 必须大于或等于 0'
    assert "stock" in (failed[1].error or "")
    assert "name" in (failed[2].error or "")
    stored = table_rows(shop)
    assert len(stored) == 997
    assert stored[0][0] == "SKU0000"
    assert Decimal(str(stored[1][2])) == Decimal("1.50")


def test_gbk_and_utf8_with_bom_import_the_same_rows(yard: Yard, tmp_path: Any) -> None:
    text_ = csv_of(
        [["A1", "连衣裙，红色", "199.00", 3, ""], ["A2", '说 "你好"\n第二行', "5", 0, "2025-02-28"]],
        "商品编码,名称,价格,库存,上架日期",
    )
    results = []
    for encoding in ("gbk", "utf-8-sig"):
        y = Yard(yard.settings.database_url, data_dir=tmp_path / encoding, lease_seconds=2.0)
        y.resource("products", Product, key=["sku"], titles=TITLES)
        try:
            job = run_import(y, text_.encode(encoding), mode="upsert")
            assert (job.status, job.succeeded) == ("succeeded", 2), job.error
            results.append(table_rows(y))
        finally:
            y.close()
    assert results[0] == results[1]
    assert results[0][1][1] == '说 "你好"\n第二行'


def test_skip_existing_adds_nothing_on_a_second_import(shop: Yard) -> None:
    data = csv_of([[f"S{i}", "x", "1", 1, ""] for i in range(20)]).encode()
    first = run_import(shop, data)
    second = run_import(shop, data, mode="skip_existing")
    assert (first.succeeded, second.succeeded, second.skipped) == (20, 0, 20)
    assert len(table_rows(shop)) == 20


def test_insert_refuses_keys_in_the_table_or_repeated_in_the_file(shop: Yard) -> None:
    run_import(shop, csv_of([["K1", "x", "1", 1, ""]]).encode())
    job = run_import(shop, csv_of([["K1", "y", "1", 1, ""], ["K2", "y", "1", 1, ""], ["K2", "z", "1", 1, ""]]).encode())
    assert (job.succeeded, job.failed) == (1, 2)
    assert [r.ref for r in shop.items(job.id, "failed")] == [2, 4]
    assert table_rows(shop)[1][1] == "y"


def test_upsert_updates_existing_rows_and_the_last_repeat_wins(shop: Yard) -> None:
    run_import(shop, csv_of([["U1", "old", "1", 1, ""]]).encode())
    job = run_import(
        shop,
        csv_of([["U1", "new", "2", 2, ""], ["U2", "a", "1", 1, ""], ["U2", "b", "1", 1, ""]]).encode(),
        mode="upsert",
    )
    assert (job.succeeded, job.failed) == (3, 0)
    assert [r.output for r in shop.items(job.id)] == ["updated", "updated", "inserted"]
    assert [(r[0], r[1]) for r in table_rows(shop)] == [("U1", "new"), ("U2", "b")]


def test_a_dry_run_counts_what_would_happen_and_writes_nothing(shop: Yard) -> None:
    run_import(shop, csv_of([["D1", "x", "1", 1, ""]]).encode())
    job = run_import(
        shop,
        csv_of([["D1", "x", "1", 1, ""], ["D2", "x", "1", 1, ""], ["D3", "x", "-5", 1, ""]]).encode(),
        mode="upsert",
        dry_run=True,
    )
    assert (job.succeeded, job.failed) == (2, 1)
    assert [r.output for r in shop.items(job.id, "succeeded")] == ["updated", "inserted"]
    assert [r[0] for r in table_rows(shop)] == ["D1"]


def test_rows_span_many_chunks_and_every_row_is_written_once(shop: Yard) -> None:
    rows = [[f"M{i:06d}", "名称", "9.99", i, ""] for i in range(12_345)]
    job = run_import(shop, csv_of(rows).encode())
    assert (job.status, job.succeeded) == ("succeeded", 12_345)
    assert len(table_rows(shop)) == 12_345


def test_a_file_without_a_required_column_fails_the_job_with_the_column_named(shop: Yard) -> None:
    job = run_import(shop, b"sku,name\nA,b\n")
    assert job.status == "failed"
    assert "price" in (job.error or "")
    assert "stock" in (job.error or "")


def error_report(yard: Yard, job: Job, format: str = "csv", language: str = "en") -> bytes:
    return b"".join(Downloads(yard.store, yard.files).errors(job, format=format, language=language))


def test_the_error_report_holds_exactly_the_bad_rows_and_imports_once_fixed(shop: Yard) -> None:
    rows: list[list[Any]] = [[f"R{i:04d}", f"名称{i}", "1.00", i, ""] for i in range(1000)]
    rows[3][2] = "abc"
    rows[400][3] = "-4"
    rows[998][1] = '=HYPERLINK("http://x")'  # formula-like text: kept from running in the report
    rows[998][2] = "-1"
    job = run_import(shop, csv_of(rows).encode())
    assert (job.succeeded, job.failed) == (997, 3)

    report = list(csv.reader(io.StringIO(error_report(shop, job).decode("utf-8-sig"))))
    assert report[0] == ["sku", "name", "price", "stock", "launched", "error", "row", "attempts"]
    assert [(r[0], r[6]) for r in report[1:]] == [("R0003", "5"), ("R0400", "402"), ("R0998", "1000")]
    assert report[1][5] == 'price: "abc" is not a number'
    assert report[3][1] == '\'=HYPERLINK("http://x")'

    fixed = [[*r[:5], *r[5:]] for r in report]
    fixed[1][2], fixed[2][3], fixed[3][2] = "2.00", "4", "3.00"
    out = io.StringIO()
    csv.writer(out).writerows(fixed)
    again = run_import(shop, out.getvalue().encode("utf-8-sig"), name="errors.csv")
    assert (again.status, again.succeeded, again.failed) == ("succeeded", 3, 0)
    stored = {r[0]: r for r in table_rows(shop)}
    assert len(stored) == 1000
    assert stored["R0998"][1] == '=HYPERLINK("http://x")'
    assert stored["R0400"][3] == 4


def test_the_chinese_error_report_gives_reasons_in_chinese(shop: Yard) -> None:
    job = run_import(shop, csv_of([["Z1", "x", "-3", 1, ""]]).encode())
    report = list(csv.reader(io.StringIO(error_report(shop, job, language="zh-CN").decode("utf-8-sig"))))
    assert report[0][5:] == ["错误原因", "行号", "尝试次数"]
    assert report[1][5] == 'price："-3" 必须大于或等于 0'


def test_a_resource_in_another_database_is_not_imported_into(yard: Yard, tmp_path: Any) -> None:
    yard.resource("elsewhere", Product, key=["sku"], database_url=f"sqlite:///{tmp_path}/other.db")
    upload = yard.upload(io.BytesIO(csv_of([["A", "b", "1", 1, ""]]).encode()), filename="p.csv")
    job = yard.submit("import", params={"resource": "elsewhere"}, upload_ids=[upload.id])
    done = yard.run_until_done(job.id, timeout=60)
    assert done.status == "failed"
    assert "another database" in (done.error or "")


def test_an_unknown_resource_is_refused_at_submit(shop: Yard) -> None:
    upload = shop.upload(io.BytesIO(b"sku\nA\n"), filename="p.csv")
    with pytest.raises(InvalidParams, match="no resource 'nope'"):
        shop.submit("import", params={"resource": "nope"}, upload_ids=[upload.id])


def xlsx_of(rows: list[list[Any]], header: list[str] | None = None, sheet: str = "Sheet1") -> bytes:
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = workbook.add_worksheet(sheet)
    ws.write_row(0, 0, header or ["sku", "name", "price", "stock", "launched"])
    for r, row in enumerate(rows, start=1):
        ws.write_row(r, 0, row)
    workbook.close()
    return out.getvalue()


def test_a_workbook_imports_with_sheet_row_numbers_in_its_failures(shop: Yard) -> None:
    rows: list[list[Any]] = [[f"X{i}", f"名{i}", 1.5 + i, i, "2024-05-06"] for i in range(3000)]
    rows[7][3] = -1  # sheet row 9
    data = xlsx_of([*rows[:5], ["", "", "", "", ""], *rows[5:]])  # a blank row: sheet rows after it shift
    job = run_import(shop, data, name="products.xlsx")
    assert (job.status, job.total, job.succeeded, job.failed) == ("partially_succeeded", 3000, 2999, 1)
    [failed] = shop.items(job.id, "failed")
    assert failed.ref == 10
    assert failed.input == {"sku": "X7", "name": "名7", "price": "8.5", "stock": "-1", "launched": "2024-05-06"}
    stored = {r[0]: r for r in table_rows(shop)}
    assert Decimal(str(stored["X2"][2])) == Decimal("3.5")


def test_a_named_sheet_is_imported_and_a_missing_one_named_in_the_error(shop: Yard) -> None:
    data = xlsx_of([["S1", "n", 1, 1, ""]], sheet="商品")
    assert run_import(shop, data, name="p.xlsx", sheet="商品").succeeded == 1
    job = run_import(shop, data, name="p.xlsx", sheet="Other")
    assert job.status == "failed"
    assert "商品" in (job.error or "")
