"""The benchmark's resources for ``bench/ops.py``: the legacy users a migration fills, and a product table a bulk
update raises every price of."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from batchyard import Yard
from batchyard.demo.legacy import USER_TITLES, User


class Product(BaseModel):
    sku: str = Field(max_length=32)
    name: str = Field(min_length=1, max_length=200)
    price: Decimal = Field(ge=0, decimal_places=2)
    stock: int = Field(ge=0)


yard = Yard()
yard.resource("users", User, key=["id"], titles={"zh-CN": USER_TITLES})
yard.resource("products", Product, key=["sku"])
