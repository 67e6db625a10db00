"""Item fields as spreadsheet cells that a spreadsheet will never run.

A text cell that starts with ``=``, ``+``, ``-`` or ``@`` is a formula to Excel, LibreOffice and Google Sheets
when the file is opened (OWASP "CSV injection"), and an item's fields come from users. Such text gets a
leading ``'``, which shows the text as it is; numbers stay numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any

Cell = str | int | float | bool | None

# Tab and CR also start formulas in some spreadsheets; the full-width forms are read as ASCII by Excel's IME.
FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")


def neutralise_formula(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would otherwise read it as a formula — or when it
    already starts with ``'`` before such a character, so that an import, which takes one such quote off, gives
    back exactly the text (``'=1`` is written ``''=1``)."""
    if value[:1] in FORMULA_STARTS or (value[:1] == "'" and value[1:2] in FORMULA_STARTS):
        return f"'{value}"
    return value


def cell_text(value: Any) -> Cell:
    """One field of an item as a cell: None stays empty, numbers and booleans stay what they are, text and
    anything else becomes neutralised text (nested values as compact JSON, Chinese kept as it is)."""
    if value is None:
        return None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else neutralise_formula(str(value))
    if isinstance(value, dict | list | tuple):
        return neutralise_formula(_compact_json(value))
    return neutralise_formula(value if isinstance(value, str) else str(value))


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
