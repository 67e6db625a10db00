"""Which of the table formats we read an upload is in, judged by its content and only then by its name.

A name lies (a ``.csv`` that Excel saved as a workbook, a ``.xls`` that is really HTML); the content does not, so
the name only breaks a tie the content cannot: a one-column text file is CSV and TSV at once.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import PurePath

from batchyard.core.sniff import TEXT, XLSX, Sniffed, sniff
from batchyard.errors import InvalidParams
from batchyard.jobs.tabular.encoding import detect_encoding

FORMATS = ("csv", "tsv", "jsonl", "xlsx")
"""The formats :func:`detect_format` returns and the reader reads."""

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old binary Office files: .xls, .doc
_QUOTED = re.compile(r'"[^"]*"')  # a quoted CSV field; "" inside one reads as two adjacent quoted parts
_TSV_SUFFIXES = frozenset({".tsv", ".tab"})


def detect_format(head: bytes, filename: str | None = None) -> str:
    """One of :data:`FORMATS` for a file starting with ``head``; anything else is refused with what it is."""
    found = sniff(head)
    if found is XLSX:
        return "xlsx"
    if found is TEXT:
        return _text_format(_first_line(head), filename)
    raise InvalidParams(reason=f"{_describe(head, found)} is not a supported format; use {', '.join(FORMATS)}")


def _describe(head: bytes, found: Sniffed) -> str:
    if head.startswith(_OLE_MAGIC):
        return "an old Excel workbook (.xls; save it as .xlsx)"
    return found.label


def _first_line(head: bytes) -> tuple[str, bool]:
    """The first non-blank line of the head, and whether it ends inside the head (a long line may be cut)."""
    decoder = codecs.getincrementaldecoder(detect_encoding(head))(errors="replace")
    text = decoder.decode(head, final=False)
    for line in text.splitlines(keepends=True):
        if line.strip():
            return line.strip(), line.endswith(("\n", "\r"))
    return "", False


def _text_format(first: tuple[str, bool], filename: str | None) -> str:
    line, complete = first
    if _is_json_object(line, complete):
        return "jsonl"
    unquoted = _QUOTED.sub("", line)
    tabs, commas = unquoted.count("\t"), unquoted.count(",")
    if tabs and commas <= tabs:
        return "tsv"
    if not tabs and not commas and filename and PurePath(filename).suffix.lower() in _TSV_SUFFIXES:
        return "tsv"
    return "csv"


def _is_json_object(line: str, complete: bool) -> bool:
    """A JSON object on one line; a line cut off by the head's end counts when it opens like one."""
    if not line.startswith("{"):
        return False
    if not complete:
        return True
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
