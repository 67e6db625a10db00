"""The errors file of a job: each failed item with its original input and the reason, as CSV or XLSX.

The item's own fields come first, in their own columns, so a user can fix the rows in a spreadsheet and upload
the same file again; the reason, the item's position and its attempts follow. The inputs came from users and the
file will be opened in Excel, so text that starts like a formula is kept from running: in CSV with a leading
``'`` (``core.cells``; CSV has no other way), in XLSX as the text itself in a string cell with Excel's quote
prefix, so a fixed sheet uploaded again reads exactly what was sent.
"""

from __future__ import annotations

import csv
import io
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import IO, Any

import xlsxwriter  # type: ignore[import-untyped]  # ships annotations but no py.typed marker

from batchyard.core.cells import Cell, cell_text, neutralise_formula

ITEM_COLUMN = "item"  # the one column for items that are not records (a SKU, an id, a URL)
COLUMN_SAMPLE = 1_000
SHEET_MAX_ROWS = 1_048_576  # Excel's limit, the header included
PIECE_BYTES = 64 * 1024
SPOOL_BYTES = 8 * 1024 * 1024

_TITLES = {
    "en": {"error": "error", "row": "row", "attempts": "attempts", "sheet": "errors"},
    "zh-CN": {"error": "错误原因", "row": "行号", "attempts": "尝试次数", "sheet": "错误"},
}
_CUT_NOTICE = {
    "en": "The sheet is full: the remaining failed items were cut. Download errors.csv to get all of them.",
    "zh-CN": "工作表已满，其余失败记录未列出。如需全部记录，请下载 errors.csv。",
}
_MIN_WIDTH, _MAX_WIDTH = 8, 60
_EXCEL_EXACT_INTEGERS = 10**15  # Excel keeps 15 significant digits: a longer id would come back changed


@dataclass(frozen=True, slots=True)
class FailedRow:
    index: int
    item: Any
    error: str
    attempts: int
    ref: int | None = None  # its place in the source (an imported row's line), shown instead of its position


def report_columns(rows_sample: Iterable[FailedRow]) -> list[str]:
    """The item's columns: the keys of record items in the order first seen (in up to 1,000 rows, since the
    header is written before the rows stream), else the single ``item`` column."""
    items = [row.item for row in islice(rows_sample, COLUMN_SAMPLE) if row.item is not None]
    if not items or not all(isinstance(item, dict) for item in items):
        return [ITEM_COLUMN]
    return list(dict.fromkeys(str(key) for item in items for key in item))


def report_header(columns: list[str], *, language: str) -> list[str]:
    """The header row: the item's columns, then the reason, the item's 1-based position and its attempts,
    titled in ``language`` and never named like one of the item's columns (the upload would read it back).
    Text is as it is; each writer keeps it from being read as a formula in its own way."""
    titles = _TITLES[_language(language)]
    taken = set(columns)
    return columns + [_untaken(titles[key], taken) for key in ("error", "row", "attempts")]


def _untaken(title: str, taken: set[str]) -> str:
    while title in taken:
        title = f"_{title}"
    return title


def _language(language: str) -> str:
    return "zh-CN" if language.lower().startswith("zh") else "en"


def report_cells(row: FailedRow, columns: list[str]) -> list[Cell]:
    """One failed item as cells, in the order of ``report_header``, its text as it is (see ``report_header``)."""
    return [*_item_cells(row.item, columns), row.error, row.index + 1 if row.ref is None else row.ref, row.attempts]


def _item_cells(item: Any, columns: list[str]) -> list[Cell]:
    if isinstance(item, dict) and columns != [ITEM_COLUMN]:
        return [_plain_cell(item.get(column)) for column in columns]
    return [_plain_cell(item)] + [None] * (len(columns) - 1)


def _plain_cell(value: Any) -> Cell:
    """``cell_text`` without its quote: the text ``cell_text`` makes is ``str(value)``, except for nested values,
    whose JSON starts with ``{`` or ``[`` and so is never quoted."""
    cell = cell_text(value)
    if isinstance(cell, str) and not isinstance(value, dict | list | tuple):
        return str(value)
    return cell


def _looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula: the test ``core.cells`` quotes by."""
    return neutralise_formula(text) != text


def _csv_cells(cells: Sequence[Cell]) -> list[Cell]:
    return [neutralise_formula(cell) if isinstance(cell, str) else cell for cell in cells]


def errors_csv(rows: Iterable[FailedRow], columns: list[str], *, language: str) -> Iterator[bytes]:
    """The report as CSV in pieces of about 64 KiB: UTF-8 with a BOM, without which Excel reads Chinese as
    mojibake, and CRLF line ends as RFC 4180 and Excel expect."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(_csv_cells(report_header(columns, language=language)))
    for row in rows:
        writer.writerow(_csv_cells(report_cells(row, columns)))
        if buffer.tell() >= PIECE_BYTES:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()


def errors_xlsx(
    rows: Iterable[FailedRow], columns: list[str], *, language: str, max_rows: int = SHEET_MAX_ROWS
) -> Iterator[bytes]:
    """The report as an XLSX workbook. An XLSX is a ZIP whose directory comes last, so the workbook is built
    first (rows go to disk as they come; the file stays in memory up to 8 MiB), then sent in 64 KiB pieces.
    Past ``max_rows`` the last row says the rest was cut instead."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        _write_workbook(spool, rows, columns, _language(language), max_rows)
        spool.seek(0)
        while piece := spool.read(PIECE_BYTES):
            yield piece


def _write_workbook(target: IO[bytes], rows: Iterable[FailedRow], columns: list[str], lang: str, max_rows: int) -> None:
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True})
    try:
        sheet = workbook.add_worksheet(_TITLES[lang]["sheet"])
        header = report_header(columns, language=lang)
        widths = _Widths(header)
        _write_row(sheet, 0, header, _Style.of(workbook, bold=True))
        _write_rows(sheet, rows, columns, widths, _Style.of(workbook), last_row=max_rows - 1, lang=lang)
        sheet.freeze_panes(1, 0)
        widths.apply(sheet)  # column widths are written ahead of the rows when the sheet is assembled
    finally:
        workbook.close()


def _write_rows(
    sheet: Any,
    rows: Iterable[FailedRow],
    columns: list[str],
    widths: _Widths,
    style: _Style,
    *,
    last_row: int,
    lang: str,
) -> None:
    remaining = iter(rows)
    # zip() asks the range first, so when the range ends no row is taken from ``remaining`` and lost.
    for number, row in zip(range(1, last_row), remaining, strict=False):
        _write_row(sheet, number, widths.measure(report_cells(row, columns)), style)
    last = next(remaining, None)
    if last is None:
        return
    if next(remaining, None) is None:
        _write_row(sheet, last_row, report_cells(last, columns), style)
    else:
        sheet.write_string(last_row, 0, _CUT_NOTICE[lang])


@dataclass(frozen=True, slots=True)
class _Style:
    """A row's cell format, and the same with Excel's quote prefix for text a spreadsheet would read as a
    formula: the cell keeps its text exactly, Excel shows it as text, and it stays text when edited."""

    plain: Any
    quoted: Any

    @classmethod
    def of(cls, workbook: Any, **properties: Any) -> _Style:
        plain = workbook.add_format(properties) if properties else None
        return cls(plain, workbook.add_format({**properties, "quote_prefix": True}))

    def for_text(self, text: str) -> Any:
        return self.quoted if _looks_like_formula(text) else self.plain


def _write_row(sheet: Any, number: int, cells: Sequence[Cell], style: _Style) -> None:
    for column, value in enumerate(cells):
        _write_cell(sheet, number, column, value, style)


def _write_cell(sheet: Any, row: int, column: int, value: Cell, style: _Style) -> None:
    """Text always through ``write_string``, which never makes a formula or a link of it."""
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value, style.plain)
    elif isinstance(value, float) or (isinstance(value, int) and abs(value) < _EXCEL_EXACT_INTEGERS):
        sheet.write_number(row, column, value, style.plain)
    else:
        text = str(value)
        sheet.write_string(row, column, text, style.for_text(text))


class _Widths:
    """Column widths from the header and the first rows, between 8 and 60 characters (CJK counts twice)."""

    def __init__(self, header: list[str]) -> None:
        self._widths = [_display_width(title) for title in header]
        self._measured = 0

    def measure(self, cells: list[Cell]) -> list[Cell]:
        if self._measured < COLUMN_SAMPLE:
            self._measured += 1
            for column, value in enumerate(cells):
                self._widths[column] = max(self._widths[column], _display_width(value))
        return cells

    def apply(self, sheet: Any) -> None:
        for column, width in enumerate(self._widths):
            sheet.set_column(column, column, min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH))


def _display_width(value: Cell) -> int:
    text = "" if value is None else str(value)[:_MAX_WIDTH]
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
