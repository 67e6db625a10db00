"""One table row of raw strings checked against a resource's Pydantic model, every reason in English and Chinese.

An import reports all that is wrong with a row at once, in words a person who filled in a spreadsheet can act on,
so each pydantic error becomes a sentence naming the column and quoting the cell rather than pydantic's own jargon.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from types import NoneType
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined, SchemaValidator, core_schema

from batchyard.core.cells import neutralise_formula

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails  # pydantic's own error shape, for the type checker only

_QUOTE = repeat("'")
_SEPARATOR = "\x00"  # joins a column's cells to look for one starting with a quote: no cell holds it (csv refuses)
_IMMUTABLE_DEFAULTS = (NoneType, bool, int, float, str, bytes, Decimal, datetime.date, datetime.time, enum.Enum)
_WHOLE_DIGITS_SHORTCUT = (
    30  # digits before the point a cell may have for a decimal's column shortcut, with no max_digits
)
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

Verdict = tuple[tuple[Any, ...] | None, tuple[Reason, ...] | Exception]
"""A row's values in the model's field order and no reasons, or None and every reason it is not valid — or the
exception its check raised that pydantic does not report (a validator's ``KeyError``), which fails that row."""


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
        self._by_column = _ColumnChecks.of(model, self._names)

    def check_all(self, rows: Sequence[list[str]]) -> list[Verdict]:
        """Each row's verdict, as ``check`` gives it (see ``check_chunk``)."""
        return self.check_chunk(rows).verdicts()

    def check_chunk(self, rows: Sequence[list[str]]) -> CheckedChunk:
        """The chunk's verdicts. A chunk of a plain model (no validator that sees other fields, no alias,
        defaults that are plain values) is checked a column at a time: one validation call per column for every
        row whose cells are all filled and unquoted, the rest and any failing row one by one — the same values
        and reasons, without a dict and a model instance per row, and the values kept a field at a time."""
        columns = self._by_column
        if columns is None or not rows or not self._names or min(map(len, rows)) < self._width:
            return CheckedChunk.row_by_row(list(map(self._checked, rows)))
        cells = [list(map(itemgetter(position), rows)) for position, _ in self._columns]
        try:
            return columns.checked(rows, cells, self._checked)
        except Exception:  # noqa: BLE001 - raised by a validator, not reported by pydantic: each row on its own
            return CheckedChunk.row_by_row(list(map(self._checked, rows)))

    def _checked(self, cells: list[str]) -> Verdict:
        """``check``, with an exception its validators raise kept as the row's verdict: it fails that row alone."""
        try:
            return self.check(cells)
        except Exception as error:  # noqa: BLE001 - a model's own code may raise anything
            return None, error

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


@dataclass(frozen=True, slots=True)
class CheckedChunk:
    """A chunk's verdicts as they were found: the rows that passed the column check (``valid``, in order), their
    values a model field at a time (``fields``), and every other row's own verdict (``others``, by position)."""

    size: int
    valid: list[int]
    fields: list[list[Any]]
    others: dict[int, Verdict]

    @staticmethod
    def row_by_row(verdicts: list[Verdict]) -> CheckedChunk:
        return CheckedChunk(len(verdicts), [], [], dict(enumerate(verdicts)))

    def verdicts(self) -> list[Verdict]:
        """Each row's verdict, in the chunk's order."""
        verdicts: list[Verdict] = [(None, ())] * self.size
        for i, values in zip(self.valid, zip(*self.fields, strict=True), strict=True):
            verdicts[i] = (values, ())
        for i, verdict in self.others.items():
            verdicts[i] = verdict
        return verdicts


class _ColumnChecks:
    """A plain model's mapped fields validated a column at a time, its other fields given their defaults."""

    def __init__(self, validators: list[_ColumnValidator], fields: list[int | Any]) -> None:
        self._validators = validators  # one per mapped column: its field's validation over a list of cells
        self._fields = fields  # per model field: the mapped column feeding it, or the default it takes

    @staticmethod
    @lru_cache(maxsize=256)
    def of(model: type[BaseModel], names: tuple[str, ...]) -> _ColumnChecks | None:
        """How to check ``model`` by columns fed from ``names``, or None when a row must be checked whole: a
        validator that may look at other fields, an alias, a default that is computed or validated."""
        fields = _plain_fields(model)
        if fields is None:
            return None
        config = model.__pydantic_core_schema__.get("config")
        # the field's schema with its default: a validator may say "use the default"
        validators = [_ColumnValidator(fields[name]["schema"], config) for name in names]
        feeds: list[int | Any] = []
        for name, info in model.model_fields.items():
            if name in names:
                feeds.append(names.index(name))
            elif _plain_default(info.default) and info.default_factory is None and not info.validate_default:
                feeds.append(_Default(info.default))
            else:
                return None
        return _ColumnChecks(validators, feeds)

    def checked(
        self, rows: Sequence[list[str]], columns: list[list[str]], check: Callable[[list[str]], Verdict]
    ) -> CheckedChunk:
        """The chunk's verdicts: ``columns`` are the mapped cells of ``rows`` a column at a time; a row with an
        empty or quoted cell, or one that fails, goes to ``check`` for its own verdict and reasons."""
        whole: set[int] = set()
        for column in columns:
            if "" in column or _SEPARATOR + "'" in _SEPARATOR + _SEPARATOR.join(column):
                whole.update(i for i, cell in enumerate(column) if not cell or cell[0] == "'")
        fast = [i for i in range(len(rows)) if i not in whole] if whole else list(range(len(rows)))
        validated = self._validated(columns, fast)
        if validated is None:  # some rows fail: the others validated again without them, those checked whole
            failing = self._failing(columns, fast)
            whole |= failing
            fast = [i for i in fast if i not in failing]
            validated = self._validated(columns, fast)
            if validated is None:  # cannot happen while fields are checked alone; if it does, row by row
                return CheckedChunk.row_by_row(list(map(check, rows)))
        count = len(fast)
        fields = [validated[f] if isinstance(f, int) else [f.value] * count for f in self._fields]
        return CheckedChunk(len(rows), fast, fields, {i: check(rows[i]) for i in sorted(whole)})

    def _validated(self, columns: list[list[str]], rows: list[int]) -> list[list[Any]] | None:
        """The columns' values for ``rows``, or None when one of them fails."""
        picked = columns if len(rows) == len(columns[0]) else [[column[i] for i in rows] for column in columns]
        try:
            return [validator.validate(cells) for validator, cells in zip(self._validators, picked, strict=True)]
        except ValidationError:
            return None

    def _failing(self, columns: list[list[str]], rows: list[int]) -> set[int]:
        """Which of ``rows`` fail in some column."""
        failing: set[int] = set()
        for validator, column in zip(self._validators, columns, strict=True):
            try:
                validator.full.validate_python([column[i] for i in rows])
            except ValidationError as error:
                found = error.errors(include_url=False, include_context=False, include_input=False)
                failing.update(rows[int(detail["loc"][0])] for detail in found)
        return failing


class _ColumnValidator:
    """A field's validation over a column of cells. A decimal with a limit on its places has each value's digits
    counted through Python objects — half its cost; a column whose every cell is a plain number within the
    limits as it is written (digits, at most one point, no sign or space) cannot fail that count, so it is
    validated without it: the same values, and the same errors for what else the field asks (``ge``, …)."""

    def __init__(self, schema: Any, config: Any) -> None:
        self.full = SchemaValidator(core_schema.list_schema(schema), config)
        self._plain = _plain_numbers(schema)
        self._relaxed = None if self._plain is None else SchemaValidator(_without_digit_limits(schema), config)

    def validate(self, cells: list[str]) -> list[Any]:
        if self._relaxed is not None and self._plain is not None and self._plain.fullmatch("\n".join(cells)):
            found: list[Any] = self._relaxed.validate_python(cells)
            return found
        found = self.full.validate_python(cells)
        return found


def _decimal_schema(schema: Any) -> dict[str, Any] | None:
    """A field's decimal schema, under its default if it has one; None for any other field."""
    inner = schema.get("schema") if schema.get("type") == "default" else schema
    return inner if isinstance(inner, dict) and inner.get("type") == "decimal" else None


def _plain_numbers(schema: Any) -> re.Pattern[str] | None:
    """For a decimal field with ``decimal_places``: cells joined by line breaks that each are a number written
    within its limits (so no count of its digits can fail) — None for any other field."""
    decimal = _decimal_schema(schema)
    if decimal is None or decimal.get("decimal_places") is None:
        return None
    places, most = decimal["decimal_places"], decimal.get("max_digits")
    whole = most - places if most is not None else _WHOLE_DIGITS_SHORTCUT
    if whole < 1:
        return None
    number = f"[0-9]{{1,{whole}}}" + (f"(?:\\.[0-9]{{1,{places}}})?" if places > 0 else "")
    return re.compile(f"{number}(?:\n{number})*")


def _without_digit_limits(schema: Any) -> Any:
    """The column's schema without the decimal's limits on its digits (its other constraints kept)."""
    decimal = _decimal_schema(schema)
    assert decimal is not None
    relaxed = {k: v for k, v in decimal.items() if k not in ("decimal_places", "max_digits")}
    return core_schema.list_schema({**schema, "schema": relaxed} if schema.get("type") == "default" else relaxed)


@dataclass(frozen=True, slots=True)
class _Default:
    value: Any


def _plain_fields(model: type[BaseModel]) -> dict[str, Any] | None:
    """The model's fields schema when each field is validated on its own: no model or field validators (a
    field's may read the fields before it), no custom ``__init__`` or post-init, no alias, no shared definitions."""
    schema: Any = model.__pydantic_core_schema__
    decorators = model.__pydantic_decorators__
    if (
        not isinstance(schema, dict)
        or schema.get("type") != "model"
        or schema.get("custom_init")
        or schema.get("root_model")
        or schema.get("post_init")
        or decorators.validators
        or decorators.field_validators
        or decorators.root_validators
        or decorators.model_validators
        or model.model_config.get("validate_default")
        or any(f.alias or f.validation_alias for f in model.model_fields.values())
    ):
        return None
    fields = schema["schema"]
    if fields.get("type") != "model-fields" or _refers_outside(fields["fields"]):
        return None
    found: dict[str, Any] = fields["fields"]
    return found


def _refers_outside(node: Any) -> bool:
    """Whether a schema holds a function given validation info (it may read other fields) or a reference to a
    definition elsewhere in the model's schema."""
    if isinstance(node, dict):
        if node.get("type") == "definition-ref":
            return True
        function = node.get("function")
        if isinstance(function, dict) and function.get("type") == "with-info":
            return True
        return any(_refers_outside(value) for value in node.values())
    if isinstance(node, list | tuple):
        return any(_refers_outside(value) for value in node)
    return False


def _plain_default(value: Any) -> bool:
    """A default every row may share: a value that cannot change, not one pydantic would copy or compute."""
    return value is not PydanticUndefined and isinstance(value, _IMMUTABLE_DEFAULTS)


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
    common = {**detail.get("ctx", {}), "value": quoted(detail["input"]), "msg": detail["msg"]}
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


def quoted(value: object) -> str:
    """The offending value in quotes, cut so one long cell cannot swamp the report."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > QUOTED_VALUE_LIMIT:
        text = text[: QUOTED_VALUE_LIMIT - 1] + "…"
    return f'"{text}"'
