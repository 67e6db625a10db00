"""A small shop's resources for import and export tests: the model of DESIGN's example, and a worker app
(``--app tests.support.shop:yard``) that declares it."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from batchyard import Yard


class Product(BaseModel):
    sku: str = Field(max_length=32)
    name: str = Field(min_length=1)
    price: Decimal = Field(ge=0, decimal_places=2)
    stock: int = Field(ge=0)
    launched: datetime.date | None = None


TITLES = {"zh-CN": {"sku": "商品编码", "name": "名称", "price": "价格", "stock": "库存", "launched": "上架日期"}}
HEADER = ["sku", "name", "price", "stock", "launched"]


def declare(yard: Yard) -> Yard:
    yard.resource("products", Product, key=["sku"], titles=TITLES)
    return yard


def product_rows(count: int, start: int = 0) -> Iterator[list[Any]]:
    """Distinct rows with Chinese text, exact decimals and dates."""
    for i in range(start, start + count):
        yield [
            f"SKU{i:07d}",
            f"商品 {i} 号",
            f"{i % 1000}.{i % 100:02d}",
            i % 500,
            f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
        ]


def csv_bytes(
    rows: Iterator[list[Any]] | list[list[Any]], header: list[str] = HEADER, encoding: str = "utf-8"
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


yard = declare(Yard())
