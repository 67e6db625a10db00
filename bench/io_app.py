"""The benchmark's resource for ``bench/io.py``: a product table of 8 columns, as shops keep it."""

from __future__ import annotations

import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from batchyard import Yard


class Item(BaseModel):
    sku: str = Field(max_length=32)
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(max_length=50)
    price: Decimal = Field(ge=0, decimal_places=2)
    cost: Decimal = Field(ge=0, decimal_places=2)
    stock: int = Field(ge=0)
    weight: float = Field(ge=0)
    launched: datetime.date


yard = Yard()
yard.resource("items", Item, key=["sku"], titles={"zh-CN": {"sku": "商品编码", "name": "名称", "category": "类目"}})
