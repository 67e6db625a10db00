"""The compiled form of a bulk_update ``set`` expression — a tree of a few node kinds — and how it is computed
for a row: exact Decimal arithmetic, nulls as in SQL, and a value fitted into its field's kind."""

from __future__ import annotations

import datetime
import json
import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any

# Arithmetic is exact up to 28 significant digits (as SQL's NUMERIC would be, and as Python's default is).
CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])


class Refused(Exception):
    """Why an expression or a value is refused, in English and Chinese; the caller names the field."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


class Failed(Refused):
    """Why a row could not be computed; becomes ExpressionFailed naming the field."""


class Node(ABC):
    """A compiled expression's node: every kind computes itself for a row and renders itself as text."""

    __slots__ = ()
    kind: str

    @abstractmethod
    def evaluate(self, row: Mapping[str, Any]) -> Any: ...

    @abstractmethod
    def describe(self) -> str: ...

    def fields(self) -> frozenset[str]:
        return frozenset()


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any
    kind: str

    def evaluate(self, row: Mapping[str, Any]) -> Any:
        return self.value

    def describe(self) -> str:
        if self.value is None or isinstance(self.value, bool):
            return {None: "null", True: "true", False: "false"}[self.value]
        return json.dumps(self.value, ensure_ascii=False) if isinstance(self.value, str) else str(self.value)


@dataclass(frozen=True, slots=True)
class FieldRef(Node):
    name: str
    kind: str

    def evaluate(self, row: Mapping[str, Any]) -> Any:
        if self.name not in row:
            raise Failed(f"the row has no field {self.name!r}", f"该行没有字段 {self.name!r}")
        return row[self.name]

    def describe(self) -> str:
        return self.name

    def fields(self) -> frozenset[str]:
        return frozenset({self.name})


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node
    kind: str

    def evaluate(self, row: Mapping[str, Any]) -> Any:
        value = self.operand.evaluate(row)
        if value is None:
            return None
        return -exact(value) if self.op == "-" else +exact(value)

    def describe(self) -> str:
        return self.op + _wrapped(self.operand, 4)  # -(-x), -(a + b)

    def fields(self) -> frozenset[str]:
        return self.operand.fields()


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node
    kind: str

    def evaluate(self, row: Mapping[str, Any]) -> Any:
        left, right = self.left.evaluate(row), self.right.evaluate(row)
        if left is None or right is None:  # as in SQL: an unknown operand makes an unknown result
            return None
        a, b = exact(left), exact(right)
        if b == 0 and self.op in ("/", "//", "%"):  # 0 / 0 too, which Decimal calls undefined rather than zero
            raise Failed("division by zero", "除数为零")
        if self.op == "/" and isinstance(a, int) and isinstance(b, int):
            a = Decimal(a)  # 7 / 2 is 3.5, not 3 and not a float
        return _ARITHMETIC[self.op](a, b)

    def describe(self) -> str:
        level = _precedence(self)
        return f"{_wrapped(self.left, level)} {self.op} {_wrapped(self.right, level + 1)}"

    def fields(self) -> frozenset[str]:
        return self.left.fields() | self.right.fields()


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    kind: str

    def evaluate(self, row: Mapping[str, Any]) -> Any:
        if self.name == "coalesce":  # lazily, as SQL does: later values are not computed once one is found
            return next((v for v in (a.evaluate(row) for a in self.args) if v is not None), None)
        return _RUN[self.name]([a.evaluate(row) for a in self.args])

    def describe(self) -> str:
        return f"{self.name}({', '.join(a.describe() for a in self.args)})"

    def fields(self) -> frozenset[str]:
        return frozenset().union(*(a.fields() for a in self.args))


def _precedence(node: Node) -> int:
    if isinstance(node, Binary):
        return 1 if node.op in ("+", "-") else 2
    return 3 if isinstance(node, Unary) else 4


def _wrapped(node: Node, level: int) -> str:
    text = node.describe()
    return f"({text})" if _precedence(node) < level else text


def exact(value: Any) -> int | Decimal:
    """A row's value as an exact number: a float is taken as the decimal it prints as (0.1, not 0.1000000000…)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
        raise Failed(f"{shown(value)} is not a number", f"{shown(value)} 不是数字")
    number = Decimal(str(value)) if isinstance(value, float) else value
    if isinstance(number, Decimal) and not number.is_finite():
        raise Failed(f"{number} is not a finite number", f"{number} 不是有限的数字")
    return number


def _round(values: list[Any]) -> Any:
    """Halves are rounded away from zero (ROUND_HALF_UP, 四舍五入), as prices are; ``round(x)`` is whole."""
    value, places = values[0], values[1] if len(values) > 1 else 0
    number = None if value is None else exact(value)
    if not isinstance(number, Decimal):
        return number
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return int(rounded) if places == 0 else rounded


def _whole(rounding: str) -> Callable[[list[Any]], Any]:
    def run(values: list[Any]) -> Any:
        number = None if values[0] is None else exact(values[0])
        return int(number.to_integral_value(rounding=rounding)) if isinstance(number, Decimal) else number

    return run


def _abs(values: list[Any]) -> Any:
    return None if values[0] is None else abs(exact(values[0]))


def _text_function(method: Callable[[str], str]) -> Callable[[list[Any]], Any]:
    def run(values: list[Any]) -> Any:
        if values[0] is None or isinstance(values[0], str):
            return None if values[0] is None else method(values[0])
        raise Failed(f"{shown(values[0])} is not text", f"{shown(values[0])} 不是文本")

    return run


def _extreme(pick: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    def run(values: list[Any]) -> Any:
        return None if any(v is None for v in values) else pick(_comparable(values))

    return run


def _comparable(values: list[Any]) -> list[Any]:
    if all(isinstance(v, (int, Decimal, float)) and not isinstance(v, bool) for v in values):
        return [exact(v) for v in values]
    if len({type(v) for v in values}) == 1:
        return values
    raise Failed("values of different kinds cannot be compared", "不同类型的值无法比较")


def _concat(values: list[Any]) -> str:
    """Nulls are skipped, as PostgreSQL's ``concat`` does: a missing middle name leaves no "None" behind."""
    return "".join(_text(v) for v in values if v is not None)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


_RUN: dict[str, Callable[[list[Any]], Any]] = {
    "round": _round,
    "min": _extreme(min),
    "max": _extreme(max),
    "abs": _abs,
    "floor": _whole(ROUND_FLOOR),
    "ceil": _whole(ROUND_CEILING),
    "upper": _text_function(str.upper),
    "lower": _text_function(str.lower),
    "trim": _text_function(str.strip),
    "concat": _concat,
}


def evaluate(tree: Node, row: Mapping[str, Any]) -> Any:
    """``tree``'s value for ``row`` under the expressions' own decimal context; Failed for that row's reason."""
    try:
        with localcontext(CONTEXT):
            return tree.evaluate(row)
    except ZeroDivisionError:
        raise Failed("division by zero", "除数为零") from None
    except (ArithmeticError, ValueError):
        raise Failed("a number is too large to compute exactly", "数字太大，无法精确计算") from None


def fit(value: Any, kind: str) -> Any:
    """``value`` as a field of ``kind`` holds it; Failed when it does not fit."""
    fitted = value if value is None else _FITTERS[kind](value)
    if fitted is _MISFIT:
        raise Failed(f"{shown(value)} is not {NOUNS[kind][0]}", f"{shown(value)} 不是{NOUNS[kind][1]}")
    return fitted


_MISFIT = object()


def _number_or_none(value: Any) -> int | Decimal | None:
    try:
        return exact(value)
    except Failed:
        return None


def _to_int(value: Any) -> Any:
    number = _number_or_none(value)
    if isinstance(number, Decimal) and number == number.to_integral_value():
        return int(number)
    return number if isinstance(number, int) else _MISFIT


def _to_decimal(value: Any) -> Any:
    number = _number_or_none(value)
    return _MISFIT if number is None else Decimal(number)


def _to_float(value: Any) -> Any:
    number = _number_or_none(value)
    return _MISFIT if number is None else float(number)


def _kept(*types: type, unless: type | None = None) -> Callable[[Any], Any]:
    def keep(value: Any) -> Any:
        refused = unless is not None and isinstance(value, unless)
        return value if isinstance(value, types) and not refused else _MISFIT

    return keep


_FITTERS: dict[str, Callable[[Any], Any]] = {
    "int": _to_int,
    "decimal": _to_decimal,
    "float": _to_float,
    "str": _kept(str),
    "bool": _kept(bool),
    "date": _kept(datetime.date, unless=datetime.datetime),
    "datetime": _kept(datetime.datetime),
}


def shown(value: Any, limit: int = 40) -> str:
    text = repr(value) if isinstance(value, str) or not isinstance(value, (int, Decimal)) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Each kind as a noun with its article, and in Chinese.
NOUNS = {
    "int": ("a whole number", "整数"),
    "decimal": ("a decimal", "小数"),
    "float": ("a floating-point number", "浮点数"),
    "str": ("text", "文本"),
    "bool": ("true/false", "布尔值"),
    "date": ("a date", "日期"),
    "datetime": ("a date-time", "日期时间"),
}
