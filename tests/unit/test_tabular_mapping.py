"""Columns of an uploaded table mapped onto a resource's fields: by name or title in any language, ignoring
case and spaces; an explicit mapping first; what is left over reported."""

from __future__ import annotations

import pytest

from batchyard.errors import InvalidParams
from batchyard.jobs.tabular.mapping import FieldNames, map_columns, normalise

FIELDS = [
    FieldNames("sku", {"zh-CN": "商品编码", "en": "SKU"}, required=True),
    FieldNames("name", {"zh-CN": "名称", "en": "Name"}, required=True),
    FieldNames("price", {"zh-CN": "价格", "en": "Unit price"}, required=True),
    FieldNames("stock", {"zh-CN": "库存"}),
]


def test_columns_are_found_by_field_name_or_any_title_ignoring_case_and_spaces() -> None:
    mapping = map_columns(["商品编码", " NAME ", "unit_price", "库 存"], FIELDS)
    assert mapping.columns == {0: "sku", 1: "name", 2: "price", 3: "stock"}
    assert (mapping.unmapped, mapping.missing, mapping.repeated) == ([], [], [])


def test_full_width_letters_match_their_plain_forms() -> None:
    assert normalise("ＳＫＵ") == normalise("sku")


def test_columns_no_field_takes_are_reported_and_required_fields_without_a_column_too() -> None:
    mapping = map_columns(["SKU", "备注", "名称"], FIELDS)
    assert mapping.columns == {0: "sku", 2: "name"}
    assert mapping.unmapped == ["备注"]
    assert mapping.missing == ["price"], "stock is optional"


def test_a_second_column_for_a_field_is_reported_and_the_first_wins() -> None:
    mapping = map_columns(["sku", "商品编码", "name", "price"], FIELDS)
    assert mapping.columns == {0: "sku", 2: "name", 3: "price"}
    assert mapping.repeated == ["商品编码"]


def test_an_explicit_mapping_wins_over_the_names() -> None:
    mapping = map_columns(["code", "title", "price", "名称"], FIELDS, {"code": "sku", "title": "name"})
    assert mapping.columns == {0: "sku", 1: "name", 2: "price"}
    assert mapping.repeated == ["名称"]


@pytest.mark.parametrize(
    ("explicit", "said"),
    [({"nope": "sku"}, "does not have"), ({"code": "nope"}, "not a field")],
)
def test_an_explicit_mapping_naming_what_is_not_there_is_refused(explicit: dict[str, str], said: str) -> None:
    with pytest.raises(InvalidParams) as refused:
        map_columns(["code"], FIELDS, explicit)
    assert said in refused.value.message()


def test_a_rows_values_come_out_by_field_and_a_short_row_gives_empty_strings() -> None:
    mapping = map_columns(["SKU", "名称", "价格"], FIELDS)
    assert mapping.values(["A-1", "衬衫", "12.50"]) == {"sku": "A-1", "name": "衬衫", "price": "12.50"}
    assert mapping.values(["A-2"]) == {"sku": "A-2", "name": "", "price": ""}
