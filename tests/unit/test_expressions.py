"""The expression language of bulk_update's ``set``: exact results, SQL-like nulls, and every other piece of Python
refused with a reason that names it, in English and Chinese."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchyard.core import expressions
from batchyard.core.expressions import Expression, coerce, compile_set
from batchyard.errors import ExpressionFailed, InvalidExpression

CJK = re.compile(r"[\u4e00-\u9fff]")
FIELDS = {
    "sku": "str",
    "price": "decimal",
    "stock": "int",
    "points": "int",
    "note": "str",
    "name": "str",
    "ratio": "float",
    "active": "bool",
    "born": "date",
    "seen": "datetime",
}
ROW: dict[str, Any] = {
    "sku": "A-1",
    "price": Decimal("19.99"),
    "stock": None,
    "points": 250,
    "note": "old",
    "name": "  Tea Pot ",
    "ratio": 0.1,
    "active": True,
    "born": datetime.date(2020, 1, 2),
    "seen": datetime.datetime(2024, 5, 6, 7, 8, 9),
}


def compiled(field: str, source: str | int | float | bool | None) -> Expression:
    return compile_set({field: source}, FIELDS, key=["sku"])[field]


def refusal(field: str, source: Any) -> InvalidExpression:
    with pytest.raises(InvalidExpression) as caught:
        compile_set({field: source}, FIELDS, key=["sku"])
    return caught.value


def failure(expression: Expression, row: Mapping[str, Any]) -> ExpressionFailed:
    with pytest.raises(ExpressionFailed) as caught:
        expression.evaluate(row)
    return caught.value


@pytest.mark.parametrize(
    ("field", "source", "expected"),
    [
        ("price", "price * 1.05", Decimal("20.9895")),
        ("price", "round(price * 1.05, 2)", Decimal("20.99")),
        ("stock", "coalesce(stock, 0) + 10", 10),
        ("note", '"on sale"', "on sale"),
        ("note", "null", None),
        ("points", "points - 100", 150),
        ("points", "max(points - 100, 0)", 150),
        ("price", "-price", Decimal("-19.99")),
        ("price", "price * (1 + 5 / 100)", Decimal("20.9895")),
    ],
)
def test_the_documented_examples_give_exact_results(field: str, source: str, expected: object) -> None:
    value = compiled(field, source).evaluate(ROW)
    assert value == expected
    assert type(value) is type(expected)


def test_a_literal_is_the_decimal_its_text_says() -> None:
    assert compiled("price", "1.05").evaluate(ROW) == Decimal("1.05")
    assert compiled("price", "0.1 + 0.2").evaluate(ROW) == Decimal("0.3")
    assert compiled("price", "1_000.5").evaluate(ROW) == Decimal("1000.5")


def test_whole_numbers_stay_whole_except_under_division() -> None:
    assert compiled("points", "points * 2 - 7 // 2 + 7 % 4").evaluate(ROW) == 250 * 2 - 3 + 3
    assert compiled("price", "7 / 2").evaluate(ROW) == Decimal("3.5")
    assert compiled("price", "1 / 3").evaluate(ROW) == Decimal(1) / Decimal(3)  # 28 digits
    assert len(str(compiled("price", "1 / 3").evaluate(ROW))) == 30


def test_a_float_is_computed_as_the_decimal_it_prints_as() -> None:
    assert compiled("price", "ratio * 3").evaluate(ROW) == Decimal("0.3")
    assert compiled("ratio", "ratio * 3").apply(ROW) == 0.3


@pytest.mark.parametrize(
    "source",
    ["price * 2", "-price", "price / 0", "round(price, 2)", "abs(price)", "floor(price)", "max(price, 1)", "1 + null"],
)
def test_a_null_operand_makes_a_null_result(source: str) -> None:
    assert compiled("price", source).evaluate({**ROW, "price": None}) is None


def test_coalesce_takes_the_first_value_that_is_not_null_and_computes_no_further() -> None:
    expression = compiled("stock", "coalesce(stock, points, 1 // 0)")
    assert expression.evaluate(ROW) == 250
    assert expression.evaluate({**ROW, "stock": 0}) == 0
    assert compiled("note", "coalesce(null, null)").evaluate(ROW) is None
    assert failure(expression, {**ROW, "points": None}).details["reason"] == "division by zero"


def test_round_takes_halves_away_from_zero_as_money_is_rounded() -> None:
    assert compiled("points", "round(2.5)").evaluate(ROW) == 3
    assert compiled("points", "round(-2.5)").evaluate(ROW) == -3
    assert compiled("price", "round(1.005, 2)").evaluate(ROW) == Decimal("1.01")
    assert compiled("price", "round(2.675, 2)").evaluate(ROW) == Decimal("2.68")
    assert compiled("points", "round(points, 2)").evaluate(ROW) == 250


def test_floor_ceil_and_abs_work_on_decimals() -> None:
    assert compiled("points", "floor(-price)").evaluate(ROW) == -20
    assert compiled("points", "ceil(price)").evaluate(ROW) == 20
    assert compiled("price", "abs(-price)").evaluate(ROW) == Decimal("19.99")
    assert compiled("points", "min(points, 3, 10)").evaluate(ROW) == 3


def test_text_functions_and_concat_which_skips_nulls() -> None:
    assert compiled("note", "upper(trim(name))").evaluate(ROW) == "TEA POT"
    assert compiled("note", "lower(sku)").evaluate(ROW) == "a-1"
    assert compiled("note", 'concat(sku, "/", stock, "/", price, "/", active, "/", born)').evaluate(ROW) == (
        "A-1//19.99/true/2020-01-02"
    )
    assert compiled("note", "concat(null)").evaluate(ROW) == ""


def test_true_false_and_null_are_words_in_any_case() -> None:
    assert compiled("active", "false").evaluate(ROW) is False
    assert compiled("active", "True").evaluate(ROW) is True
    assert compiled("note", "NULL").evaluate(ROW) is None


def test_fields_used_are_the_fields_the_expression_reads() -> None:
    assert compiled("price", "round(coalesce(price, ratio) * 2, 2)").fields_used == {"price", "ratio"}
    assert compiled("note", '"x"').fields_used == frozenset()


@pytest.mark.parametrize(
    ("source", "row", "reason"),
    [
        ("price / 0", ROW, "division by zero"),
        ("price / (points - 250)", ROW, "division by zero"),
        ("0 / price", {**ROW, "price": Decimal(0)}, "division by zero"),
        ("points % 0", ROW, "division by zero"),
        ("price * 2", {**ROW, "price": "19.99"}, "'19.99' is not a number"),
        ("price * 2", {"points": 1}, "the row has no field 'price'"),
    ],
)
def test_a_row_that_cannot_be_computed_fails_with_its_reason(source: str, row: dict[str, Any], reason: str) -> None:
    error = failure(compiled("price", source), row)
    assert error.details["field"] == "price"
    assert reason in error.details["reason"]
    assert CJK.search(error.details["reason_zh"])


def test_a_failed_row_reads_in_both_languages() -> None:
    error = failure(compiled("price", "price / 0"), ROW)
    assert error.code == "expression_failed"
    assert error.message("en") == "The expression for 'price' could not be computed for this row: division by zero"
    assert error.message("zh-CN") == "字段 'price' 的表达式无法对此行求值：除数为零"


def test_a_result_beyond_the_decimal_range_fails_the_row_not_the_job() -> None:
    huge = Decimal("9" * 28) * Decimal(10) ** 999_970
    error = failure(compiled("price", "price * price"), {**ROW, "price": huge})
    assert "too large" in error.details["reason"]


HOSTILE = [
    ("__import__('os')", "'__import__' is not one"),
    ("__import__('os').system('ls')", "is not one"),
    ("exec('1')", "'exec' is not one"),
    ("open('x')", "'open' is not one"),
    ("getattr(price, 'x')", "'getattr' is not one"),
    ("price.x()", "'price.x' is not one"),
    ("price.__class__", "'price.__class__' — attributes are not allowed"),
    ("price.real", "'price.real' — attributes are not allowed"),
    ("[1][0]", "'[1][0]' — indexing is not allowed"),
    ("price[0]", "indexing is not allowed"),
    ("lambda: 1", "lambda functions are not allowed"),
    ("price if 1 else 2", "conditional expressions are not allowed"),
    ("price > 1", "'price > 1' — comparisons are not allowed"),
    ("price and 1", "'and' and 'or' are not allowed"),
    ('f"{price}"', "f-strings are not allowed"),
    ("10 ** 10 ** 10", "'10 ** 10 ** 10' — the operator '**' is not allowed"),
    ("points << 2", "the operator '<<' is not allowed"),
    ("not price", "'not' and '~' are not allowed"),
    ("~points", "'not' and '~' are not allowed"),
    ("9" * 40, "numbers may have at most 30 digits"),
    ("1e400", "numbers may have at most 30 digits"),
    ("(x := 1)", "'x := 1' — assignments (':=') are not allowed"),
    ("round(*a)", "'*a' — unpacking ('*') is not allowed"),
    ("round(price, ndigits=2)", "'ndigits=2' — keyword arguments are not allowed"),
    ("round(**a)", "'**a' — keyword arguments are not allowed"),
    ("x" * 600, "it is 600 characters long; at most 500 are allowed"),
    ("(" * 50 + "price" + ")" * 50, "it nests 50 levels deep; at most 20 are allowed"),
    ("1 + " * 25 + "1", "it nests 26 levels deep"),
    ("concat(" + ", ".join(["1"] * 101) + ")", "at most 100 are allowed"),
    ("price\x00", "it contains a NUL character"),
    ("prise * 2", "unknown field 'prise' (did you mean 'price'?)"),
    ("os", "unknown field 'os'"),
    ("[price]", "lists, tuples, sets and dicts are not allowed"),
    ("{1: 2}", "lists, tuples, sets and dicts are not allowed"),
    ("(price, 1)", "lists, tuples, sets and dicts are not allowed"),
    ("[x for x in price]", "comprehensions are not allowed"),
    ("await price", "'await' is not allowed"),
    ("(yield)", "'yield' is not allowed"),
    ("1j", "'1j' — only numbers, text, true, false and null are values"),
    ('b"x"', "only numbers, text, true, false and null are values"),
    ("...", "only numbers, text, true, false and null are values"),
    ("price +", "it is not a valid expression (invalid syntax"),
    ("   ", "it is empty"),
    ('"a" + price', "it is text, and '+' needs numbers; join text with concat(a, b)"),
    ("active * 2", "'active' — it is true/false, and '*' needs numbers"),
    ("-born", "it is a date, and '-' needs numbers"),
    ("upper(price)", "upper(s) needs text"),
    ('abs("x")', "abs(x) needs numbers"),
    ("price // 2", "'price // 2' — '//' works on whole numbers only"),
    ("price % 2", "'%' works on whole numbers only"),
    ('min(price, "x")', "min mixes a decimal and text"),
    ("round(price, points)", "the places of round(x, n) must be a whole number from 0 to 20"),
    ("round(price, 21)", "the places of round(x, n) must be a whole number from 0 to 20"),
    ("round(price, 2, 3)", "round takes 1 to 2 values, not 3"),
    ("coalesce(price)", "coalesce takes at least 2 values, not 1"),
    ("floor()", "floor takes 1 values, not 0"),
]


@pytest.mark.parametrize(("source", "reason"), HOSTILE)
def test_anything_outside_the_language_is_refused_with_the_part_named(source: str, reason: str) -> None:
    error = refusal("price", source)
    assert error.details["field"] == "price"
    assert reason in error.details["reason"]
    assert CJK.search(error.details["reason_zh"])


def test_a_refusal_reads_in_both_languages() -> None:
    error = refusal("price", "price.real")
    assert error.code == "invalid_expression"
    assert error.message("en") == "The expression for 'price' is not valid: 'price.real' — attributes are not allowed"
    assert error.message("zh-CN") == "字段 'price' 的表达式无效：'price.real' — 不允许访问属性"


def test_a_text_literal_longer_than_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expressions, "MAX_LENGTH", 5_000)  # the text limit alone: the length limit comes first
    assert compiled("note", '"' + "x" * 1_000 + '"').evaluate(ROW) == "x" * 1_000
    assert "text may be at most 1,000 characters" in refusal("note", '"' + "x" * 1_001 + '"').details["reason"]


def test_a_key_column_cannot_be_updated() -> None:
    error = refusal("sku", '"B-2"')
    assert error.details["reason"] == "the key column 'sku' cannot be updated"
    assert error.message("zh-CN") == "字段 'sku' 的表达式无效：键列 'sku' 不能更新"


def test_a_field_that_does_not_exist_cannot_be_set() -> None:
    assert refusal("prise", "1").details["reason"] == "there is no field 'prise' to set (did you mean 'price'?)"


def test_text_not_quoted_for_a_text_field_is_hinted_at() -> None:
    assert refusal("note", "clearance").details["reason"] == (
        "unknown field 'clearance' (text is written in quotes: \"clearance\")"
    )
    assert refusal("note", "on sale").details["reason"].endswith('text is written in quotes: "on sale"')


@pytest.mark.parametrize(
    ("field", "source", "reason"),
    [
        ("price", '"on sale"', "the result is text, and 'price' holds decimals"),
        ("stock", "price * 2", "the result is a decimal, and 'stock' holds whole numbers; make it whole with round(x)"),
        ("stock", "points / 2", "the result is a decimal, and 'stock' holds whole numbers"),
        ("stock", "round(price, 2)", "the result is a decimal"),
        ("stock", "ratio", "the result is a floating-point number, and 'stock' holds whole numbers"),
        ("note", "points", "the result is a whole number, and 'note' holds text"),
        ("active", "1", "the result is a whole number, and 'active' holds true/false values"),
        ("born", "seen", "the result is a date-time, and 'born' holds dates"),
    ],
)
def test_a_result_of_the_wrong_kind_for_its_field_is_refused(field: str, source: str, reason: str) -> None:
    assert reason in refusal(field, source).details["reason"]


@pytest.mark.parametrize(
    ("field", "source", "expected"),
    [
        ("stock", "round(price)", 20),
        ("stock", "round(price, 0)", 20),
        ("stock", "floor(price * 3)", 59),
        ("stock", "ceil(price)", 20),
        ("price", "points", Decimal(250)),
        ("ratio", "price + points", 269.99),
        ("ratio", "1", 1.0),
        ("born", "born", datetime.date(2020, 1, 2)),
        ("active", "null", None),
    ],
)
def test_results_that_fit_their_field_are_fitted_into_its_kind(field: str, source: str, expected: object) -> None:
    value = compiled(field, source).apply(ROW)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("stock", 0, 0), ("note", None, None), ("price", 1.5, Decimal("1.5")), ("active", False, False)],
)
def test_values_that_are_not_text_are_literals(field: str, value: int | float | None, expected: object) -> None:
    expression = compiled(field, value)
    assert expression.apply(ROW) == expected
    assert type(expression.apply(ROW)) is type(expected)


def test_a_value_that_is_neither_text_nor_a_literal_is_refused() -> None:
    assert "a value must be an expression" in refusal("price", [1]).details["reason"]
    assert "at most 30 digits" in refusal("stock", 10**40).details["reason"]


def test_every_entry_of_set_is_compiled() -> None:
    compiled_set = compile_set({"price": "price * 2", "stock": 0, "note": None}, FIELDS, key=["sku"])
    assert [(e.field, e.kind, e.result_kind) for e in compiled_set.values()] == [
        ("price", "decimal", "decimal"),
        ("stock", "int", "int"),
        ("note", "str", "null"),
    ]


def test_kinds_are_also_taken_by_the_names_resources_give_them() -> None:
    fields = {"qty": "integer", "label": "text", "on": "boolean"}
    compiled_set = compile_set({"qty": "qty + 1", "label": "upper(label)", "on": "true"}, fields)
    assert compiled_set["qty"].evaluate({"qty": 1}) == 2
    with pytest.raises(ValueError, match="'money' is not a kind of field"):
        compile_set({}, {"x": "money"})


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (Decimal("3.00"), "int", 3),
        (3.0, "int", 3),
        (7, "decimal", Decimal(7)),
        (0.1, "decimal", Decimal("0.1")),
        (Decimal("2.5"), "float", 2.5),
        ("x", "str", "x"),
        (None, "int", None),
        (datetime.datetime(2024, 1, 1), "datetime", datetime.datetime(2024, 1, 1)),
    ],
)
def test_coerce_fits_a_value_into_a_kind(value: object, kind: str, expected: object) -> None:
    fitted = coerce(value, kind, field="f")
    assert fitted == expected
    assert type(fitted) is type(expected)


@pytest.mark.parametrize(
    ("value", "kind", "reason"),
    [
        (Decimal("20.5"), "int", "20.5 is not a whole number"),
        (True, "int", "True is not a whole number"),
        ("12", "decimal", "'12' is not a decimal"),
        (Decimal("NaN"), "decimal", "NaN is not a decimal"),
        (1, "str", "1 is not text"),
        (1, "bool", "1 is not true/false"),
        (datetime.datetime(2024, 1, 1), "date", "is not a date"),
    ],
)
def test_coerce_refuses_a_value_that_does_not_fit(value: object, kind: str, reason: str) -> None:
    with pytest.raises(ExpressionFailed) as caught:
        coerce(value, kind, field="f")
    assert caught.value.details["field"] == "f"
    assert reason in caught.value.details["reason"]
    assert CJK.search(caught.value.message("zh-CN"))


@pytest.mark.parametrize(
    ("source", "described"),
    [
        ("price*(1+5/100)", "price * (1 + 5 / 100)"),
        ("((price))", "price"),
        ("(price * 2) + 1", "price * 2 + 1"),
        ("price - (1 - 2)", "price - (1 - 2)"),
        ("-(-price)", "-(-price)"),
        ("-(price + 1)", "-(price + 1)"),
        ("round( price ,2 )", "round(price, 2)"),
        ("coalesce(price, NULL)", "coalesce(price, null)"),
        ("concat('on \"sale\"', 1.50)", 'concat("on \\"sale\\"", 1.50)'),
    ],
)
def test_describe_renders_the_normalised_expression(source: str, described: str) -> None:
    field = "note" if source.startswith("concat") else "price"
    expression = compiled(field, source)
    assert expression.describe() == described
    assert compiled(field, described).describe() == described


@dataclass(frozen=True)
class Tree:
    """A test's own arithmetic expression, computed directly with Decimal to check the language against."""

    op: str  # "+", "-", "*", "/", "neg", or "" for a leaf
    children: tuple[Tree, ...] = ()
    leaf: str = ""  # a field's name or a literal's text

    def text(self) -> str:
        if not self.op:
            return self.leaf
        if self.op == "neg":
            return f"-({self.children[0].text()})"
        return f"({self.children[0].text()} {self.op} {self.children[1].text()})"

    def compute(self, row: Mapping[str, Decimal]) -> Decimal:
        if not self.op:
            return row[self.leaf] if self.leaf in row else Decimal(self.leaf)
        values = [child.compute(row) for child in self.children]
        if self.op == "neg":
            return -values[0]
        left, right = values
        if self.op == "/" and right == 0:
            raise ZeroDivisionError  # 0 / 0 included, which Decimal reports as an undefined division
        return {"+": left + right, "-": left - right, "*": left * right}[self.op] if self.op != "/" else left / right


LEAVES = st.one_of(
    st.sampled_from(["a", "b", "c"]).map(lambda name: Tree("", leaf=name)),
    st.decimals(min_value=0, max_value=10**6, places=3).map(lambda d: Tree("", leaf=str(d))),
    st.sampled_from(["0", "1", "2"]).map(lambda text: Tree("", leaf=text)),
)
TREES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["+", "-", "*", "/"]), inner, inner).map(lambda t: Tree(t[0], (t[1], t[2]))),
        inner.map(lambda child: Tree("neg", (child,))),
    ),
    max_leaves=12,
)
VALUES = st.decimals(min_value=-(10**9), max_value=10**9, places=4)
DECIMAL_FIELDS = {"a": "decimal", "b": "decimal", "c": "decimal"}


@settings(max_examples=300, deadline=None)
@given(tree=TREES, a=VALUES, b=VALUES, c=VALUES)
def test_arithmetic_equals_the_same_computation_in_python_decimal(
    tree: Tree, a: Decimal, b: Decimal, c: Decimal
) -> None:
    row = {"a": a, "b": b, "c": c}
    source = tree.text()
    expression = compile_set({"a": source}, DECIMAL_FIELDS)["a"]
    context = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
    try:
        with localcontext(context):
            expected = tree.compute(row)
    except ZeroDivisionError:
        assert failure(expression, row).details["reason"] == "division by zero"
        return
    assert expression.evaluate(row) == expected
    assert compile_set({"a": expression.describe()}, DECIMAL_FIELDS)["a"].evaluate(row) == expected
