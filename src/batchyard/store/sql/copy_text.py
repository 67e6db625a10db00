"""A batch of rows as the text of one PostgreSQL ``COPY … FROM STDIN``, made a column at a time.

psycopg formats a row per call (``Copy.write_row``): a Python call and a loop over the row's values each time,
the largest share of an import's own CPU on PostgreSQL. The values an import writes are of a few plain types,
whose text form is one C function per column; the rows are then joined in C and sent as one block. A column
of any other type (or a value the text form cannot carry) leaves the batch to psycopg, row by row.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from types import NoneType
from typing import Any

NULL = "\\N"
_SPECIAL = ("\\", "\t", "\n", "\r")  # what COPY's text format escapes in a value
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: Sequence[tuple[Any, ...]]) -> str | None:
    """The rows in COPY's text format (tab-separated, ``\\N`` for NULL, one line each), or None when a column
    holds a type this does not format (psycopg then formats the rows)."""
    if not rows:
        return ""
    texts = []
    for column in zip(*rows, strict=True):
        text = _column_text(column)
        if text is None:
            return None
        texts.append(text)
    return "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"


def _column_text(values: tuple[Any, ...]) -> Sequence[str] | None:
    kinds = set(map(type, values))
    nulls = NoneType in kinds
    kinds.discard(NoneType)
    if not kinds:
        return [NULL] * len(values)
    if len(kinds) > 1:
        return None
    kind = kinds.pop()
    present = [v for v in values if v is not None] if nulls else values
    form = _form(kind, present)
    if form is None:
        return None
    if not nulls:
        return values if form is str else list(map(form, values))
    return [NULL if value is None else form(value) for value in values]


def _form(kind: type, values: Sequence[Any]) -> Callable[[Any], str] | None:
    """How each value of a column of ``kind`` is written, or None when one of them cannot be written so."""
    if kind is str:
        joined = "".join(values)
        if "\x00" in joined:  # PostgreSQL's text holds no NUL: psycopg says so as it always did
            return None
        return _escaped if any(map(joined.__contains__, _SPECIAL)) else str
    if kind is int:  # not bool: its type is bool, not int
        return int.__repr__
    if kind is float:
        return float.__repr__ if all(map(math.isfinite, values)) else None
    if kind is Decimal:
        return Decimal.__str__ if all(map(Decimal.is_finite, values)) else None
    if kind is datetime.date:
        return datetime.date.isoformat
    return None


def _escaped(value: str) -> str:
    return value.translate(_ESCAPES)
