"""A text table cut into segments of whole rows by byte offset, and a segment read back as its rows.

An import of ten million rows must not hold them, nor store them again in the state database: its chunks are
byte ranges of the uploaded file (``{"offset", "length", "line"}``), cut once while planning and read again by
whichever worker runs the chunk. Both sides split the bytes the same way — on ``\\n`` only, with the csv module
deciding where a quoted field with line breaks ends — so a segment always holds exactly the rows counted for
it, blank lines left out the same way. That needs an encoding in which a line break byte is always a line break
(UTF-8, GBK/GB18030, Big5, Shift-JIS); a UTF-16 file is refused with what to do instead.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from batchyard.errors import InvalidParams
from batchyard.jobs.tabular.encoding import check_encoding, detect_encoding
from batchyard.jobs.tabular.reading import HEAD_BYTES, Rejoined, Row, is_blank, json_object, json_row, shaped_row

DELIMITERS = {"csv": ",", "tsv": "\t"}
ROWS_PER_SEGMENT = 5_000
MAX_SEGMENT_BYTES = 8 * 1024 * 1024  # a segment of very wide rows is cut sooner, so a chunk stays small


@dataclass(frozen=True, slots=True)
class TextLayout:
    """What a text table's segments share: its format, encoding, header, and where its rows start."""

    format: str
    encoding: str  # as Python names it, without "-sig": the BOM is before ``start``
    header: list[str]
    start: int  # the byte offset after the header
    start_line: int  # the line number of the first line after the header


@dataclass(frozen=True, slots=True)
class Piece:
    """A segment of rows: its bytes, the line its first byte is on, and how many rows it holds."""

    offset: int
    length: int
    line: int
    rows: int
    encoding: str  # the file's: it may turn out to be GB18030 after an ASCII head taken for UTF-8


def scan(
    source: BinaryIO,
    *,
    format: str,
    encoding: str | None = None,
    rows_per_segment: int = ROWS_PER_SEGMENT,
    max_segment_bytes: int = MAX_SEGMENT_BYTES,
) -> tuple[TextLayout, Iterator[Piece]]:
    """The table's layout (its header read at once, so a bad file fails here) and its pieces, read lazily.

    ``source`` is a binary stream at the file's start."""
    head = source.read(HEAD_BYTES)
    chosen = detect_encoding(head) if encoding is None else check_encoding(encoding, head)
    skip = len(codecs.BOM_UTF8) if chosen == "utf-8-sig" and head.startswith(codecs.BOM_UTF8) else 0
    plain = "utf-8" if chosen == "utf-8-sig" else chosen
    _check_splittable(plain)
    _check_line_ends(head)
    # A head of plain ASCII says nothing of the encoding: Chinese text further on may be GB18030 (what Excel in
    # China writes). ASCII reads the same in both, so the choice can still change when it first shows.
    fallback = "gb18030" if encoding is None and plain == "utf-8" and head.isascii() else None
    lines = _Lines(io.BufferedReader(Rejoined(head[skip:], source)), plain, offset=skip, fallback=fallback)
    records = _records(lines, format)
    header = _header(records, format)
    if format == "jsonl":  # the first object names the columns and is the first row too
        layout = TextLayout(format, plain, header, start=lines.line_start, start_line=lines.count)
        return layout, _pieces(
            records, lines, layout, rows_per_segment=rows_per_segment, max_bytes=max_segment_bytes, rows=1
        )
    layout = TextLayout(format, plain, header, start=lines.offset, start_line=lines.count + 1)
    return layout, _pieces(records, lines, layout, rows_per_segment=rows_per_segment, max_bytes=max_segment_bytes)


def read_piece(data: bytes, layout: TextLayout, line: int) -> list[Row]:
    """The rows of a segment's bytes (``line``: the line number of its first byte), shaped to the header."""
    lines = _Lines(io.BytesIO(data), layout.encoding, offset=0, first_line=line)  # a piece's own encoding
    width = len(layout.header)
    if layout.format == "jsonl":
        return [json_row(number, json_object(text), layout.header) for number, text in _json_records(lines)]
    return [shaped_row(number, cells, width) for number, cells in _csv_records(lines, DELIMITERS[layout.format])]


def _check_line_ends(head: bytes) -> None:
    """Lines ended by CR alone (old Mac "CSV (Macintosh)") cannot be cut by ``\n``: said plainly, not as the
    csv module's complaint."""
    if b"\r" in head and b"\n" not in head:
        raise InvalidParams(
            reason="the file's lines end with CR only (an old Mac format); save it as CSV UTF-8 and upload it again"
        )


def _check_splittable(encoding: str) -> None:
    if codecs.lookup(encoding).name in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
        raise InvalidParams(
            reason="a UTF-16 text file cannot be imported; save it as CSV UTF-8 (or CSV with GBK) and upload it again"
        )


class _Lines:
    """A binary stream's lines (split on ``\\n`` only), decoded, counting lines and bytes as they are taken."""

    def __init__(
        self, stream: BinaryIO, encoding: str, *, offset: int, first_line: int = 1, fallback: str | None = None
    ) -> None:
        self._stream = stream
        self.encoding = encoding
        self._fallback = fallback  # tried once, while every line so far was ASCII
        self.offset = offset  # bytes taken so far
        self.line_start = offset  # where the last line taken starts
        self.count = first_line - 1  # lines taken so far

    def __iter__(self) -> Iterator[str]:
        for raw in self._stream:
            self.line_start = self.offset
            self.offset += len(raw)
            self.count += 1
            try:
                text = raw.decode(self.encoding)
            except UnicodeDecodeError:
                text = self._decode_otherwise(raw)
            if self._fallback is not None and not raw.isascii():
                self._fallback = None  # the encoding has shown itself: it is kept
            yield text

    def _decode_otherwise(self, raw: bytes) -> str:
        if self._fallback is not None:
            try:
                text = raw.decode(self._fallback)
            except UnicodeDecodeError:
                pass
            else:
                self.encoding, self._fallback = self._fallback, None
                return text
        advice = "name the file's encoding or save it as UTF-8"
        raise InvalidParams(reason=f"the file is not valid {self.encoding} on line {self.count}; {advice}") from None


def _records(lines: _Lines, format: str) -> Iterator[tuple[int, list[str] | str]]:
    if format == "jsonl":
        return _json_records(lines)
    if format not in DELIMITERS:
        raise InvalidParams(reason=f"{format} is not a text format")
    return _csv_records(lines, DELIMITERS[format])


def _csv_records(lines: _Lines, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank record with the line it starts on; the csv module takes one line at a time from ``lines``,
    so after a record is yielded ``lines.offset`` is exactly where the next one starts."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)  # a quote never closed is an error, not a cell
    start = lines.count + 1
    try:
        for cells in reader:
            if not is_blank(cells):
                yield start, cells
            start = lines.count + 1
    except csv.Error as error:
        raise InvalidParams(reason=f"the file cannot be read near line {lines.count}: {error}") from None


def _json_records(lines: _Lines) -> Iterator[tuple[int, str]]:
    for text in lines:
        if text.strip():
            yield lines.count, text


def _header(records: Iterator[tuple[int, list[str] | str]], format: str) -> list[str]:
    first = next(records, None)
    if first is None:
        raise InvalidParams(reason="the file has no rows; its first row must be the header")
    number, found = first
    if isinstance(found, list):
        return found
    found_object = json_object(found)
    if found_object is None:
        raise InvalidParams(reason=f"line {number} is not a JSON object; each line must be one")
    return list(found_object)


def _pieces(
    records: Iterable[object],
    lines: _Lines,
    layout: TextLayout,
    *,
    rows_per_segment: int,
    max_bytes: int,
    rows: int = 0,
) -> Iterator[Piece]:
    """Cut after every ``rows_per_segment`` rows, or sooner once a segment has ``max_bytes``; ``rows``: rows
    already in the first segment."""
    start, line = layout.start, layout.start_line
    if rows and (rows == rows_per_segment or lines.offset - start >= max_bytes):
        yield Piece(start, lines.offset - start, line, rows, lines.encoding)
        start, line, rows = lines.offset, lines.count + 1, 0
    for _ in records:
        rows += 1
        if rows == rows_per_segment or lines.offset - start >= max_bytes:
            yield Piece(start, lines.offset - start, line, rows, lines.encoding)
            start, line, rows = lines.offset, lines.count + 1, 0
    if rows:
        yield Piece(start, lines.offset - start, line, rows, lines.encoding)
