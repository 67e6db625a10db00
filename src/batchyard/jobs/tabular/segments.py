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
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import BinaryIO

from batchyard.errors import InvalidParams
from batchyard.jobs.tabular.encoding import check_encoding, detect_encoding
from batchyard.jobs.tabular.reading import HEAD_BYTES, Rejoined, Row, is_blank, json_object, json_row, shaped_row

DELIMITERS = {"csv": ",", "tsv": "\t"}
_new_row = partial(tuple.__new__, Row)  # a Row from a (number, values, problem) tuple, without a Python call
ROWS_PER_SEGMENT = 5_000
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_STRAY_CR = re.compile(rb"\r[^\n]")  # a CR the csv module takes for a line break inside a line: an error
_LINE_STARTS = {  # a line break then a space (an empty line too) or the delimiter
    delimiter: re.compile(r"\n[\s" + re.escape(delimiter) + "]") for delimiter in DELIMITERS.values()
}
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

    ``source`` is a binary stream at the file's start. Pieces are cut by size — about ``rows_per_segment`` rows
    at the head's bytes per line, never past ``max_segment_bytes`` unless one record is longer — and their rows
    counted with the csv module's C parser over the whole piece, not line by line."""
    head = source.read(HEAD_BYTES)
    chosen = detect_encoding(head) if encoding is None else check_encoding(encoding, head)
    skip = len(codecs.BOM_UTF8) if chosen == "utf-8-sig" and head.startswith(codecs.BOM_UTF8) else 0
    plain = "utf-8" if chosen == "utf-8-sig" else chosen
    _check_splittable(plain)
    _check_line_ends(head)
    if format not in DELIMITERS and format != "jsonl":
        raise InvalidParams(reason=f"{format} is not a text format")
    # A head of plain ASCII says nothing of the encoding: Chinese text further on may be GB18030 (what Excel in
    # China writes). ASCII reads the same in both, so the choice can still change when it first shows.
    fallback = "gb18030" if encoding is None and plain == "utf-8" and head.isascii() else None
    stream = io.BufferedReader(Rejoined(head[skip:], source))
    lines = _Lines(stream, plain, offset=skip, fallback=fallback)
    header = _header(_records(lines, format), format)
    target = _piece_bytes(head, rows_per_segment, max_segment_bytes)
    if format == "jsonl":  # the first object names the columns and is the first row too
        layout = TextLayout(format, plain, header, start=lines.line_start, start_line=lines.count)
        carry = lines.last
    else:
        layout = TextLayout(format, plain, header, start=lines.offset, start_line=lines.count + 1)
        carry = b""
    cutter = _Cutter(stream, layout, carry, encoding=lines.encoding, fallback=lines.fallback, target=target)
    return layout, iter(cutter)


def read_piece(data: bytes, layout: TextLayout, line: int) -> list[Row]:
    """The rows of a segment's bytes (``line``: the line number of its first byte), shaped to the header.

    The csv module parses the whole piece in C; the line each row starts on is followed one record at a time
    only when the piece has a blank line or a record over several lines."""
    text = data.decode(layout.encoding)  # a piece's own encoding
    header, width = layout.header, len(layout.header)
    if layout.format == "jsonl":
        found = text.split("\n")
        return [json_row(line + i, json_object(t), header) for i, t in enumerate(found) if t.strip()]
    delimiter = DELIMITERS[layout.format]
    records = list(csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter, strict=True))
    lines = text.count("\n") + (not text.endswith("\n"))
    if len(records) == lines and all(map(str.strip, map("".join, records))):
        if all(map(width.__eq__, map(len, records))):  # the usual piece: rows made in C, none to shape
            return list(map(_new_row, zip(range(line, line + lines), records, repeat(None))))
        return [shaped_row(n, c, width) for n, c in enumerate(records, line)]
    return [shaped_row(n, c, width) for n, c in _numbered(text, delimiter, line)]


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
        self.fallback = fallback  # tried once, while every line so far was ASCII
        self.offset = offset  # bytes taken so far
        self.last = b""  # the last line taken, as it was in the file
        self.line_start = offset  # where the last line taken starts
        self.count = first_line - 1  # lines taken so far

    def __iter__(self) -> Iterator[str]:
        for raw in self._stream:
            self.line_start = self.offset
            self.offset += len(raw)
            self.count += 1
            self.last = raw
            try:
                text = raw.decode(self.encoding)
            except UnicodeDecodeError:
                text = self._decode_otherwise(raw)
            if self.fallback is not None and not raw.isascii():
                self.fallback = None  # the encoding has shown itself: it is kept
            yield text

    def _decode_otherwise(self, raw: bytes) -> str:
        if self.fallback is not None:
            try:
                text = raw.decode(self.fallback)
            except UnicodeDecodeError:
                pass
            else:
                self.encoding, self.fallback = self.fallback, None
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


def _numbered(text: str, delimiter: str, line: int) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank record of ``text`` with the line it starts on, counting blank lines and line breaks in
    quoted cells."""
    reader = csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter, strict=True)
    start = line
    for cells in reader:
        if not is_blank(cells):
            yield start, cells
        start = line + reader.line_num


def _piece_bytes(head: bytes, rows: int, most: int) -> int:
    """About ``rows`` rows' worth of bytes, judged by the head's lines."""
    per_line = len(head) / max(1, head.count(b"\n"))
    return max(1, min(most, int(rows * per_line)))


class _Cutter:
    """A text table after its header cut into pieces of whole records, each piece decoded and its rows counted.

    A piece ends at a line break; the csv module then counts its records, and when the piece turns out to end
    inside a quoted cell (a line break in a cell) it is taken longer, to a later line break, and counted again.
    The whole piece is decoded, so bytes of no encoding fail the scan with the line they are on."""

    def __init__(
        self, stream: BinaryIO, layout: TextLayout, carry: bytes, *, encoding: str, fallback: str | None, target: int
    ) -> None:
        self._stream = stream
        self._layout = layout
        self._buffer = carry
        self._eof = False
        self.encoding = encoding
        self._fallback = fallback  # tried once, while every byte so far was ASCII
        self._target = target

    def __iter__(self) -> Iterator[Piece]:
        offset, line = self._layout.start, self._layout.start_line
        while True:
            cut, rows, breaks = self._next_piece(line)
            if cut == 0:
                return
            if rows:
                yield Piece(offset, cut, line, rows, self.encoding)
            line += breaks
            offset += cut
            self._buffer = self._buffer[cut:]

    def _next_piece(self, line: int) -> tuple[int, int, int]:
        """Where the next piece ends in the buffer, how many rows it holds and how many line breaks (0 bytes at
        the end)."""
        want = self._target
        while True:
            cut = self._line_end(want)
            if cut == 0:
                return 0, 0, 0
            block = self._buffer[:cut]
            counted = self._count(block, self._decoded(block, line), line, last=self._eof and cut == len(self._buffer))
            if counted is not None:
                return cut, *counted
            want = cut + max(cut // 2, 1 << 16)  # a quoted cell goes on past the cut: a longer piece

    def _line_end(self, want: int) -> int:
        """The end of the first line that reaches ``want`` bytes into the buffer (reading more as needed), or
        the buffer's end at the end of the file."""
        while True:
            found = self._buffer.find(b"\n", max(0, want - 1))
            if found >= 0:
                return found + 1
            if self._eof:
                return len(self._buffer)
            more = self._stream.read(max(want - len(self._buffer), 1 << 16))
            if more:
                self._buffer += more
            else:
                self._eof = True

    def _decoded(self, block: bytes, line: int) -> str:
        try:
            text = block.decode(self.encoding)
        except UnicodeDecodeError as error:
            text = self._decoded_otherwise(block, error, line)
        if self._fallback is not None and not block.isascii():
            self._fallback = None  # the encoding has shown itself: it is kept
        return text

    def _decoded_otherwise(self, block: bytes, error: UnicodeDecodeError, line: int) -> str:
        """The piece in the fallback encoding when the file's first non-ASCII line is not UTF-8 (as reading it
        line by line would judge: GBK's 一 is valid UTF-8 bytes, so the error may come later on that line)."""
        if self._fallback is not None:
            first = _NON_ASCII.search(block)
            start = block.rfind(b"\n", 0, first.start()) + 1 if first else 0
            end = block.find(b"\n", start)
            try:
                block[start : end if end >= 0 else len(block)].decode(self.encoding)
            except UnicodeDecodeError:
                try:
                    text = block.decode(self._fallback)
                except UnicodeDecodeError as fallback_error:
                    self.encoding, self._fallback = self._fallback, None
                    error = fallback_error
                else:
                    self.encoding, self._fallback = self._fallback, None
                    return text
        at = line + block.count(b"\n", 0, error.start)
        advice = "name the file's encoding or save it as UTF-8"
        raise InvalidParams(reason=f"the file is not valid {self.encoding} on line {at}; {advice}") from None

    def _count(self, block: bytes, text: str, line: int, *, last: bool) -> tuple[int, int] | None:
        """The non-blank records in ``text`` (``block`` decoded) and its line breaks; None when it ends inside a
        quoted cell and more of the file follows (at the file's end that is a quote never closed: an error).

        The bytes are asked what the text holds: a quote, CR or NUL byte is that character in every encoding
        a piece may be in (their multi-byte characters use no byte below 0x40)."""
        if self._layout.format == "jsonl":
            found = text.split("\n")
            return sum(map(bool, map(str.strip, found))), len(found) - 1
        delimiter = DELIMITERS[self._layout.format]
        if b'"' not in block and b"\0" not in block and (b"\r" not in block or not _STRAY_CR.search(block)):
            # no quote, NUL or CR but before a line break: a record is a line, and a line that may be blank
            # starts with a space or a delimiter (or is empty) — without one, every line is a record
            limit = csv.field_size_limit()
            if _no_line_longer(text, limit) and not _blank_line_start(text, delimiter):
                breaks = block.count(b"\n")
                return breaks + (not text.endswith("\n")), breaks
            found = text.split("\n")
            if len(text) <= limit or max(map(len, found)) <= limit:
                return _filled_lines(found, delimiter), len(found) - 1
        reader = csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter, strict=True)
        try:
            return sum(map(bool, map(str.strip, map("".join, reader)))), block.count(b"\n")
        except csv.Error as error:
            if str(error) == "unexpected end of data" and not last:
                return None
            raise InvalidParams(
                reason=f"the file cannot be read near line {line + reader.line_num - 1}: {error}"
            ) from None


def _no_line_longer(text: str, limit: int) -> bool:
    """Whether no line of ``text`` is over ``limit`` characters, looked at without splitting it: such a line
    would hold a whole stretch of half that, from a multiple of it on, without a line break (False may be
    wrong, never True)."""
    step = max(limit // 2, 1)
    return all(text.find("\n", start, start + step) >= 0 for start in range(0, len(text) - step + 1, step))


def _blank_line_start(text: str, delimiter: str) -> bool:
    """Whether a line of ``text`` may be blank: it is empty (but for the one a final line break ends), or it
    starts with a space or a delimiter — where a second look must decide."""
    if not text or text[0].isspace() or text[0] == delimiter:
        return True
    return _LINE_STARTS[delimiter].search(text) is not None


def _filled_lines(lines: list[str], delimiter: str) -> int:
    """How many of ``lines`` (no quotes in them) have a cell with something in it; a line of only delimiters
    and spaces, as Excel writes for a row it once formatted, has none. Kept to C loops: only lines that start
    with an empty cell need a second look."""
    stripped = list(map(str.strip, lines))
    filled = len(stripped) - stripped.count("")
    if not any(map(str.startswith, stripped, repeat(delimiter))):
        return filled
    return filled - sum(1 for s in stripped if s[:1] == delimiter and not s.replace(delimiter, "").strip())
