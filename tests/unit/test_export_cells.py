"""An export page's CSV cells are made a column at a time; each must be what the cell-by-cell rule gives,
whatever the column holds — the types its field says, None, formula text, or values of another type."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from batchyard.jobs.tabular.exporting import _csv_column, _csv_value

UTC = datetime.UTC
COLUMNS: list[tuple[str, tuple[Any, ...]]] = [
    ("text", ("plain", "价格", "", "=1+1", "+86 138", "-5", "@x", "\tx", "'=quoted", "'plain", "＝全角")),
    ("text", ("a", None, "=SUM(A1)", None)),
    ("text", ("a", "b", "c")),
    ("text", ("a", 12, None)),  # a reflected column holding other types
    ("integer", (1, None, -3)),
    ("float", (1.5, 2, None, float("nan"))),
    ("decimal", (Decimal("12.50"), None, Decimal("1E+2"))),
    ("decimal", (Decimal("1.1"), "oops")),
    ("date", (datetime.date(2024, 1, 31), datetime.date(999, 1, 2))),
    ("date", (datetime.date(2024, 1, 31), None)),
    ("datetime", (datetime.datetime(2024, 1, 31, 10, 0, tzinfo=UTC), None)),
    ("boolean", (True, False, None)),
]


@pytest.mark.parametrize(("kind", "values"), COLUMNS)
def test_a_column_becomes_the_cells_its_values_would_one_by_one(kind: str, values: tuple[Any, ...]) -> None:
    by_value = ["" if v is None else _csv_value(v) for v in values]
    by_column = ["" if v is None else v for v in _csv_column(kind, values)]
    assert [str(v) for v in by_column] == [str(v) for v in by_value]
