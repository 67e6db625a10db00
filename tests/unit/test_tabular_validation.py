"""Checking a table row of raw strings against a resource's model: typed values when valid, else every reason in
English and Chinese, naming the field and quoting the cell."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, PydanticUseDefault

from batchyard.jobs.tabular.validation import (
    Reason,
    RowValidator,
    _ColumnChecks,
    _ColumnValidator,
    _reason,
    _required_nullable_fields,
    strip_report_quote,
)

CJK = re.compile(r"[\u4e00-\u9fff]")


class Product(BaseModel):
    sku: str = Field(max_length=32)
    name: str = Field(min_length=1)
    price: Decimal = Field(ge=0, decimal_places=2)
    stock: int = Field(ge=0)
    launched: date | None = None


class Colour(enum.Enum):
    RED = "red"


class Wide(BaseModel):
    """Fields that produce the translated error types the Product model cannot."""

    code: str = Field(default="x", min_length=3, pattern=r"^[A-Z]+$")
    ratio: float = 0.0
    small: int = Field(default=0, gt=0, lt=10)
    at_most: int = Field(default=0, le=5)
    amount: Decimal = Field(default=Decimal(0), max_digits=4, decimal_places=1)
    at: datetime | None = None
    active: bool = False
    size: Literal["S", "M"] = "S"
    colour: Colour = Colour.RED


class Odd(BaseModel):
    value: str

    @field_validator("value")
    @classmethod
    def _not_odd(cls, value: str) -> str:
        if value == "odd":
            raise ValueError("odd")
        if value == "weird":
            raise PydanticCustomError("weird_thing", "Value is weird beyond words")
        return value


@dataclass(frozen=True, slots=True)
class Checked:
    """A row's verdict as the reference check gives it: the model instance when valid, else every reason."""

    record: BaseModel | None
    reasons: tuple[Reason, ...]


def validate_row(model: type[BaseModel], values: dict[str, str]) -> Checked:
    """The reference check, row by row and field by name, written plainly: RowValidator must agree with it."""
    nullable = _required_nullable_fields(model)
    data: dict[str, str | None] = {}
    for name, raw in values.items():
        value = strip_report_quote(raw) if raw[:1] == "'" else raw
        if value:
            data[name] = value
        elif name in nullable:
            data[name] = None
    try:
        record = model.model_validate(data)
    except ValidationError as error:
        return Checked(record=None, reasons=tuple(_reason(detail) for detail in error.errors(include_url=False)))
    return Checked(record=record, reasons=())


def _row(**cells: str) -> dict[str, str]:
    return {"sku": "A-1", "name": "苹果", "price": "12.50", "stock": "3", "launched": "2024-01-31"} | cells


def _only_reason(checked: Checked) -> Reason:
    assert checked.record is None
    assert len(checked.reasons) == 1, checked.reasons
    return checked.reasons[0]


def test_valid_row_becomes_a_record_with_decimal_and_date() -> None:
    checked = validate_row(Product, _row())

    assert checked.reasons == ()
    assert isinstance(checked.record, Product)
    assert checked.record.price == Decimal("12.50")
    assert checked.record.launched == date(2024, 1, 31)
    assert checked.record.stock == 3


def test_empty_optional_cell_becomes_none() -> None:
    checked = validate_row(Product, _row(launched=""))

    assert isinstance(checked.record, Product)
    assert checked.record.launched is None


def test_empty_cell_of_required_nullable_field_becomes_none_not_missing() -> None:
    class Note(BaseModel):
        text: str | None

    checked = validate_row(Note, {"text": ""})

    assert isinstance(checked.record, Note)
    assert checked.record.text is None


def test_empty_required_cell_is_missing_in_both_languages() -> None:
    reason = _only_reason(validate_row(Product, _row(name="")))

    assert reason.field == "name"
    assert reason.en == "name: a value is required"
    assert reason.zh == "name：必须填写"


def test_every_error_in_a_row_is_reported_in_field_order() -> None:
    checked = validate_row(Product, _row(stock="many", sku="", price="abc"))

    assert checked.record is None
    assert [reason.field for reason in checked.reasons] == ["sku", "price", "stock"]
    assert checked.reasons[1].en == 'price: "abc" is not a number'


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        pytest.param({"sku": ""}, "sku", id="missing"),
        pytest.param({"sku": "S" * 33}, "sku", id="string_too_long"),
        pytest.param({"price": "abc"}, "price", id="decimal_parsing"),
        pytest.param({"price": "inf"}, "price", id="finite_number"),
        pytest.param({"price": "1.234"}, "price", id="decimal_max_places"),
        pytest.param({"price": "-1"}, "price", id="greater_than_equal"),
        pytest.param({"stock": "1.5"}, "stock", id="int_parsing"),
        pytest.param({"launched": "2024-13-01"}, "launched", id="date_from_datetime_parsing"),
        pytest.param({"launched": "1"}, "launched", id="date_from_datetime_inexact"),
    ],
)
def test_product_errors_are_translated_and_name_the_field(cells: dict[str, str], field: str) -> None:
    reason = _only_reason(validate_row(Product, _row(**cells)))

    assert reason.field == field
    assert CJK.search(reason.zh), reason.zh
    assert reason.zh.startswith(f"{field}：")
    assert reason.en.startswith(f"{field}: ")
    assert "Input should" not in reason.zh, "fell back to pydantic's English"


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        pytest.param({"code": "AB"}, "code", id="string_too_short"),
        pytest.param({"code": "abc"}, "code", id="string_pattern_mismatch"),
        pytest.param({"ratio": "half"}, "ratio", id="float_parsing"),
        pytest.param({"small": "0"}, "small", id="greater_than"),
        pytest.param({"small": "10"}, "small", id="less_than"),
        pytest.param({"at_most": "6"}, "at_most", id="less_than_equal"),
        pytest.param({"amount": "12345"}, "amount", id="decimal_max_digits"),
        pytest.param({"amount": "1234"}, "amount", id="decimal_whole_digits"),
        pytest.param({"at": "soon"}, "at", id="datetime_from_date_parsing"),
        pytest.param({"active": "maybe"}, "active", id="bool_parsing"),
        pytest.param({"size": "XL"}, "size", id="literal_error"),
        pytest.param({"colour": "blue"}, "colour", id="enum"),
    ],
)
def test_other_common_errors_are_translated_and_name_the_field(cells: dict[str, str], field: str) -> None:
    reason = _only_reason(validate_row(Wide, cells))

    assert reason.field == field
    assert CJK.search(reason.zh), reason.zh
    assert reason.zh.startswith(f"{field}：")
    assert "should" not in reason.zh, "fell back to pydantic's English"


def test_allowed_values_are_listed_with_a_chinese_or() -> None:
    reason = _only_reason(validate_row(Wide, {"size": "XL"}))

    assert reason.en == """size: "XL" is not one of 'S' or 'M'"""
    assert reason.zh == """size："XL" 不是允许的值，应为 'S' 或 'M'"""


def test_too_long_sku_mentions_the_limit_and_the_value() -> None:
    reason = _only_reason(validate_row(Product, _row(sku="S" * 33)))

    assert "32" in reason.en
    assert "32" in reason.zh
    assert '"' + "S" * 33 + '"' in reason.zh


def test_too_many_decimal_places_mentions_the_allowed_places() -> None:
    reason = _only_reason(validate_row(Product, _row(price="1.234")))

    assert reason.en == 'price: "1.234" has more than 2 decimal places'
    assert reason.zh == 'price："1.234" 的小数位数超过 2 位'


def test_negative_stock_mentions_the_lower_bound() -> None:
    reason = _only_reason(validate_row(Product, _row(stock="-1")))

    assert reason.en == 'stock: "-1" must be at least 0'
    assert reason.zh == 'stock："-1" 必须大于或等于 0'


def test_long_value_is_quoted_cut_to_sixty_characters() -> None:
    reason = _only_reason(validate_row(Product, _row(price="9" * 100 + "x")))

    quoted = re.search(r'"(.*)"', reason.en)
    assert quoted is not None
    assert len(quoted.group(1)) == 60
    assert quoted.group(1).endswith("…")


def test_formula_quoted_by_our_error_report_imports_without_the_quote() -> None:
    checked = validate_row(Product, _row(name="'=1+2"))

    assert isinstance(checked.record, Product)
    assert checked.record.name == "=1+2"


@pytest.mark.parametrize(
    ("cell", "imported"),
    [
        ("'=SUM(A1)", "=SUM(A1)"),
        ("'+1", "+1"),
        ("'-1", "-1"),
        ("'@x", "@x"),
        ("'\tx", "\tx"),
        ("'\rx", "\rx"),
        ("'＝1", "＝1"),
        ("'＋1", "＋1"),
        ("'－1", "－1"),
        ("'＠x", "＠x"),
        ("'quoted", "'quoted"),
        ("'", "'"),
        ("=1", "=1"),
        ("", ""),
    ],
)
def test_strip_report_quote_removes_only_the_quote_our_reports_add(cell: str, imported: str) -> None:
    assert strip_report_quote(cell) == imported


def test_validator_message_is_kept_in_both_languages() -> None:
    reason = _only_reason(validate_row(Odd, {"value": "odd"}))

    assert reason.field == "value"
    assert "odd" in reason.en
    assert CJK.search(reason.zh)
    assert "odd" in reason.zh


def test_unknown_error_type_falls_back_to_chinese_with_the_english_message() -> None:
    reason = _only_reason(validate_row(Odd, {"value": "weird"}))

    assert reason.field == "value"
    assert CJK.search(reason.zh)
    assert "Value is weird beyond words" in reason.zh
    assert "Value is weird beyond words" in reason.en


class Single(BaseModel):
    code: str


@pytest.mark.parametrize(
    "cells",
    [
        _row(),
        _row(launched=""),
        _row(price="-1", stock="x"),
        _row(name="'=1+1"),
        _row(name="'plain"),
        _row(sku=""),
    ],
)
def test_the_row_validator_agrees_with_validate_row(cells: dict[str, str]) -> None:
    order = list(cells)
    validator = RowValidator(Product, dict(enumerate(order)))
    record, reasons = validator.check([cells[name] for name in order])
    checked = validate_row(Product, cells)
    assert reasons == checked.reasons
    if checked.record is None:
        assert record is None
    else:
        assert record == tuple(getattr(checked.record, name) for name in Product.model_fields)


def test_the_row_validator_reads_short_rows_and_single_field_models() -> None:
    assert RowValidator(Product, {0: "sku", 1: "name", 2: "price", 3: "stock", 4: "launched"}).check(
        ["A", "b", "1", "2"]
    ) == (("A", "b", Decimal("1"), 2, None), ())
    assert RowValidator(Single, {1: "code"}).check(["ignored", "C-1"]) == (("C-1",), ())


# -- a chunk checked a column at a time -----------------------------------------------------------------------


class WithModelCheck(Product):
    @model_validator(mode="after")
    def _cheap_is_stocked(self) -> WithModelCheck:
        if self.price < 1 and self.stock == 0:
            raise ValueError("a cheap product must be in stock")
        return self


class Aliased(BaseModel):
    sku: str = Field(validation_alias="code")


class Computed(BaseModel):
    sku: str
    tags: list[str] = Field(default_factory=list)


class SeesEarlierFields(BaseModel):
    low: int
    high: Annotated[int, AfterValidator(lambda v, info: v if v >= info.data.get("low", 0) else -v)]


def _not_applicable(value: object) -> object:
    if value == "N/A":
        raise PydanticUseDefault
    return value


class UsesDefaults(BaseModel):
    """A validator that says "use the default" for a cell: the column check must keep the field's default."""

    sku: str
    qty: Annotated[int, BeforeValidator(_not_applicable)] = 0


class Strict(BaseModel):
    model_config = ConfigDict(strict=True)

    sku: str
    name: str


class PlainDefaults(BaseModel):
    sku: str
    note: str | None = None
    size: Literal["S", "M"] = "S"
    amount: Decimal = Decimal("1.5")


class Counts(BaseModel):
    """Decimals with no places, and with a default and limits on both its digits and its value."""

    units: Decimal = Field(decimal_places=0, ge=0)
    share: Decimal = Field(default=Decimal("0.5"), max_digits=3, decimal_places=2, le=1)


# Per field: cells that pass (given thrice, so whole valid rows are common), fail, are empty or carry a report's quote.
CELLS_BY_FIELD = {
    "sku": ["A-1", "苹果", "B-2"] * 3 + ["'=1+1", "'plain", "x" * 40, ""],
    "name": ["苹果", "连衣裙"] * 3 + ["'=SUM(A1)", "", "'"],
    "price": ["12.50", "0", "3"] * 3
    + ["1.234", "-1", "x", ""]
    + ["12.5", "0.05", "007.50", "1.", "１２", "1e2", " 1.5", "12.500", "1" * 31 + ".5", "99.99", "+3"],
    "stock": ["3", "0"] * 3 + ["-1", "1.5", "", "'7"],
    "launched": ["2024-01-31", "2023-12-01"] * 3 + ["2024-02-30", "", "'2024-01-31"],
    "code": ["ABC", "XYZ"] * 3 + ["AB", "abc", ""],
    "small": ["1", "9"] * 3 + ["0", "10", ""],
    "amount": ["1.5", "123.4"] * 3
    + ["12345", "0.55", ""]
    + ["0.5", "000.5", "999.9", "1000", "12.0", "0012.3", "9999"],
    "units": ["3", "0", "12"] * 3 + ["1.0", "1.5", "-2", "", "00", "1e1"],
    "share": ["0.5", "1", "0.25"] * 3 + ["1.5", "0.125", "1.00", "0.50", "", "00.5"],
    "size": ["S", "M"] * 3 + ["L", ""],
    "colour": ["red"] * 3 + ["blue", ""],
    "active": ["true", "false", "yes"] * 3 + ["maybe", ""],
    "at": ["2024-01-31 10:00:00"] * 3 + ["x", ""],
    "note": ["note", "备注"] * 3 + ["", "'=x"],
    "value": ["ok", "fine"] * 3 + ["odd", "weird", ""],
    "qty": ["1", "7"] * 3 + ["N/A", "x", ""],
    "low": ["1", "5"] * 3 + ["x"],
    "high": ["3", "2", "9"] * 3 + ["x"],
}
MODELS_AND_COLUMNS = [
    (Product, ["sku", "name", "price", "stock", "launched"]),
    (Product, ["price", "sku", "stock", "name"]),  # launched left to its default
    (Wide, ["code", "small", "amount", "size", "colour", "active", "at"]),
    (PlainDefaults, ["sku"]),
    (PlainDefaults, ["size", "sku", "note"]),
    (Odd, ["value"]),
    (UsesDefaults, ["sku", "qty"]),
    (Strict, ["name", "sku"]),
    (WithModelCheck, ["sku", "name", "price", "stock", "launched"]),
    (SeesEarlierFields, ["low", "high"]),
    (Counts, ["units", "share"]),
    (Counts, ["units"]),
]


@settings(max_examples=400, deadline=None)
@given(data=st.data(), choice=st.integers(0, len(MODELS_AND_COLUMNS) - 1), count=st.integers(1, 30))
def test_a_chunk_checked_by_columns_gets_each_rows_own_verdict(data: st.DataObject, choice: int, count: int) -> None:
    model, names = MODELS_AND_COLUMNS[choice]
    extra = data.draw(st.integers(0, 2))  # columns of the file the mapping leaves out, before the mapped ones
    row = st.tuples(*[st.just("ignored")] * extra, *[st.sampled_from(CELLS_BY_FIELD[name]) for name in names])
    rows = [list(cells) for cells in data.draw(st.lists(row, min_size=count, max_size=count))]
    validator = RowValidator(model, {extra + i: name for i, name in enumerate(names)})

    assert validator.check_all(rows) == [validator.check(row) for row in rows]


def test_a_chunk_of_valid_rows_is_checked_by_columns_when_the_model_allows() -> None:
    rows = [[f"A-{n}", "苹果", f"{n}.50", str(n), "2024-01-31"] for n in range(200)]
    plain = RowValidator(Product, dict(enumerate(["sku", "name", "price", "stock", "launched"])))

    verdicts = plain.check_all(rows)

    assert plain._by_column is not None
    assert verdicts[7] == (("A-7", "苹果", Decimal("7.50"), 7, date(2024, 1, 31)), ())
    assert RowValidator(PlainDefaults, {0: "sku"}).check_all([["A"]]) == [(("A", None, "S", Decimal("1.5")), ())]


@pytest.mark.parametrize(
    ("model", "names"),
    [
        (WithModelCheck, ("sku", "name", "price", "stock", "launched")),
        (Odd, ("value",)),
        (Aliased, ("sku",)),
        (Computed, ("sku",)),  # its list is made afresh for each row
        (SeesEarlierFields, ("low", "high")),
    ],
)
def test_a_model_whose_fields_are_not_checked_alone_is_checked_row_by_row(
    model: type[BaseModel], names: tuple[str, ...]
) -> None:
    assert RowValidator(model, dict(enumerate(names)))._by_column is None


class _Counting(RowValidator):
    """Counts the rows checked one by one."""

    one_by_one = 0

    def check(self, cells: list[str]) -> tuple[Any, Any]:
        _Counting.one_by_one += 1
        return super().check(cells)


@pytest.mark.parametrize("model", [Strict, UsesDefaults])
def test_a_chunk_of_valid_rows_needs_no_row_checked_alone(model: type[BaseModel]) -> None:
    _Counting.one_by_one = 0
    validator = _Counting(model, {0: "sku", 1: list(model.model_fields)[1]})

    verdicts = validator.check_all([[f"A-{n}", "N/A" if n % 2 else str(n)] for n in range(100)])

    assert _Counting.one_by_one == 0
    assert all(values is not None for values, _ in verdicts)


def test_a_check_that_raises_fails_its_row_alone() -> None:
    class Country(BaseModel):
        code: str
        country: Annotated[str, AfterValidator(lambda c: {"CN": "China"}[c])]

    validator = RowValidator(Country, {0: "code", 1: "country"})

    first, second = validator.check_all([["A", "CN"], ["B", "XX"]])

    assert first == (("A", "China"), ())
    assert second[0] is None
    assert isinstance(second[1], KeyError)


def test_a_decimal_column_of_plain_numbers_skips_only_the_count_of_digits() -> None:
    """The shortcut exists where it may (a decimal with places) and gives the full check's values and errors."""
    checks = _ColumnChecks.of(Counts, ("units", "share"))
    assert checks is not None
    units, share = checks._validators
    assert units._relaxed is not None
    assert share._relaxed is not None
    assert share.validate(["0.25", "1"]) == [Decimal("0.25"), Decimal("1")]
    with pytest.raises(ValidationError) as caught:
        share.validate(["0.25", "3"])  # plain, but over ``le``: still refused
    assert caught.value.errors()[0]["type"] == "less_than_equal"
    with pytest.raises(ValidationError):
        share.validate(["0.125"])  # three places: the full check's count refuses it
    assert _ColumnChecks.of(Wide, ("amount",)) is not None


class Tight(BaseModel):
    tenths: Decimal = Field(max_digits=2, decimal_places=1)
    hundreds: Decimal = Field(max_digits=5, decimal_places=2, gt=0)


DECIMAL_FIELDS = [(Product, "price"), (Wide, "amount"), (Counts, "units"), (Counts, "share"), (Tight, "tenths")]
DECIMAL_FIELDS += [(Tight, "hundreds")]


@settings(max_examples=500, deadline=None)
@given(
    column=st.lists(
        st.one_of(
            st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3})?", fullmatch=True),
            st.from_regex(r"0{1,2}[0-9]{1,4}(\.[0-9]{1,4}0{0,2})?", fullmatch=True),
            st.sampled_from(["0", "00", "0.0", "1.", ".5", "-1", "+1", " 1", "1e1", "１", "NaN"]),
        ),
        min_size=1,
        max_size=4,
    ),
    field=st.sampled_from(DECIMAL_FIELDS),
)
def test_a_decimal_column_checked_with_or_without_its_digit_count_gets_the_same_answer(
    column: list[str], field: tuple[type[BaseModel], str]
) -> None:
    model, name = field
    schema: Any = model.__pydantic_core_schema__
    validator = _ColumnValidator(schema["schema"]["fields"][name]["schema"], schema.get("config"))

    def answer(validate: Any) -> Any:
        try:
            return validate(column)
        except ValidationError as error:
            return error.errors(include_url=False)

    assert answer(validator.validate) == answer(validator.full.validate_python)
