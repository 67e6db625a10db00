"""The safe expression language of bulk_update's ``set`` (``{"price": "round(price * 1.05, 2)"}``): a whitelist
of Python's expression syntax, checked against the resource's fields and evaluated in Python — never SQL."""

from __future__ import annotations

import ast
import difflib
import io
import json
import tokenize
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from batchyard.core.expression_tree import (
    Binary,
    Call,
    Failed,
    FieldRef,
    Literal,
    Node,
    Refused,
    Unary,
    evaluate,
    fit,
    shown,
)
from batchyard.errors import ExpressionFailed, InvalidExpression

# Hostile input is refused before it costs anything: these bound the text, the tree and every literal.
MAX_LENGTH = 500
MAX_NODES = 100
MAX_DEPTH = 20
MAX_DIGITS = 30
MAX_TEXT = 1000
MAX_PLACES = 20

KINDS = frozenset({"int", "decimal", "float", "str", "bool", "date", "datetime"})
_ALIASES = {"integer": "int", "text": "str", "boolean": "bool"}  # the kinds core.resources names its columns
_NULL = "null"  # the kind of an expression that is always null
_NUMBERS = frozenset({"int", "decimal", "float"})
_FITS = {"int": {"int"}, "decimal": _NUMBERS, "float": _NUMBERS}
# Each kind as a noun with its article, in the plural, and in Chinese.
_NAMES = {
    "int": ("a whole number", "whole numbers", "整数"),
    "decimal": ("a decimal", "decimals", "小数"),
    "float": ("a floating-point number", "floating-point numbers", "浮点数"),
    "str": ("text", "text", "文本"),
    "bool": ("true/false", "true/false values", "布尔值"),
    "date": ("a date", "dates", "日期"),
    "datetime": ("a date-time", "date-times", "日期时间"),
    _NULL: ("null", "null", "空值"),
}
_WORDS: dict[str, bool | None] = {"null": None, "true": True, "false": False}
_ARITY: dict[str, tuple[int, int]] = {
    "round": (1, 2),
    "coalesce": (2, MAX_NODES),
    "min": (2, MAX_NODES),
    "max": (2, MAX_NODES),
    "abs": (1, 1),
    "floor": (1, 1),
    "ceil": (1, 1),
    "upper": (1, 1),
    "lower": (1, 1),
    "trim": (1, 1),
    "concat": (1, MAX_NODES),
}
_ALIKE = frozenset({"coalesce", "min", "max"})  # their values must be of one kind (numbers count as one)
_TEXT = frozenset({"upper", "lower", "trim"})
_GIVES = {"floor": "int", "ceil": "int", "upper": "str", "lower": "str", "trim": "str"}
_UNARY: dict[type[ast.unaryop], str] = {ast.UAdd: "+", ast.USub: "-"}
_BINARY: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
}
_OPERATORS_REFUSED = {ast.Pow: "**", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|"}
_OPERATORS_REFUSED |= {ast.BitXor: "^", ast.BitAnd: "&"}
_COLLECTIONS = ("lists, tuples, sets and dicts are not allowed", "不允许列表、元组、集合和字典")
_COMPREHENSIONS = ("comprehensions are not allowed", "不允许推导式")
_FORBIDDEN: dict[type[ast.AST], tuple[str, str]] = {
    ast.Attribute: ("attributes are not allowed", "不允许访问属性"),
    ast.Subscript: ("indexing is not allowed", "不允许下标取值"),
    ast.Lambda: ("lambda functions are not allowed", "不允许 lambda 函数"),
    ast.IfExp: ("conditional expressions are not allowed", "不允许条件表达式"),
    ast.Compare: ("comparisons are not allowed", "不允许比较运算"),
    ast.BoolOp: ("'and' and 'or' are not allowed", "不允许 and 和 or"),
    ast.JoinedStr: ("f-strings are not allowed", "不允许 f-字符串"),
    ast.NamedExpr: ("assignments (':=') are not allowed", "不允许赋值（:=）"),
    ast.Starred: ("unpacking ('*') is not allowed", "不允许解包（*）"),
    ast.Await: ("'await' is not allowed", "不允许 await"),
    ast.Yield: ("'yield' is not allowed", "不允许 yield"),
    ast.List: _COLLECTIONS,
    ast.Tuple: _COLLECTIONS,
    ast.Set: _COLLECTIONS,
    ast.Dict: _COLLECTIONS,
    ast.ListComp: _COMPREHENSIONS,
    ast.SetComp: _COMPREHENSIONS,
    ast.DictComp: _COMPREHENSIONS,
    ast.GeneratorExp: _COMPREHENSIONS,
}
_OTHER = ("this kind of expression is not allowed", "不允许这种表达式")


@dataclass(frozen=True, slots=True)
class Expression:
    """One compiled entry of ``set``: the field it writes, the fields it reads, and how to compute it."""

    field: str
    kind: str  # the written field's kind
    result_kind: str  # what the expression gives, as far as is known before any row: a kind, or "null"
    fields_used: frozenset[str]
    tree: Node

    def evaluate(self, row: Mapping[str, Any]) -> Any:
        """The value for ``row``; ExpressionFailed (that row's failure) on a zero divisor or a number too large."""
        try:
            return evaluate(self.tree, row)
        except Failed as failure:
            raise ExpressionFailed(field=self.field, reason=failure.en, reason_zh=failure.zh) from None

    def apply(self, row: Mapping[str, Any]) -> Any:
        """The value for ``row``, fitted into the written field's kind."""
        return coerce(self.evaluate(row), self.kind, field=self.field)

    def describe(self) -> str:
        """The expression as normalised text (spacing, parentheses, ``null``): for previews and the audit log."""
        return self.tree.describe()


def compile_set(
    set_spec: Mapping[str, str | int | float | bool | None], fields: Mapping[str, str], *, key: Sequence[str] = ()
) -> dict[str, Expression]:
    """Each ``set`` entry compiled, or InvalidExpression for the first that is not valid. A text value is an
    expression (text to write is quoted: ``"\\"on sale\\""``); any other JSON value is a literal. ``fields`` maps
    each field to its kind; a key column cannot be written, and a result must fit the field's kind: a number
    that may not be whole goes into an int field only through round(x), floor(x) or ceil(x)."""
    kinds = {name: _kind(kind) for name, kind in fields.items()}
    return {name: _compile(name, value, kinds, key) for name, value in set_spec.items()}


def coerce(value: Any, kind: str, *, field: str = "") -> Any:
    """``value`` as the Python value an field of ``kind`` holds (a whole Decimal into an int field, a number into a
    float field…); ExpressionFailed when it does not fit. Null stays null: whether it may is the table's rule."""
    try:
        return fit(value, _kind(kind))
    except Failed as failure:
        raise ExpressionFailed(field=field, reason=failure.en, reason_zh=failure.zh) from None


def _kind(kind: str) -> str:
    kind = _ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise ValueError(f"{kind!r} is not a kind of field; the kinds are {', '.join(sorted(KINDS))}")
    return kind


def _compile(name: str, value: Any, kinds: Mapping[str, str], key: Sequence[str]) -> Expression:
    try:
        target = _target(name, kinds, key)
        tree = _literal_tree(value) if not isinstance(value, str) else _Parser(kinds, target).parse(value)
        _check_fits(name, tree.kind, target)
    except Refused as refusal:
        raise InvalidExpression(field=name, reason=refusal.en, reason_zh=refusal.zh) from None
    return Expression(name, target, tree.kind, tree.fields(), tree)


def _target(name: str, kinds: Mapping[str, str], key: Sequence[str]) -> str:
    if name in key:
        raise Refused(f"the key column {name!r} cannot be updated", f"键列 {name!r} 不能更新")
    if name not in kinds:
        en, zh = _suggestion(name, kinds)
        raise Refused(f"there is no field {name!r} to set{en}", f"没有可设置的字段 {name!r}{zh}")
    return kinds[name]


def _check_fits(name: str, result: str, target: str) -> None:
    if result == _NULL or result in _FITS.get(target, {target}):
        return
    noun, _, zh = _NAMES[result]
    _, plural, target_zh = _NAMES[target]
    en_hint, zh_hint = ("", "")
    if target == "int" and result in _NUMBERS:
        en_hint, zh_hint = (
            "; make it whole with round(x), floor(x) or ceil(x)",
            "；请用 round(x)、floor(x) 或 ceil(x) 取整",
        )
    raise Refused(
        f"the result is {noun}, and {name!r} holds {plural}{en_hint}",
        f"结果是{zh}，而字段 {name!r} 存放的是{target_zh}{zh_hint}",
    )


def _literal_tree(value: Any) -> Node:
    """A JSON value of ``set`` that is not text: a literal, bounded as one written in an expression is."""
    if value is None or isinstance(value, bool):
        return _literal(value)
    if isinstance(value, (int, float)):
        number = Decimal(str(value)) if isinstance(value, float) else value
        if _within_digits(number):
            return _literal(number)
        raise Refused(
            f"{value!r} — numbers may have at most {MAX_DIGITS} digits", f"{value!r} — 数字最多 {MAX_DIGITS} 位"
        )
    raise Refused(
        "a value must be an expression (as text), a number, true, false or null",
        "值必须是表达式（文本）、数字、true、false 或 null",
    )


def _within_digits(number: int | Decimal) -> bool:
    if isinstance(number, int):
        return len(str(abs(number))) <= MAX_DIGITS
    digits = number.as_tuple().digits
    return (
        number.is_finite() and len(digits) <= MAX_DIGITS and (not any(digits) or abs(number.adjusted()) <= MAX_DIGITS)
    )


def _literal(value: Any) -> Literal:
    if value is None:
        return Literal(None, _NULL)
    kinds = ((bool, "bool"), (int, "int"), (Decimal, "decimal"), (str, "str"))
    return Literal(value, next(kind for python_type, kind in kinds if isinstance(value, python_type)))


def _suggestion(name: str, candidates: Iterable[str]) -> tuple[str, str]:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return (f" (did you mean {close[0]!r}?)", f"（是否要写 {close[0]!r}？）") if close else ("", "")


class _Parser:
    """Turns the text of one expression into a tree of the nodes above, refusing all the rest of Python."""

    def __init__(self, fields: Mapping[str, str], target: str) -> None:
        self.fields, self.target, self.source = fields, target, ""

    def parse(self, source: str) -> Node:
        self.source = source.strip()
        _check_text(source, self.source)
        try:
            body = ast.parse(self.source, mode="eval").body
        except SyntaxError as error:
            raise _not_an_expression(error, self.source if self.target == "str" else None) from None
        except (ValueError, RecursionError, MemoryError):
            raise Refused("the expression is too complex", "表达式过于复杂") from None
        _check_size(body, self.source)
        return self.node(body)

    def node(self, tree: ast.expr) -> Node:
        handlers: dict[type[ast.AST], Callable[[Any], Node]] = {
            ast.Constant: self._constant,
            ast.Name: self._name,
            ast.UnaryOp: self._unary,
            ast.BinOp: self._binary,
            ast.Call: self._call,
        }
        handler = handlers.get(type(tree))
        if handler is None:
            raise self._refuse(tree, *_FORBIDDEN.get(type(tree), _OTHER))
        return handler(tree)

    def _constant(self, tree: ast.Constant) -> Node:
        value = tree.value
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise self._refuse(
                    tree, f"text may be at most {MAX_TEXT:,} characters", f"文本最多 {MAX_TEXT:,} 个字符"
                )
            return _literal(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value if isinstance(value, int) else Decimal(self._segment(tree))  # 1.05 stays exactly 1.05
            if not _within_digits(number):
                raise self._refuse(tree, f"numbers may have at most {MAX_DIGITS} digits", f"数字最多 {MAX_DIGITS} 位")
            return _literal(number)
        if value is None or isinstance(value, bool):
            return _literal(value)
        raise self._refuse(
            tree, "only numbers, text, true, false and null are values", "值只能是数字、文本、true、false 或 null"
        )

    def _name(self, tree: ast.Name) -> Node:
        if tree.id.lower() in _WORDS:
            return _literal(_WORDS[tree.id.lower()])
        if tree.id in self.fields:
            return FieldRef(tree.id, self.fields[tree.id])
        en, zh = _suggestion(tree.id, self.fields)
        if not en and self.target == "str":
            en, zh = f' (text is written in quotes: "{tree.id}")', f'（文本要加引号："{tree.id}"）'
        raise Refused(f"unknown field {tree.id!r}{en}", f"未知字段 {tree.id!r}{zh}")

    def _unary(self, tree: ast.UnaryOp) -> Node:
        symbol = _UNARY.get(type(tree.op))
        if symbol is None:
            raise self._refuse(tree, "'not' and '~' are not allowed", "不允许 not 和 ~")
        operand = self.node(tree.operand)
        self._need_number(tree.operand, operand.kind, f"'{symbol}'")
        return Unary(symbol, operand, _arithmetic_kind(operand.kind))

    def _binary(self, tree: ast.BinOp) -> Node:
        symbol = _BINARY.get(type(tree.op))
        if symbol is None:
            refused = _OPERATORS_REFUSED.get(type(tree.op), "?")
            raise self._refuse(tree, f"the operator '{refused}' is not allowed", f"不允许运算符 '{refused}'")
        left, right = self.node(tree.left), self.node(tree.right)
        self._need_number(tree.left, left.kind, f"'{symbol}'")
        self._need_number(tree.right, right.kind, f"'{symbol}'")
        if symbol in ("//", "%") and not {left.kind, right.kind} <= {"int", _NULL}:
            raise self._refuse(tree, f"'{symbol}' works on whole numbers only", f"'{symbol}' 只能用于整数")
        if _NULL in (left.kind, right.kind):
            return Binary(symbol, left, right, _NULL)
        whole = left.kind == right.kind == "int" and symbol != "/"
        return Binary(symbol, left, right, "int" if whole else "decimal")

    def _call(self, tree: ast.Call) -> Node:
        name = tree.func.id if isinstance(tree.func, ast.Name) else ""
        if name not in _ARITY:
            called = shown(self._segment(tree.func))
            raise Refused(
                f"calls are limited to {', '.join(_ARITY)}; {called} is not one",
                f"只能调用 {', '.join(_ARITY)}；{called} 不在其中",
            )
        if tree.keywords:
            raise self._refuse(tree.keywords[0], "keyword arguments are not allowed", "不允许关键字参数")
        args = tuple(self.node(arg) for arg in tree.args)
        low, high = _ARITY[name]
        if not low <= len(args) <= high:
            takes = str(low) if low == high else f"{low} to {high}" if high < MAX_NODES else f"at least {low}"
            raise self._refuse(
                tree,
                f"{name} takes {takes} values, not {len(args)}",
                f"{name} 接受 {takes} 个值，而不是 {len(args)} 个",
            )
        return Call(name, args, self._call_kind(tree, name, args))

    def _call_kind(self, tree: ast.Call, name: str, args: tuple[Node, ...]) -> str:
        if name == "concat":
            return "str"
        if name in _ALIKE:
            kind = self._alike(tree, name, [arg.kind for arg in args])
            return kind if name == "coalesce" else _arithmetic_kind(kind)
        first = args[0]
        if name in _TEXT and first.kind not in ("str", _NULL):
            raise self._refuse(tree.args[0], f"{name}(s) needs text", f"{name}(s) 只能用于文本")
        if name not in _TEXT:
            self._need_number(tree.args[0], first.kind, f"{name}(x)")
        if first.kind == _NULL:
            return _NULL
        if name == "round":
            return self._round_kind(tree, first)
        return _arithmetic_kind(first.kind) if name == "abs" else _GIVES[name]

    def _round_kind(self, tree: ast.Call, first: Node) -> str:
        if len(tree.args) == 1:
            return "int"
        places = tree.args[1]
        if not (isinstance(places, ast.Constant) and type(places.value) is int and 0 <= places.value <= MAX_PLACES):
            en = f"the places of round(x, n) must be a whole number from 0 to {MAX_PLACES}"
            raise self._refuse(places, en, f"round(x, n) 的位数必须是 0 到 {MAX_PLACES} 的整数")
        return "int" if places.value == 0 or first.kind == "int" else "decimal"

    def _alike(self, tree: ast.Call, name: str, kinds: list[str]) -> str:
        known = sorted({kind for kind in kinds if kind != _NULL})
        if len(known) <= 1:
            return known[0] if known else _NULL
        if set(known) <= _NUMBERS:
            return "decimal"
        (a, _, a_zh), (b, _, b_zh) = _NAMES[known[0]], _NAMES[known[1]]
        raise self._refuse(tree, f"{name} mixes {a} and {b}", f"{name} 混用了{a_zh}和{b_zh}")

    def _need_number(self, part: ast.AST, kind: str, what: str) -> None:
        if kind in _NUMBERS or kind == _NULL:
            return
        noun, _, zh = _NAMES[kind]
        en_hint, zh_hint = (
            ("; join text with concat(a, b)", "；拼接文本请用 concat(a, b)") if kind == "str" else ("", "")
        )
        raise self._refuse(
            part, f"it is {noun}, and {what} needs numbers{en_hint}", f"它是{zh}，而 {what} 只能用于数字{zh_hint}"
        )

    def _refuse(self, part: ast.AST, en: str, zh: str) -> Refused:
        quoted = shown(self._segment(part), 60)
        return Refused(f"{quoted} — {en}", f"{quoted} — {zh}")

    def _segment(self, part: ast.AST) -> str:
        return ast.get_source_segment(self.source, part) or type(part).__name__


def _not_an_expression(error: SyntaxError, text: str | None) -> Refused:
    """Python's own reason and where; ``text`` (going into a text field) is hinted at: text is quoted."""
    where = f", at column {error.offset}" if error.offset else ""
    where_zh = f"，第 {error.offset} 列" if error.offset else ""
    en, zh = f"it is not a valid expression ({error.msg}{where})", f"不是有效的表达式（{error.msg}{where_zh}）"
    if text is not None:
        quoted = json.dumps(text, ensure_ascii=False)
        en, zh = f"{en}; text is written in quotes: {quoted}", f"{zh}；文本要加引号：{quoted}"
    return Refused(en, zh)


def _arithmetic_kind(kind: str) -> str:
    return "decimal" if kind == "float" else kind  # a float is computed as the Decimal it prints as


def _check_text(source: str, stripped: str) -> None:
    if len(source) > MAX_LENGTH:
        raise Refused(
            f"it is {len(source):,} characters long; at most {MAX_LENGTH} are allowed",
            f"长度为 {len(source):,} 个字符，最多允许 {MAX_LENGTH} 个",
        )
    if "\x00" in source:
        raise Refused("it contains a NUL character", "包含 NUL 字符")
    if not stripped:
        raise Refused("it is empty", "表达式为空")


def _check_size(body: ast.expr, source: str) -> None:
    nodes = sum(1 for node in ast.walk(body) if isinstance(node, (ast.expr, ast.keyword)))
    if nodes > MAX_NODES:
        raise Refused(
            f"it has {nodes} parts; at most {MAX_NODES} are allowed", f"它有 {nodes} 个部分，最多允许 {MAX_NODES} 个"
        )
    depth = max(_tree_depth(body), _bracket_depth(source))
    if depth > MAX_DEPTH:
        raise Refused(
            f"it nests {depth} levels deep; at most {MAX_DEPTH} are allowed",
            f"嵌套了 {depth} 层，最多允许 {MAX_DEPTH} 层",
        )


def _tree_depth(body: ast.expr) -> int:
    deepest, stack = 0, [(body, 1)]
    while stack:  # not recursive: a hostile tree must not be the one to find Python's recursion limit
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))
    return deepest


def _bracket_depth(source: str) -> int:
    """How deep brackets nest: ``((((x))))`` is one node in the tree, yet fifty of them are no one's price."""
    depth = deepest = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.OP and token.string in ("(", "[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token.type == tokenize.OP and token.string in (")", "]", "}"):
            depth -= 1
    return deepest
