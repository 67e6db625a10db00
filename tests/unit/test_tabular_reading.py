"""Reading an uploaded table: its format and encoding told from its content, then a header and numbered rows of
raw strings, whatever Excel, a script or a Chinese-locale PC wrote. Text files are read as an import reads them:
planned into pieces by ``scan`` and each piece read back by ``read_piece``."""

from __future__ import annotations

import codecs
import datetime
import io
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
import xlsxwriter

from batchyard.errors import InvalidParams
from batchyard.jobs.tabular.encoding import check_encoding, detect_encoding
from batchyard.jobs.tabular.formats import detect_format
from batchyard.jobs.tabular.reading import HEAD_BYTES, Row, shaped_row, sheet_records
from batchyard.jobs.tabular.segments import TextLayout, read_piece, scan

HEADER = ["编码", "名称", "价格"]
ROWS = [
    ["A-1", "苹果", "3.50"],
    ["A-2", "香蕉（进口）", "12"],
    ["A-3", "龍眼", "0.10"],
    ["A-4", "草莓，大果", "8"],
    ["A-5", "西瓜", "20"],
]


def _csv_text(rows: list[list[str]], delimiter: str = ",", newline: str = "\n") -> str:
    return newline.join(delimiter.join(row) for row in rows) + newline


def _read(data: bytes, *, filename: str | None = None, **options: str) -> tuple[list[str], list[Row]]:
    format = detect_format(data[:HEAD_BYTES], filename)
    if format == "xlsx":
        return _sheet(io.BytesIO(data), options.get("sheet"))
    return _scanned(io.BytesIO(data), lambda offset, length: data[offset : offset + length], format, **options)


def _scanned(
    source: IO[bytes], piece: Callable[[int, int], bytes], format: str, encoding: str | None = None
) -> tuple[list[str], list[Row]]:
    """The file planned as an import plans it, and every piece read back from ``piece(offset, length)``."""
    layout, pieces = scan(source, format=format, encoding=encoding)  # type: ignore[arg-type]
    rows: list[Row] = []
    for p in pieces:
        rows += read_piece(piece(p.offset, p.length), TextLayout(format, p.encoding, layout.header, 0, 0), p.line)
    return layout.header, rows


def _sheet(source: IO[bytes], sheet: str | None) -> tuple[list[str], list[Row]]:
    records = sheet_records(source, sheet)  # type: ignore[arg-type]
    _, header = next(records)
    return header, [shaped_row(number, cells, len(header)) for number, cells in records]


def _values(rows: list[Row]) -> list[list[str]]:
    return [row.values for row in rows]


class _Unseekable(io.RawIOBase):
    """An upload arriving as a stream (an object store's body) that cannot seek back."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    moment_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, datetime.datetime):
                    sheet.write_datetime(r, c, value, moment_format)
                elif isinstance(value, datetime.date):
                    sheet.write_datetime(r, c, value, date_format)
                elif value is not None:
                    sheet.write(r, c, value)
    workbook.close()
    return buffer.getvalue()


# -- encodings ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (_csv_text([HEADER, *ROWS]).encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + _csv_text([HEADER, *ROWS]).encode("utf-8"), "utf-8-sig"),
        (_csv_text([HEADER, *ROWS]).encode("gbk"), "gb18030"),
        (_csv_text([HEADER, *ROWS]).encode("utf-16"), "utf-16"),
    ],
)
def test_encoding_is_detected_from_the_head(encoded: bytes, expected: str) -> None:
    assert detect_encoding(encoded) == expected


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_the_same_chinese_rows_read_identically_in_every_encoding(encoding: str) -> None:
    header, rows = _read(_csv_text([HEADER, *ROWS]).encode(encoding))

    assert header == HEADER  # no BOM left in the first name
    assert _values(rows) == ROWS
    assert [row.number for row in rows] == [2, 3, 4, 5, 6]


def test_a_head_cut_inside_a_character_is_still_utf8() -> None:
    encoded = "名称,价格\n苹果,3\n".encode()
    cut = encoded[:2]  # the first two of 名's three bytes

    assert detect_encoding(encoded[:1] + encoded[3:7]) == "gb18030"  # sanity: broken UTF-8 is not UTF-8
    assert detect_encoding(cut) == "utf-8"
    assert detect_encoding(encoded[:8]) == "utf-8"


def test_gbk_first_seen_past_the_sniffed_4kib_is_still_detected() -> None:
    rows = [["sku", "name"]] + [[f"S{n}", "plain"] for n in range(1000)] + [["S-cn", "苹果"]]

    _, read = _read(_csv_text(rows).encode("gbk"))

    assert read[-1].values == ["S-cn", "苹果"]


def test_gbk_past_an_ascii_head_is_read_and_a_wrong_explicit_encoding_names_the_line() -> None:
    rows = [["sku", "name"]] + [[f"S{n}", "x" * 60] for n in range(2000)] + [["S-cn", "苹果"]]
    data = _csv_text(rows).encode("gbk")
    assert data[:HEAD_BYTES].isascii()  # the head alone cannot tell

    _, read = _read(data)
    assert read[-1] == Row(2002, ["S-cn", "苹果"])
    with pytest.raises(InvalidParams, match=r"not valid utf-8 on line 2002; name the file's encoding"):
        _read(data, encoding="utf-8")


def test_an_unknown_explicit_encoding_is_refused_by_name() -> None:
    with pytest.raises(InvalidParams, match="unknown encoding 'klingon-8'"):
        _read(b"a,b\n1,2\n", encoding="klingon-8")


def test_explicit_utf8_reads_past_a_bom() -> None:
    assert check_encoding("UTF8", codecs.BOM_UTF8 + b"a") == "utf-8-sig"

    header, _ = _read(codecs.BOM_UTF8 + "名称,价格\n".encode(), encoding="utf-8")

    assert header == ["名称", "价格"]


# -- formats ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "filename", "expected"),
    [
        (b"a,b\n1,2\n", None, "csv"),
        (b'"a\tb",c\n', None, "csv"),  # the tab is inside quotes
        (b"a\tb,c\td\n", None, "tsv"),
        (b"a,b,c\td\n", "data.tsv", "csv"),  # the content wins over the name
        (b"name\nx\n", "data.tsv", "tsv"),  # one column: only the name can tell
        (b"name\nx\n", None, "csv"),
        (b'\n{"a": 1, "b": "x"}\n{"a": 2}\n', None, "jsonl"),
        (b'{"a": "' + b"x" * 100, None, "jsonl"),  # a first line longer than the head
        (b"{not json}\n", None, "csv"),
        ("编码\t名称\n".encode("gbk"), None, "tsv"),
    ],
)
def test_format_is_judged_by_content(head: bytes, filename: str | None, expected: str) -> None:
    assert detect_format(head, filename) == expected


def test_a_workbook_is_xlsx_whatever_its_name() -> None:
    assert detect_format(_workbook({"Sheet1": [["a"]]})[:4096], "products.csv") == "xlsx"


@pytest.mark.parametrize(
    ("head", "says"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), r"old Excel workbook \(\.xls"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "a PNG image"),
        (b"", "an empty file"),
        (b"<!DOCTYPE html><html></html>", "an HTML page"),
    ],
)
def test_other_files_are_refused_naming_the_supported_formats(head: bytes, says: str) -> None:
    with pytest.raises(InvalidParams, match=f"{says}.* is not a supported format; use csv, tsv, jsonl, xlsx"):
        detect_format(head, "products.xlsx")


# -- CSV and TSV --------------------------------------------------------------------------------------------------


def test_a_quoted_field_with_a_comma_and_a_newline_survives_and_numbering_counts_physical_lines() -> None:
    data = b'sku,note\nA-1,"first line, with a comma\nsecond line"\nA-2,plain\n'

    _, rows = _read(data)

    assert rows == [Row(2, ["A-1", "first line, with a comma\nsecond line"]), Row(4, ["A-2", "plain"])]


def test_crlf_line_ends_are_not_left_in_cells() -> None:
    data = _csv_text([HEADER, *ROWS], newline="\r\n").encode("gbk")

    header, rows = _read(data)

    assert header == HEADER
    assert _values(rows) == ROWS


def test_crlf_inside_a_quoted_field_is_kept() -> None:
    _, rows = _read(b'a,b\r\n1,"x\r\ny"\r\n2,z\r\n')

    assert rows == [Row(2, ["1", "x\r\ny"]), Row(4, ["2", "z"])]


def test_tsv_is_detected_and_read() -> None:
    data = _csv_text([HEADER, *ROWS], delimiter="\t").encode()

    assert detect_format(data) == "tsv"
    header, rows = _read(data)
    assert header == HEADER
    assert _values(rows) == ROWS


def test_blank_lines_are_skipped_but_keep_their_numbers() -> None:
    header, rows = _read(b"\n\nsku,name\n\nA-1,x\n,,\n  \nA-2,y\n")

    assert header == ["sku", "name"]
    assert rows == [Row(5, ["A-1", "x"]), Row(8, ["A-2", "y"])]


def test_short_rows_are_padded_and_long_rows_say_why() -> None:
    _, rows = _read(b"a,b,c\n1\n1,2,3,4\n")

    assert rows == [Row(2, ["1", "", ""]), Row(3, ["1", "2", "3", "4"], "row has 4 cells; the header has 3")]


def test_a_file_with_no_rows_is_refused() -> None:
    with pytest.raises(InvalidParams, match="no rows"):
        _read(b"\n\n")


def test_a_stream_that_cannot_seek_is_read_and_left_open() -> None:
    data = _csv_text([HEADER, *ROWS]).encode("gbk")
    source = io.BufferedReader(_Unseekable(data))

    _, rows = _scanned(source, lambda offset, length: data[offset : offset + length], "csv")

    assert _values(rows) == ROWS
    assert not source.closed


def test_two_hundred_thousand_rows_are_streamed_in_little_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("编码,名称,价格\n")
        for n in range(200_000):
            file.write(f'S{n},"商品 {n}, 大号",{n}.99\n')

    tracemalloc.start()
    try:
        with path.open("rb") as source, path.open("rb") as pieces:
            layout, planned = scan(source, format="csv")
            count, last = 0, None
            for piece in planned:
                pieces.seek(piece.offset)
                part = TextLayout("csv", piece.encoding, layout.header, 0, 0)
                for row in read_piece(pieces.read(piece.length), part, piece.line):
                    count, last = count + 1, row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 200_000
    assert last == Row(200_001, ["S199999", "商品 199999, 大号", "199999.99"])
    assert peak < 10 * 1024 * 1024, f"peak {peak / 1024 / 1024:.1f} MiB"


# -- JSON Lines ---------------------------------------------------------------------------------------------------


def test_jsonl_is_detected_and_read_in_the_first_objects_key_order() -> None:
    lines = [
        {"sku": "A-1", "名称": "苹果", "price": 3.50, "stock": 7, "active": True, "note": None},
        {"stock": 1, "sku": "A-2", "名称": "梨", "price": 1.10, "active": False},
        {"sku": "A-3", "tags": ["x"]},
    ]
    data = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).replace("3.5", "3.50").encode()

    assert detect_format(data) == "jsonl"
    header, rows = _read(data)
    assert header == ["sku", "名称", "price", "stock", "active", "note"]
    assert rows == [  # the first object is a row too
        Row(1, ["A-1", "苹果", "3.50", "7", "true", ""]),
        Row(2, ["A-2", "梨", "1.1", "1", "false", ""]),
        Row(3, ["A-3", "", "", "", "", ""], "unknown keys: tags"),
    ]


def test_jsonl_keeps_numbers_as_written_and_flags_lines_that_are_not_objects() -> None:
    data = b'{"price": 3.50}\n\n[1, 2]\n{"price": 1e3}\nnot json\n'

    header, rows = _read(data)

    assert header == ["price"]
    assert rows == [
        Row(1, ["3.50"]),
        Row(3, [], "the line is not a JSON object"),
        Row(4, ["1e3"]),
        Row(5, [], "the line is not a JSON object"),
    ]


# -- workbooks ----------------------------------------------------------------------------------------------------


def test_xlsx_cells_read_as_the_user_typed_them() -> None:
    rows: list[list[object]] = [
        [None],
        ["编码", "名称", "库存", "价格", "上架", "更新", "在售", "备注"],
        ["A-1", "苹果", 7, 3.5, datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 13, 5, 7), True, None],
        [None],
        ["A-2", "草莓，大果", 0, 0.1, None, None, False, "进口"],
        ["A-3", "超长", 12345678901, 1e20],
    ]

    header, read = _read(_workbook({"商品": rows}), filename="anything.bin")

    assert header == ["编码", "名称", "库存", "价格", "上架", "更新", "在售", "备注"]
    assert read == [
        Row(3, ["A-1", "苹果", "7", "3.5", "2024-02-29", "2024-02-29T13:05:07", "true", ""]),
        Row(5, ["A-2", "草莓，大果", "0", "0.1", "", "", "false", "进口"]),
        Row(6, ["A-3", "超长", "12345678901", "1e+20", "", "", "", ""]),
    ]


def test_a_sheet_is_chosen_by_name_or_the_first_is_read() -> None:
    data = _workbook({"First": [["a"], ["1"]], "第二": [["b"], ["2"]]})

    assert _read(data)[0] == ["a"]
    assert _read(data, sheet="第二") == (["b"], [Row(2, ["2"])])


def test_an_unknown_sheet_is_refused_listing_the_sheets() -> None:
    data = _workbook({"First": [["a"]], "第二": [["b"]]})

    with pytest.raises(InvalidParams, match="no sheet 'Missing'; its sheets: First, 第二"):
        _read(data, sheet="Missing")


def test_a_workbook_arriving_as_a_stream_is_read() -> None:
    source = io.BufferedReader(_Unseekable(_workbook({"S": [["a"], [1]]})))

    assert _sheet(source, None) == (["a"], [Row(2, ["1"])])


def test_a_damaged_workbook_is_refused() -> None:
    data = _workbook({"S": [["a"]]})

    with pytest.raises(InvalidParams, match="the workbook cannot be read"):
        _sheet(io.BytesIO(data[: len(data) // 2]), None)
