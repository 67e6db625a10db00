"""Spreadsheet cells from item fields: text a spreadsheet would run is neutralised, numbers stay numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from batchyard.core.cells import cell_text, neutralise_formula
from batchyard.jobs.tabular.validation import strip_report_quote


@pytest.mark.parametrize(
    "formula",
    ["=1+1", "+A1", "-2", "@SUM(A1:A2)", "\t=1+1", "\r=1+1", "＝1", "＋1", "－1", "＠SUM", '=HYPERLINK("x")'],
)
def test_text_a_spreadsheet_would_run_gets_a_leading_quote(formula: str) -> None:
    assert neutralise_formula(formula) == f"'{formula}"


@pytest.mark.parametrize("text", ["normal text", "1+1", "a=b", "", " =1", "'plain", "连衣裙", "12.5"])
def test_other_text_is_left_alone(text: str) -> None:
    assert neutralise_formula(text) == text


@pytest.mark.parametrize("text", ["'=already", "'-5", "'@x"])
def test_a_quote_before_a_formula_start_is_quoted_again_so_an_import_gives_it_back(text: str) -> None:
    assert neutralise_formula(text) == f"'{text}"
    assert strip_report_quote(neutralise_formula(text)) == text


@pytest.mark.parametrize("value", [None, True, False, 0, -2, 12.5, -0.5, 10**20])
def test_numbers_booleans_and_none_are_kept_as_they_are(value: Any) -> None:
    cell = cell_text(value)
    assert cell == value
    assert type(cell) is type(value)


@pytest.mark.parametrize(("value", "cell"), [(float("inf"), "inf"), (float("-inf"), "'-inf"), (float("nan"), "nan")])
def test_non_finite_floats_become_text(value: float, cell: str) -> None:
    assert cell_text(value) == cell


def test_text_is_neutralised() -> None:
    assert cell_text("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert cell_text("shirt") == "shirt"


def test_records_and_lists_become_compact_json_with_chinese_kept() -> None:
    assert cell_text({"颜色": "白色", "size": [1, 2]}) == '{"颜色":"白色","size":[1,2]}'
    assert cell_text([1, "a"]) == '[1,"a"]'


def test_nested_values_json_cannot_encode_become_text() -> None:
    assert cell_text({"a": Decimal("1.5")}) == '{"a":"1.5"}'


def test_other_values_become_neutralised_text() -> None:
    assert cell_text(Decimal("-3.5")) == "'-3.5"
    assert cell_text(Decimal("3.5")) == "3.5"
