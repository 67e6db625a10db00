"""Errors files: failed items with their input and reason, as CSV and XLSX, safe to open and ready to re-upload."""

from __future__ import annotations

import csv
import io
import re
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from batchyard.service.error_reports import (
    PIECE_BYTES,
    FailedRow,
    errors_csv,
    errors_xlsx,
    report_columns,
    report_header,
)

SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

PRODUCTS = [
    FailedRow(0, {"sku": "A-1", "price": "-2"}, "price must be ≥ 0", 1),
    FailedRow(4, {"sku": "=1+1", "name": "连衣裙", "price": "9.90"}, "sku '=1+1' is not valid", 3),
]


def _csv_rows(pieces: Iterator[bytes]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(pieces).decode("utf-8-sig"), newline="")))


def test_record_items_give_the_union_of_their_keys_in_first_seen_order() -> None:
    assert report_columns(PRODUCTS) == ["sku", "price", "name"]


def test_columns_come_from_the_first_thousand_rows() -> None:
    rows = [FailedRow(i, {"a": i}, "bad", 1) for i in range(1_000)] + [FailedRow(1_000, {"late": 1}, "bad", 1)]
    assert report_columns(rows) == ["a"]


@pytest.mark.parametrize("items", [["SKU-1", "SKU-2"], [1, 2], [{"a": 1}, "SKU-2"], []])
def test_anything_but_records_goes_in_one_item_column(items: list[Any]) -> None:
    assert report_columns(FailedRow(i, item, "bad", 1) for i, item in enumerate(items)) == ["item"]


def test_the_added_columns_follow_the_items_own_in_either_language() -> None:
    assert report_header(["sku"], language="en") == ["sku", "error", "row", "attempts"]
    assert report_header(["sku"], language="zh-CN") == ["sku", "错误原因", "行号", "尝试次数"]


def test_an_added_column_never_takes_the_name_of_an_items_column() -> None:
    header = report_header(["sku", "error", "row"], language="en")
    assert header == ["sku", "error", "row", "_error", "_row", "attempts"]


def test_csv_starts_with_a_bom_and_ends_lines_with_crlf() -> None:
    data = b"".join(errors_csv(PRODUCTS, ["sku", "price", "name"], language="en"))
    assert data.startswith(b"\xef\xbb\xbfsku,price,name,error,row,attempts\r\n")
    assert data.count(b"\r\n") == 3
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_csv_has_record_items_in_their_columns_with_formulas_neutralised() -> None:
    rows = _csv_rows(errors_csv(PRODUCTS, report_columns(PRODUCTS), language="en"))
    assert rows == [
        ["sku", "price", "name", "error", "row", "attempts"],
        ["A-1", "'-2", "", "price must be ≥ 0", "1", "1"],
        ["'=1+1", "9.90", "连衣裙", "sku '=1+1' is not valid", "5", "3"],
    ]


def test_csv_puts_other_items_whole_in_the_item_column() -> None:
    failed = [FailedRow(0, "SKU-1", "=not found", 2), FailedRow(1, [1, "二"], "bad", 1), FailedRow(2, 7, "odd", 1)]
    rows = _csv_rows(errors_csv(failed, report_columns(failed), language="zh-CN"))
    assert rows == [
        ["item", "错误原因", "行号", "尝试次数"],
        ["SKU-1", "'=not found", "1", "2"],
        ['[1,"二"]', "bad", "2", "1"],
        ["7", "odd", "3", "1"],
    ]


def test_a_record_item_among_others_is_kept_whole() -> None:
    rows = _csv_rows(errors_csv([FailedRow(0, {"a": "=x"}, "bad", 1)], ["item"], language="en"))
    assert rows[1][0] == '{"a":"=x"}'


def test_csv_streams_in_pieces_of_about_64_kib() -> None:
    failed = [FailedRow(i, {"sku": f"SKU-{i:06}", "name": "连衣裙" * 10}, "duplicate", 1) for i in range(20_000)]
    pieces = list(errors_csv(failed, ["sku", "name"], language="en"))
    assert len(pieces) > 10
    assert all(PIECE_BYTES <= len(piece) < 8 * PIECE_BYTES for piece in pieces[:-1])
    assert len(_csv_rows(iter(pieces))) == 20_001


def _sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as workbook:
        assert workbook.testzip() is None
        return workbook.read("xl/worksheets/sheet1.xml").decode()


def _cells(sheet_xml: str) -> list[list[tuple[str, str]]]:
    """Each row as (type, value) pairs: inline strings (constant-memory mode), numbers, booleans."""
    root = ElementTree.fromstring(sheet_xml)
    return [
        [(cell.get("t", "n"), "".join(cell.itertext())) for cell in row.iter(f"{SHEET}c")]
        for row in root.iter(f"{SHEET}row")
    ]


def test_xlsx_holds_the_values_as_text_and_never_a_formula() -> None:
    data = b"".join(errors_xlsx(PRODUCTS, report_columns(PRODUCTS), language="en"))
    sheet = _sheet_xml(data)
    assert "<f>" not in sheet
    assert "<f " not in sheet
    rows = _cells(sheet)
    assert [[value for _, value in row] for row in rows] == [
        ["sku", "price", "name", "error", "row", "attempts"],
        ["A-1", "-2", "price must be ≥ 0", "1", "1"],  # no name: an empty cell is not written
        ["=1+1", "9.90", "连衣裙", "sku '=1+1' is not valid", "5", "3"],
    ]
    assert [[kind for kind, _ in row] for row in rows] == [
        ["inlineStr"] * 6,
        ["inlineStr"] * 3 + ["n"] * 2,
        ["inlineStr"] * 4 + ["n"] * 2,
    ]


def _shared_strings(workbook: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in workbook.namelist():
        return []  # constant-memory mode writes inline strings
    root = ElementTree.fromstring(workbook.read("xl/sharedStrings.xml"))
    return [_ooxml_text(si) for si in root.iter(f"{SHEET}si")]


def _ooxml_text(element: ElementTree.Element) -> str:
    """The element's text with OOXML's ``_xHHHH_`` escapes (a CR is written as ``_x000D_``) read back."""
    return re.sub(r"_x([0-9A-F]{4})_", lambda match: chr(int(match[1], 16)), "".join(element.itertext()))


def _quoted_texts(data: bytes) -> dict[str, bool]:
    """Each text cell's text (inline or shared) and whether its style has Excel's quote prefix."""
    with zipfile.ZipFile(io.BytesIO(data)) as workbook:
        sheet = ElementTree.fromstring(workbook.read("xl/worksheets/sheet1.xml"))
        styles = ElementTree.fromstring(workbook.read("xl/styles.xml"))
        strings = _shared_strings(workbook)
    quoted = [xf.get("quotePrefix") == "1" for xf in next(styles.iter(f"{SHEET}cellXfs")).iter(f"{SHEET}xf")]
    texts = {}
    for cell in sheet.iter(f"{SHEET}c"):
        if cell.get("t") == "inlineStr":
            texts[_ooxml_text(cell)] = quoted[int(cell.get("s", "0"))]
        elif cell.get("t") == "s":
            texts[strings[int(cell.findtext(f"{SHEET}v", "0"))]] = quoted[int(cell.get("s", "0"))]
    return texts


LIKE_FORMULAS = ["=1+1", "+8613800000000", "-5", '=HYPERLINK("http://x","y")', "＋86", "@SUM(A1)", "\tx", "\r1"]


def test_xlsx_keeps_text_that_looks_like_a_formula_whole_and_marks_it_as_text() -> None:
    failed = [
        FailedRow(0, {"sku": LIKE_FORMULAS[0], "phone": LIKE_FORMULAS[1], "price": LIKE_FORMULAS[2]}, "bad", 1),
        FailedRow(1, {"sku": LIKE_FORMULAS[3], "phone": LIKE_FORMULAS[4], "price": LIKE_FORMULAS[5]}, "=x", 2),
        FailedRow(2, {"sku": LIKE_FORMULAS[6], "phone": LIKE_FORMULAS[7], "price": "连衣裙"}, "bad", 1),
    ]
    data = b"".join(errors_xlsx(failed, ["=col", "sku", "phone", "price"], language="en"))
    sheet = _sheet_xml(data)
    assert "<f>" not in sheet
    assert "<f " not in sheet
    texts = _quoted_texts(data)
    marked = {text for text, quoted in texts.items() if quoted}
    assert marked == {"=col", "=x", *LIKE_FORMULAS}
    assert set(texts) - marked == {"sku", "phone", "price", "error", "row", "attempts", "连衣裙", "bad"}
    assert not any(text.startswith("'") for text in texts)


def test_xlsx_header_that_looks_like_a_formula_is_bold_and_marked_as_text() -> None:
    data = b"".join(errors_xlsx([FailedRow(0, {"-a": "1"}, "bad", 1)], ["-a"], language="en"))
    with zipfile.ZipFile(io.BytesIO(data)) as workbook:
        styles = ElementTree.fromstring(workbook.read("xl/styles.xml"))
    header = next(ElementTree.fromstring(_sheet_xml(data)).iter(f"{SHEET}c"))
    xf = list(next(styles.iter(f"{SHEET}cellXfs")).iter(f"{SHEET}xf"))[int(header.get("s", "0"))]
    font = list(next(styles.iter(f"{SHEET}fonts")).iter(f"{SHEET}font"))[int(xf.get("fontId", "0"))]
    assert "".join(header.itertext()) == "-a"
    assert xf.get("quotePrefix") == "1"
    assert font.find(f"{SHEET}b") is not None


def test_csv_still_quotes_text_that_looks_like_a_formula() -> None:
    failed = [FailedRow(0, {"-a": "+8613800000000", "b": "\t1"}, "@x", 1)]
    rows = _csv_rows(errors_csv(failed, ["-a", "b"], language="en"))
    assert rows == [["'-a", "b", "error", "row", "attempts"], ["'+8613800000000", "'\t1", "'@x", "1", "1"]]


def test_xlsx_has_a_bold_frozen_header_and_bounded_widths() -> None:
    long_text = "x" * 500
    data = b"".join(errors_xlsx([FailedRow(0, {"note": long_text}, "bad", 1)], ["note"], language="en"))
    sheet = _sheet_xml(data)
    root = ElementTree.fromstring(sheet)
    header, row = root.iter(f"{SHEET}row")
    assert all(cell.get("s") for cell in header.iter(f"{SHEET}c"))
    assert not any(cell.get("s") for cell in row.iter(f"{SHEET}c"))
    pane = next(root.iter(f"{SHEET}pane"))
    assert (pane.get("ySplit"), pane.get("state")) == ("1", "frozen")
    widths = [
        float(col.get("width", "0"))
        for col in root.iter(f"{SHEET}col")
        for _ in range(int(col.get("min", "1")), int(col.get("max", "0")) + 1)
    ]
    assert len(widths) == 4
    assert 60 <= widths[0] <= 61  # 500 characters of text, capped
    assert all(8 <= width <= 61 for width in widths)
    with zipfile.ZipFile(io.BytesIO(data)) as workbook:
        assert "<b/>" in workbook.read("xl/styles.xml").decode()


def test_xlsx_names_its_sheet_and_columns_in_chinese() -> None:
    data = b"".join(errors_xlsx([FailedRow(0, "SKU-1", "重复", 1)], ["item"], language="zh-CN"))
    with zipfile.ZipFile(io.BytesIO(data)) as workbook:
        assert 'name="错误"' in workbook.read("xl/workbook.xml").decode()
    assert [value for _, value in _cells(_sheet_xml(data))[0]] == ["item", "错误原因", "行号", "尝试次数"]


def test_xlsx_keeps_numbers_and_writes_ids_excel_would_round_as_text() -> None:
    item = {"count": 3, "ratio": 0.5, "ok": True, "id": 12345678901234567, "none": None}
    data = b"".join(errors_xlsx([FailedRow(0, item, "bad", 1)], list(item), language="en"))
    assert _cells(_sheet_xml(data))[1][:4] == [("n", "3"), ("n", "0.5"), ("b", "1"), ("inlineStr", "12345678901234567")]


def _rows_of(count: int) -> list[FailedRow]:
    return [FailedRow(i, f"SKU-{i}", "bad", 1) for i in range(count)]


def test_xlsx_that_fits_the_sheet_has_every_row() -> None:
    data = b"".join(errors_xlsx(_rows_of(4), ["item"], language="en", max_rows=5))
    assert [row[0][1] for row in _cells(_sheet_xml(data))] == ["item", "SKU-0", "SKU-1", "SKU-2", "SKU-3"]


@pytest.mark.parametrize(("language", "notice"), [("en", "The sheet is full"), ("zh-CN", "工作表已满")])
def test_xlsx_past_the_sheet_limit_ends_with_a_row_saying_the_rest_was_cut(language: str, notice: str) -> None:
    data = b"".join(errors_xlsx(_rows_of(6), ["item"], language=language, max_rows=5))
    rows = _cells(_sheet_xml(data))
    assert [row[0][1] for row in rows[:4]] == ["item", "SKU-0", "SKU-1", "SKU-2"]
    assert len(rows) == 5
    assert rows[4][0][1].startswith(notice)


def test_xlsx_leaves_no_temporary_file_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pieces = errors_xlsx(_rows_of(50_000), ["item"], language="en")
    assert next(pieces).startswith(b"PK")
    pieces.close()  # the download was abandoned after its first piece
    assert list(tmp_path.iterdir()) == []
