"""An uploaded table's rows as numbered rows of raw strings: the row shapes every format shares, JSON Lines'
objects as cells, and a workbook's sheet read as the user typed it.

Text files are cut and read by ``segments``; a workbook is read whole here, because its zip directory sits at the
end of the file. Every row keeps the number of the line (or sheet row) where it starts, so a later error can say
"line 1,204" and the user finds it in their editor.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import re
import zipfile
from collections.abc import Iterator
from typing import IO, Any, BinaryIO, NamedTuple

from python_calamine import CalamineError, CalamineWorkbook

from batchyard.errors import InvalidParams

HEAD_BYTES = 64 * 1024
"""How much of a text file its encoding is judged from: more than a sniff, so a file whose first rows are ASCII
still shows its Chinese before we choose."""

MAX_UNPACKED_BYTES = 600_000_000
"""The most a workbook may unpack to: its sheet is held whole while it is read (about a million rows of ten
columns); a CSV of any size is read as a stream instead."""
_EXACT_FLOAT_INTS = 2**53  # past this a whole float is not the integer the user typed, so it is shown as it is


class Row(NamedTuple):
    """One record: the number of its first line (1-based, counting every physical line, blank ones too), its cells
    in header order (padded with "" when short), and why it cannot be used as it is, when it cannot. (A tuple:
    an import makes one for every row of its file.)"""

    number: int
    values: list[str]
    problem: str | None = None


Record = tuple[int, list[str]]
"""A non-blank record as a format yields it: the number of its first line and its cells."""

_PROBLEMS_ZH = (
    (re.compile(r"row has (\d+) cells; the header has (\d+)"), "本行有 {0} 个单元格，表头只有 {1} 列"),
    (re.compile(r"the line is not a JSON object"), "该行不是 JSON 对象"),
    (re.compile(r"unknown keys: (.*)"), "有表头之外的键：{0}"),
)


def problem_zh(problem: str) -> str:
    """A row's problem (as ``Row.problem`` says it) in Chinese; one we have no words for stays as it is."""
    for pattern, words in _PROBLEMS_ZH:
        if found := pattern.fullmatch(problem):
            return words.format(*found.groups())
    return problem


def shaped_row(number: int, values: list[str], width: int) -> Row:
    """The row as the header expects it: short rows padded, long ones kept whole but marked, nothing dropped."""
    if len(values) > width:
        return Row(number, values, f"row has {len(values)} cells; the header has {width}")
    return Row(number, values + [""] * (width - len(values)))


def is_blank(values: list[str]) -> bool:
    """No cell with anything in it: an empty line, or the ",,," Excel writes for a row it once formatted."""
    return not "".join(values).strip()  # one join and strip in C: this runs for every row of every file


# -- text: CSV, TSV, JSON Lines -----------------------------------------------------------------------------------


class Rejoined(io.RawIOBase):
    """The head already read for detection, then the rest of the source — which need not seek, and which closing
    this wrapper (as a text wrapper does when it is collected) leaves open for its owner."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._head:
            count = min(len(target), len(self._head))
            target[:count], self._head = self._head[:count], self._head[count:]
            return count
        data = self._rest.read(len(target))
        target[: len(data)] = data
        return len(data)


def json_object(line: str) -> dict[str, str] | None:
    """Numbers are kept as the text that was written (1.10 stays "1.10"), never rounded through a float."""
    try:
        found = json.loads(line, parse_float=str, parse_int=str)
    except ValueError:
        return None
    return {str(key): _json_text(value) for key, value in found.items()} if isinstance(found, dict) else None


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_row(number: int, values: dict[str, str] | None, header: list[str]) -> Row:
    if values is None:
        return Row(number, [], "the line is not a JSON object")
    unknown = [key for key in values if key not in header]
    cells = [values.get(key, "") for key in header]
    if unknown:
        return Row(number, cells, f"unknown keys: {', '.join(unknown)}")
    return Row(number, cells)


# -- workbooks ----------------------------------------------------------------------------------------------------


def sheet_records(source: BinaryIO, sheet: str | None) -> Iterator[Record]:
    """A workbook sheet's non-blank rows (the header first) numbered as Excel numbers them; calamine reads the
    whole sheet first."""
    rows = _sheet_rows(_seekable(source), sheet)
    return (
        (number, cells)
        for number, cells in enumerate((list(map(_cell_text, row)) for row in rows), start=1)
        if not is_blank(cells)
    )


def _seekable(source: BinaryIO) -> IO[bytes]:
    """A workbook's directory is at its end, so calamine seeks; a stream that cannot is read into memory, where
    calamine keeps the whole file anyway."""
    return source if source.seekable() else io.BytesIO(source.read())


def _sheet_rows(source: IO[bytes], sheet: str | None) -> Iterator[list[Any]]:
    """The sheet's rows from its first (calamine starts them at row 1 and columns at the first one used)."""
    _check_unpacked_size(source)
    try:
        workbook = CalamineWorkbook.from_filelike(source)
        return workbook.get_sheet_by_name(_sheet_name(workbook.sheet_names, sheet)).iter_rows()
    except CalamineError as error:
        raise InvalidParams(reason=f"the workbook cannot be read: {error}") from None


def _check_unpacked_size(source: IO[bytes]) -> None:
    """A workbook is a ZIP, read whole: one whose parts unpack past ``MAX_UNPACKED_BYTES`` (a decompression bomb,
    or a sheet too big to hold) is refused before anything is unpacked."""
    try:
        with zipfile.ZipFile(source) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InvalidParams(reason="the workbook cannot be read: it is not a valid xlsx file") from None
    finally:
        source.seek(0)
    if unpacked > MAX_UNPACKED_BYTES:
        raise InvalidParams(
            reason=f"the workbook unpacks to {unpacked / 1e6:,.0f} MB, more than the "
            f"{MAX_UNPACKED_BYTES / 1e6:,.0f} MB a workbook may; save the sheet as CSV, which is read as a stream"
        )


def _sheet_name(names: list[str], wanted: str | None) -> str:
    if not names:
        raise InvalidParams(reason="the workbook has no sheets")
    if wanted is None:
        return names[0]
    if wanted not in names:
        raise InvalidParams(reason=f"the workbook has no sheet {wanted!r}; its sheets: {', '.join(names)}")
    return wanted


def _cell_text(value: Any) -> str:
    """A cell as the user would type it back: 3 not "3.0", dates in ISO form, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _float_text(value: float) -> str:
    """Excel stores every number as a float; a whole one the user typed as 3 is shown as 3."""
    if math.isfinite(value) and value.is_integer() and abs(value) < _EXACT_FLOAT_INTS:
        return str(int(value))
    return repr(value)
