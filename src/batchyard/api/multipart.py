"""A multipart body read as it streams in, one file at a time, with caps on each file, the whole request and
the number of files: no file is held whole in memory (each is spooled, to disk past 256 KiB), nothing past a
cap is kept, and a body past the request cap stops being read. A body cut before its closing boundary is refused,
and files sent under another field are handed on marked, never dropped without a word."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from batchyard.errors import FileTooLarge, InvalidParams

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

SPOOL_IN_MEMORY = 256 * 1024
FILE_FIELDS = {b"files", b"file", b"files[]"}  # the form fields files are taken from
MEDIA_TYPE = b"multipart/form-data"


def _spool() -> SpooledTemporaryFile[bytes]:
    """Closed by ``ReceivedFile.close`` (by the route once the file is kept or refused, or here on an error)."""
    return SpooledTemporaryFile(SPOOL_IN_MEMORY)


@dataclass
class ReceivedFile:
    """A file part as received: spooled up to the per-file cap; ``too_large`` once it went past it.

    ``wrong_field`` when it came under a form field other than ``files`` (named in ``form_field``): nothing of it is
    spooled, but it is handed on so the caller can tell the user why it was not kept (a mistyped field name would
    otherwise look like an upload of nothing).
    """

    filename: str
    spool: SpooledTemporaryFile[bytes] = field(default_factory=_spool)
    size: int = 0
    too_large: bool = False
    form_field: str = "files"
    wrong_field: bool = False

    def close(self) -> None:
        self.spool.close()


@dataclass(frozen=True, slots=True)
class Caps:
    file_bytes: int
    request_bytes: int
    files: int


class MultipartFiles:
    """Feeds a multipart body to python-multipart and collects its file parts (fields without a file are
    ignored)."""

    def __init__(self, content_type: str, caps: Caps) -> None:
        media_type, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if media_type.strip() != MEDIA_TYPE or not boundary:
            raise InvalidParams(reason="the body must be multipart/form-data with a boundary")
        self.caps = caps
        self.received = 0
        self.finished: list[ReceivedFile] = []
        self._charset = _charset(options.get(b"charset"))
        self._current: ReceivedFile | None = None
        self._in_file = False
        self._header = b""
        self._value = b""
        self._disposition = b""
        self._count = 0
        self._ended = False
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._part_begin,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_end": self._end,
        }
        self._parser = MultipartParser(boundary, callbacks)

    async def read(self, stream: AsyncIterator[bytes]) -> AsyncIterator[ReceivedFile]:
        """Each file once its part has ended, in the order sent; the caller must close each one."""
        try:
            async for chunk in stream:
                self._feed(chunk)
                while self.finished:
                    yield self.finished.pop(0)
            self._finish()
        except FormParserError:
            self._close_all()
            raise InvalidParams(reason="the multipart body is malformed") from None
        except BaseException:
            self._close_all()
            raise
        while self.finished:
            yield self.finished.pop(0)

    def _feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.caps.request_bytes:
            raise FileTooLarge(limit_mb=self.caps.request_bytes / 1_000_000)
        self._parser.write(chunk)

    def _finish(self) -> None:
        """python-multipart's ``finalize`` does not check that the body reached its closing boundary: without
        this, an upload cut short would lose its last file without a word."""
        self._parser.finalize()
        if not self._ended:
            raise InvalidParams(reason="the multipart body ended before its closing boundary")

    def _end(self) -> None:
        self._ended = True

    def _close_all(self) -> None:
        """On any error (or the caller stopping early): the spools not handed out yet are closed here."""
        for part in [*self.finished, *([self._current] if self._current else [])]:
            part.close()
        self.finished.clear()
        self._current = None

    def _part_begin(self) -> None:
        self._disposition = b""
        self._in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"filename" not in options:
            return  # a plain field
        self._count += 1  # files under another field count too: each is listed back to the user
        if self._count > self.caps.files:
            raise InvalidParams(reason=f"at most {self.caps.files} files may be sent at once")
        self._in_file = True
        name = options.get(b"name", b"")
        self._current = ReceivedFile(
            filename=_decoded(options[b"filename"], self._charset),
            form_field=_decoded(name, self._charset),
            wrong_field=name not in FILE_FIELDS,
        )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current
        if not self._in_file or part is None:
            return
        part.size += end - start
        if part.wrong_field:
            return  # refused whatever its size: its bytes are not kept
        if part.size > self.caps.file_bytes:
            part.too_large = True
        if not part.too_large:
            part.spool.write(data[start:end])

    def _part_end(self) -> None:
        if self._in_file and self._current is not None:
            self._current.spool.seek(0)
            self.finished.append(self._current)
            self._current = None
        self._in_file = False


def _decoded(raw: bytes, charset: str) -> str:
    """A name in the body's charset (UTF-8 unless it says otherwise), else as GB18030: browsers and curl on
    Chinese Windows send names in the system's code page (GBK, which GB18030 contains) whatever they declare.
    Only what neither reads is kept with U+FFFD in place of the bytes it could not read."""
    for encoding in (charset, "gb18030"):
        with suppress(UnicodeDecodeError):
            return raw.decode(encoding)
    return raw.decode(charset, errors="replace")


def _charset(value: bytes | None) -> str:
    """File names are UTF-8 unless the body says otherwise, naming a text charset that writes ASCII as ASCII (the
    headers around the name are ASCII): a codec such as ``hex`` cannot decode text, and UTF-16 would misread it."""
    if not value:
        return "utf-8"
    try:
        name = codecs.lookup(value.decode("ascii", errors="replace")).name
        writes_ascii = "name.png".encode(name) == b"name.png"  # LookupError for codecs that are not text
    except LookupError:
        return "utf-8"
    return name if writes_ascii else "utf-8"
