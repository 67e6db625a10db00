"""One table row of raw strings checked against a resource's Pydantic model, every reason in English and Chinese.

An import reports all that is wrong with a row at once, in words a person who filled in a spreadsheet can act on,
so each pydantic error becomes a sentence naming the column and quoting the cell rather than pydantic's own jargon.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from types import NoneType
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel, ValidationError

from batchyard.core.cells import neutralise_formula

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails  # pydantic's own error shape, for the type checker only

_QUOTE = repeat("'")
QUOTED_VALUE_LIMIT = 60
"""How much of a cell a reason quotes: enough to find it, not so much that a pasted paragraph floods the report."""


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a row cannot be used: the field at fault (None when the row as a whole is) and the why, in two languages."""

    field: str | None
    en: str
    zh: str


_NOT_A_NUMBER = ("{field}: {value} is not a number", "{field}：{value} 不是数字")
_NOT_A_DATE = (
    "{field}: {value} is not a date (write it as YYYY-MM-DD)",
    "{field}：{value} 不是日期（格式应为 YYYY-MM-DD）",
)
_NOT_A_DATETIME = (
    "{field}: {value} is not a date and time (write it as YYYY-MM-DD HH:MM:SS)",
    "{field}：{value} 不是日期时间（格式应为 YYYY-MM-DD HH:MM:SS）",
)
_NOT_ALLOWED = ("{field}: {value} is not one of {expected}", "{field}：{value} 不是允许的值，应为 {expected}")

# Keyed by pydantic's error ``type``; placeholders other than field, value and msg come from the error's ``ctx``.
_TEMPLATES: dict[str, tuple[str, str]] = {
    "missing": ("{field}: a value is required", "{field}：必须填写"),
    "string_too_long": (
        "{field}: {value} is longer than {max_length} characters",
        "{field}：{value} 超过 {max_length} 个字符",
    ),
    "string_too_short": (
        "{field}: {value} is shorter than {min_length} characters",
        "{field}：{value} 少于 {min_length} 个字符",
    ),
    "string_type": ("{field}: {value} is not text", "{field}：{value} 不是文本"),
    "int_parsing": ("{field}: {value} is not a whole number", "{field}：{value} 不是整数"),
    "int_from_float": (
        "{field}: {value} is not a whole number (it has a fractional part)",
        "{field}：{value} 不是整数（有小数部分）",
    ),
    "float_parsing": _NOT_A_NUMBER,
    "decimal_parsing": _NOT_A_NUMBER,
    "finite_number": ("{field}: {value} is not a finite number", "{field}：{value} 不是有限的数字"),
    "decimal_max_places": (
        "{field}: {value} has more than {decimal_places} decimal places",
        "{field}：{value} 的小数位数超过 {decimal_places} 位",
    ),
    "decimal_max_digits": (
        "{field}: {value} has more than {max_digits} digits",
        "{field}：{value} 的总位数超过 {max_digits} 位",
    ),
    "decimal_whole_digits": (
        "{field}: {value} has more than {whole_digits} digits before the decimal point",
        "{field}：{value} 的整数部分超过 {whole_digits} 位",
    ),
    "greater_than": ("{field}: {value} must be greater than {gt}", "{field}：{value} 必须大于 {gt}"),
    "greater_than_equal": ("{field}: {value} must be at least {ge}", "{field}：{value} 必须大于或等于 {ge}"),
    "less_than": ("{field}: {value} must be less than {lt}", "{field}：{value} 必须小于 {lt}"),
    "less_than_equal": ("{field}: {value} must be at most {le}", "{field}：{value} 必须小于或等于 {le}"),
    "date_parsing": _NOT_A_DATE,
    "date_from_datetime_parsing": _NOT_A_DATE,
    "date_from_datetime_inexact": _NOT_A_DATE,
    "datetime_parsing": _NOT_A_DATETIME,
    "datetime_from_date_parsing": _NOT_A_DATETIME,
    "bool_parsing": (
        "{field}: {value} is not yes or no (write true or false)",
        "{field}：{value} 不是是/否值（请填写 true 或 false）",
    ),
    "literal_error": _NOT_ALLOWED,
    "enum": _NOT_ALLOWED,
    "string_pattern_mismatch": (
        "{field}: {value} does not match the pattern {pattern}",
        "{field}：{value} 不符合格式 {pattern}",
    ),
    "value_error": ("{field}: {value} is not valid: {error}", "{field}：{value} 无效：{error}"),
    "too_long": ("{field}: has more than {max_length} items", "{field}：超过 {max_length} 项"),
    "too_short": ("{field}: has fewer than {min_length} items", "{field}：少于 {min_length} 项"),
}
# A type we have no words for still reaches a Chinese reader, with pydantic's English inside so nothing is lost.
_FALLBACK = ("{field}: {value}: {msg}", "{field}：{value} 无效（{msg}）")
_ROW_LABEL = ("row", "本行")


class RowValidator:
    """One file's rows checked against ``model``, in lax mode so "12.50" becomes a Decimal and "2024-01-31" a
    date, every error reported rather than the first, so a user fixes a row once. The model's validator, the
    column mapping and the fields are looked up once, so a row costs one dict and one validation call."""

    def __init__(self, model: type[BaseModel], columns: Mapping[int, str]) -> None:
        self._validator = model.__pydantic_validator__
        self._columns = list(columns.items())
        self._names = tuple(columns.values())
        self._width = max(columns, default=-1) + 1
        self._cells = _picker(list(columns))
        self._nullable = _required_nullable_fields(model)
        names = list(model.model_fields)
        values = itemgetter(*names)
        self._values = values if len(names) > 1 else (lambda fields: (values(fields),))

    def check(self, cells: list[str]) -> tuple[tuple[Any, ...] | None, tuple[Reason, ...]]:
        """The row's values in the model's field order, or None and every reason it is not valid."""
        if len(cells) >= self._width:
            picked = self._cells(cells)
            # the common row — every cell filled, none quoted by a report — goes to the model as it is, in C
            if "" in picked or any(map(str.startswith, picked, _QUOTE)):
                data = self._data(cells)
            else:
                data = dict(zip(self._names, picked, strict=True))
        else:
            data = self._data(cells)
        try:
            record = self._validator.validate_python(data)
        except ValidationError as error:
            return None, tuple(_reason(detail) for detail in error.errors(include_url=False))
        return self._values(record.__dict__), ()

    def _data(self, cells: list[str]) -> dict[str, str | None]:
        """The cells as the model should see them: an empty cell is no value (so a default or "missing"
        applies) but None for a required field that admits None, and a report's quote before formula-like text
        taken off."""
        data: dict[str, str | None] = {}
        width = len(cells)
        for position, name in self._columns:
            raw = cells[position] if position < width else ""
            if raw:
                data[name] = strip_report_quote(raw) if raw[0] == "'" else raw
            elif name in self._nullable:
                data[name] = None
        return data


def _picker(positions: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """The cells at ``positions`` as a tuple, taken in C (``itemgetter`` gives a bare value for one)."""
    if len(positions) > 1:
        return itemgetter(*positions)
    return lambda cells: tuple(cells[p] for p in positions)


def strip_report_quote(value: str) -> str:
    """``value`` without the ``'`` our error reports put before formula-like text, so a corrected errors.csv
    imports as the user sees it; any other leading ``'`` is the user's own and stays."""
    rest = value[1:]
    return rest if value.startswith("'") and neutralise_formula(rest) != rest else value


@lru_cache(maxsize=256)
def _required_nullable_fields(model: type[BaseModel]) -> frozenset[str]:
    """Fields without a default whose type admits None; worked out once per model, not once per row."""
    fields = model.model_fields.items()
    return frozenset(name for name, info in fields if info.is_required() and _admits_none(info.annotation))


def _admits_none(annotation: Any) -> bool:
    """Whether a field annotated so accepts None (``X | None``, ``Optional[X]``, ``None`` or ``Any``)."""
    return annotation is None or annotation is NoneType or annotation is Any or NoneType in get_args(annotation)


def _reason(detail: ErrorDetails) -> Reason:
    """One pydantic error as a Reason, worded by its type and filled from its context."""
    field = str(detail["loc"][0]) if detail["loc"] else None
    en, zh = _TEMPLATES.get(detail["type"], _FALLBACK)
    try:
        return _filled(field, detail, en, zh)
    except (KeyError, IndexError, ValueError):
        # a pydantic version whose context lacks a number we name: its own message beats no message
        return _filled(field, detail, *_FALLBACK)


def _filled(field: str | None, detail: ErrorDetails, en: str, zh: str) -> Reason:
    """The two templates filled with the field, the quoted value, pydantic's message and the error's context."""
    common = {**detail.get("ctx", {}), "value": _quoted(detail["input"]), "msg": detail["msg"]}
    en_label, zh_label = (field, field) if field is not None else _ROW_LABEL
    return Reason(
        field=field,
        en=en.format_map({**common, "field": en_label}),
        zh=zh.format_map({**common, **_zh_context(common), "field": zh_label}),
    )


def _zh_context(common: Mapping[str, Any]) -> dict[str, Any]:
    """Pydantic joins allowed values with an English "or"; a Chinese sentence reads them with 或."""
    expected = common.get("expected")
    return {"expected": expected.replace(" or ", " 或 ")} if isinstance(expected, str) else {}


def _quoted(value: object) -> str:
    """The offending value in quotes, cut so one long cell cannot swamp the report."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > QUOTED_VALUE_LIMIT:
        text = text[: QUOTED_VALUE_LIMIT - 1] + "…"
    return f'"{text}"'
