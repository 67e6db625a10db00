"""Cutting a text table into pieces and reading each piece back must give exactly the rows one pass of the csv
module over the whole file gives — same cells, same line numbers, blank lines left out the same way — however the
pieces fall (a quoted cell over a cut, a blank line at a cut, CRLF, no final line break)."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchyard.errors import InvalidParams
from batchyard.jobs.tabular.reading import is_blank
from batchyard.jobs.tabular.segments import TextLayout, read_piece, scan

CELLS = st.one_of(
    st.sampled_from(
        ["", " ", "a", "价格", "12.50", '"', 'say "hi"', "a,b", "two\nlines", "crlf\r\nin cell", "\u3000", "nul\x00"]
    ),
    st.text(alphabet='ab," \n中', max_size=6),
)
ROWS = st.lists(st.lists(CELLS, min_size=0, max_size=4), min_size=0, max_size=40)


def _reference(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """Every non-blank record after the header, with the line it starts on, from one csv pass."""
    reader = csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter, strict=True)
    found, start, header_seen = [], 1, False
    for cells in reader:
        if not is_blank(cells):
            if header_seen:
                found.append((start, cells))
            header_seen = True
        start = reader.line_num + 1
    return found


def _pieced(data: bytes, *, format: str = "csv", rows_per_segment: int, encoding: str | None = None) -> list:
    layout, pieces = scan(io.BytesIO(data), format=format, encoding=encoding, rows_per_segment=rows_per_segment)
    rows = []
    for piece in pieces:
        part = TextLayout(layout.format, piece.encoding, layout.header, 0, 0)
        got = read_piece(data[piece.offset : piece.offset + piece.length], part, piece.line)
        assert len(got) == piece.rows, "a piece must hold the rows counted for it"
        rows.extend((row.number, row.values[: len(row.values)]) for row in got)
    return rows


def _file(rows: list[list[str]], terminator: str, extra: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=terminator)
    writer.writerow(["sku", "name", "price", "note"])
    for i, row in enumerate(rows):
        writer.writerow(row)
        if extra and i % 3 == 0:
            buffer.write(extra[i % len(extra)])
    return buffer.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=ROWS,
    terminator=st.sampled_from(["\n", "\r\n"]),
    extra=st.lists(st.sampled_from(["\n", ",,,\n", " , ,\r\n", "\u3000,,\n", ",x,\n", "\t\n"]), max_size=3),
    per_segment=st.integers(min_value=1, max_value=7),
    final_break=st.booleans(),
)
def test_pieces_give_the_rows_of_one_csv_pass(rows, terminator, extra, per_segment, final_break) -> None:
    text = _file(rows, terminator, extra)
    if not final_break:
        text = text.rstrip("\r\n") if not text.endswith('"\n') else text
    data = text.encode()
    expected = [(n, cells) for n, cells in _reference(text, ",")]
    got = [(n, cells[: len(cells)]) for n, cells in _pieced(data, rows_per_segment=per_segment)]
    width = 4
    assert [(n, c + [""] * (width - len(c))) for n, c in expected] == got


# Cells the csv module writes without quotes, spaces of every kind at either end: a piece of them is counted by
# its line breaks alone, unless a line may be blank — which the count must then still leave out.
UNQUOTED = st.text(alphabet="ab 中\u3000\t\x1c\x0b", max_size=5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(UNQUOTED, min_size=0, max_size=4), min_size=0, max_size=40),
    terminator=st.sampled_from(["\n", "\r\n"]),
    extra=st.lists(st.sampled_from(["\n", ",,,\n", " , ,\r\n", "\u3000,,\n", ",x,\n", "\t\n", "\x1c\n"]), max_size=3),
    per_segment=st.integers(min_value=1, max_value=7),
    final_break=st.booleans(),
    format=st.sampled_from(["csv", "tsv"]),
)
def test_pieces_without_quotes_give_the_rows_of_one_csv_pass(
    rows, terminator, extra, *, per_segment, final_break, format
) -> None:
    delimiter = "," if format == "csv" else "\t"
    if format == "tsv":
        rows = [[cell.replace("\t", " ") for cell in row] for row in rows]
        extra = [line.replace(",", "\t") for line in extra]
    text = _file(rows, terminator, extra).replace(",", delimiter) if format == "tsv" else _file(rows, terminator, extra)
    if not final_break:
        text = text.rstrip("\r\n")
    data = text.encode()
    expected = _reference(text, delimiter)
    got = _pieced(data, format=format, rows_per_segment=per_segment)
    width = 4
    assert [(n, c + [""] * (width - len(c))) for n, c in expected] == got


@pytest.mark.parametrize("limit", [8, 64])
def test_a_line_past_the_field_size_limit_is_refused_however_it_is_counted(limit: int) -> None:
    """A piece is counted without splitting its lines only when no line can be over the csv module's limit on a
    field; a longer one is refused by the scan with its line, as the csv module would refuse it."""
    text = "sku,name\n" + "".join(f"s{i},x\n" for i in range(30)) + "s99," + "y" * (limit + 1) + "\n"
    before = csv.field_size_limit(limit)
    try:
        with pytest.raises(InvalidParams) as caught:
            list(scan(io.BytesIO(text.encode()), format="csv", rows_per_segment=1000)[1])
    finally:
        csv.field_size_limit(before)
    assert "field larger than field limit" in caught.value.message()
    assert "line 32" in caught.value.message()


def test_a_quoted_cell_across_many_cuts_stays_one_row() -> None:
    long_cell = "\n".join(f"line {i}" for i in range(5000))
    text = 'sku,note\nA1,"' + long_cell + '"\nA2,short\n'
    rows = _pieced(text.encode(), rows_per_segment=1)
    assert rows == [(2, ["A1", long_cell]), (5002, ["A2", "short"])]


def test_gb18030_after_an_ascii_head_switches_in_a_later_piece() -> None:
    head = "".join(f"SKU{i},plain\n" for i in range(20_000))
    data = ("sku,name\n" + head + "SKU-X,连衣裙\n").encode("gb18030")
    layout, pieces = scan(io.BytesIO(data), format="csv", rows_per_segment=1000)
    pieces = list(pieces)
    assert pieces[0].encoding == "utf-8"
    assert pieces[-1].encoding == "gb18030"
    last = pieces[-1]
    rows = read_piece(data[last.offset :], TextLayout("csv", last.encoding, layout.header, 0, 0), last.line)
    assert rows[-1].values == ["SKU-X", "连衣裙"]
    assert rows[-1].number == 20_002


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('sku,name\nA1,"never closed\nA2,x\n', "unexpected end of data"),
        ("sku,name\nA1,x\rA2,y\n", "new-line character"),
    ],
)
def test_an_unreadable_file_fails_the_scan_with_its_line(text: str, words: str) -> None:
    with pytest.raises(InvalidParams) as caught:
        list(scan(io.BytesIO(text.encode()), format="csv", rows_per_segment=1)[1])
    assert words in caught.value.message()
    assert "line" in caught.value.message()


def test_bytes_of_no_encoding_are_named_by_their_line() -> None:
    data = "sku,name\nA1,连衣裙\nA2,x\n".encode() + b"A3,\xff\xfe\n"
    with pytest.raises(InvalidParams) as caught:
        list(scan(io.BytesIO(data), format="csv", encoding="utf-8")[1])
    assert "line 4" in caught.value.message()


def test_json_lines_pieces_count_their_objects() -> None:
    lines = [f'{{"sku": "A{i}", "n": 1}}' for i in range(50)]
    data = ("\n".join(lines[:10]) + "\n\n  \n" + "\n".join(lines[10:]) + "\n").encode()
    layout, pieces = scan(io.BytesIO(data), format="jsonl", rows_per_segment=7)
    got = []
    for piece in pieces:
        part = TextLayout("jsonl", piece.encoding, layout.header, 0, 0)
        found = read_piece(data[piece.offset : piece.offset + piece.length], part, piece.line)
        assert len(found) == piece.rows
        got.extend(found)
    assert [r.values[0] for r in got] == [f"A{i}" for i in range(50)]
    assert got[10].number == 13  # two blank lines before it


@pytest.mark.parametrize("first_chinese", ["一等品", "业务", "中文"])
def test_gbk_whose_first_character_is_also_valid_utf8_bytes_is_still_found(first_chinese: str) -> None:
    """一 in GBK is two bytes that are valid UTF-8 together: the piece fails as UTF-8 later, not at its first
    non-ASCII byte, and must still fall back to GB18030 as a line-by-line reading would."""
    ascii_rows = "".join(f"s{i},plain\n" for i in range(8000))  # past the 64 KiB head
    data = ("sku,name\n" + ascii_rows).encode() + f"s9,{first_chinese}\ns10,连衣裙\n".encode("gbk")
    for per_segment in (1, 5000):
        layout, pieces = scan(io.BytesIO(data), format="csv", rows_per_segment=per_segment)
        last = list(pieces)[-1]
        rows = read_piece(data[last.offset :], TextLayout("csv", last.encoding, layout.header, 0, 0), last.line)
        assert [r.values for r in rows[-2:]] == [["s9", first_chinese], ["s10", "连衣裙"]]


def test_a_utf8_line_before_a_gbk_one_keeps_the_file_utf8_and_names_the_gbk_line() -> None:
    ascii_rows = "".join(f"s{i},plain\n" for i in range(8000))
    data = ("sku,name\n" + ascii_rows + "s9,中文\n").encode() + "s10,连衣裙\n".encode("gbk")
    with pytest.raises(InvalidParams) as caught:
        list(scan(io.BytesIO(data), format="csv")[1])
    assert "utf-8 on line 8003" in caught.value.message()
