"""A resource's table on SQLite and PostgreSQL: made from its model when missing, decimals exact, the key unique;
an existing table used as it is."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from batchyard import Yard
from batchyard.core.resources import define_resource
from batchyard.errors import InvalidResource
from batchyard.store.sql.resource_tables import ensure_table


class Product(BaseModel):
    sku: str = Field(max_length=32)
    name: str = Field(min_length=1)
    price: Decimal = Field(ge=0, decimal_places=2)
    stock: int = Field(ge=0)
    active: bool = True
    launched: date | None = None


PRODUCTS = define_resource("products", Product, key=["sku"], titles={"zh-CN": {"sku": "商品编码", "name": "名称"}})


def test_a_missing_table_is_made_from_the_model_with_its_key_unique(yard: Yard) -> None:
    db = yard.store.db  # type: ignore[attr-defined]
    table = ensure_table(db, PRODUCTS)
    row = {"sku": "A-1", "name": "衬衫", "price": Decimal("12.50"), "stock": 3, "active": True, "launched": None}
    with db.write() as conn:
        conn.execute(insert(table), row)
    with pytest.raises(IntegrityError), db.write() as conn:
        conn.execute(insert(table), {**row, "name": "again"})
    with db.read() as conn:
        columns = {c["name"]: c for c in inspect(conn).get_columns("products")}
    assert columns["launched"]["nullable"] is True
    assert columns["sku"]["nullable"] is False


def test_decimals_come_back_exactly(yard: Yard) -> None:
    db = yard.store.db  # type: ignore[attr-defined]
    table = ensure_table(db, PRODUCTS)
    prices = [Decimal("12.50"), Decimal("0.10"), Decimal("123456789012345678901234567890.99")]
    with db.write() as conn:
        conn.execute(
            insert(table),
            [{"sku": f"S{i}", "name": "x", "price": p, "stock": 0, "active": True} for i, p in enumerate(prices)],
        )
    again = ensure_table(db, PRODUCTS)  # the second time: the table exists and is read back
    with db.read() as conn:
        found = list(conn.execute(select(again.c.price).order_by(again.c.sku)).scalars())
    assert found == prices
    assert all(isinstance(p, Decimal) for p in found)


def test_an_existing_table_of_the_name_is_used_as_it_is(yard: Yard) -> None:
    db = yard.store.db  # type: ignore[attr-defined]
    with db.write() as conn:
        conn.execute(
            text("CREATE TABLE products (sku VARCHAR(40) PRIMARY KEY, name TEXT, price NUMERIC(12, 2), note TEXT)")
        )
    table = ensure_table(db, PRODUCTS)
    assert "note" in table.c, "its own columns stay"
    assert "stock" not in table.c, "nothing is added to it"


def test_a_key_that_names_no_field_is_refused_at_declaration() -> None:
    with pytest.raises(InvalidResource):
        define_resource("products", Product, key=["code"])


def test_a_field_no_column_can_hold_is_refused_at_declaration() -> None:
    class Odd(BaseModel):
        sku: str
        tags: list[str]

    with pytest.raises(InvalidResource) as refused:
        define_resource("odd", Odd, key=["sku"])
    assert "tags" in refused.value.message()
    assert "资源" in refused.value.message("zh-CN")


def test_fields_carry_their_kind_limits_and_titles() -> None:
    sku, name, price = PRODUCTS.field("sku"), PRODUCTS.field("name"), PRODUCTS.field("price")
    assert (sku.kind, sku.max_length, sku.titles) == ("text", 32, {"zh-CN": "商品编码"})
    assert (name.kind, name.required) == ("text", True)
    assert (price.kind, price.decimal_places) == ("decimal", 2)
    assert (PRODUCTS.field("launched").kind, PRODUCTS.field("launched").nullable) == ("date", True)
    assert PRODUCTS.field("active").kind == "boolean"


def test_a_choice_of_values_is_a_column_of_their_type() -> None:
    class Order(BaseModel):
        number: str
        status: Literal["paid", "shipped"]
        size: Literal[1, 2, 3] | None = None

    order = define_resource("orders", Order, key=["number"])
    assert (order.field("status").kind, order.field("size").kind, order.field("size").nullable) == (
        "text",
        "integer",
        True,
    )

    class Mixed(BaseModel):
        number: str
        odd: Literal["a", 1]

    with pytest.raises(InvalidResource, match="odd"):
        define_resource("mixed", Mixed, key=["number"])
