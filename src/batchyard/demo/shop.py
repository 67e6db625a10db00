"""The demo's shop: products, customers and orders, declared as resources, filled with generated rows, and
sample files to import — a GBK CSV as Excel in China saves it, a UTF-8 CSV with a BOM, and a workbook — each
with a few rows that fail, so the error report has something to show."""

from __future__ import annotations

import csv
import datetime
import io
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import xlsxwriter  # type: ignore[import-untyped]  # ships annotations but no py.typed marker
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from batchyard.store.sql.resource_rows import resource_table, stored_converters, stored_rows, write_rows
from batchyard.yard import Yard

SEED = 20261130
PRODUCTS, CUSTOMERS, ORDERS = 1_000, 300, 5_000
_NAMES = ("连衣裙", "衬衫", "牛仔裤", "外套", "针织衫", "半身裙", "T恤", "风衣", "毛衣", "卫衣")
_COLOURS = ("红色", "黑色", "白色", "藏青", "米色", "灰色")
_CITIES = ("上海", "北京", "杭州", "深圳", "成都", "广州", "南京", "武汉")
_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄")


class Product(BaseModel):
    sku: str = Field(max_length=32)
    name: str = Field(min_length=1, max_length=200)
    price: Decimal = Field(ge=0, decimal_places=2)
    stock: int = Field(ge=0)
    launched: datetime.date | None = None


class Customer(BaseModel):
    code: str = Field(max_length=20)
    name: str = Field(min_length=1, max_length=100)
    city: str | None = Field(None, max_length=50)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    vip: bool = False


class Order(BaseModel):
    number: str = Field(max_length=20)
    customer: str = Field(max_length=20)
    sku: str = Field(max_length=32)
    quantity: int = Field(ge=1)
    amount: Decimal = Field(ge=0, decimal_places=2)
    status: Literal["paid", "shipped", "refunded"] = "paid"
    ordered_at: datetime.datetime


def declare(yard: Yard) -> None:
    yard.resource(
        "products",
        Product,
        key=["sku"],
        titles={"zh-CN": {"sku": "商品编码", "name": "名称", "price": "价格", "stock": "库存", "launched": "上架日期"}},
    )
    yard.resource(
        "customers",
        Customer,
        key=["code"],
        titles={"zh-CN": {"code": "客户编码", "name": "姓名", "city": "城市", "email": "邮箱", "vip": "VIP"}},
    )
    yard.resource(
        "orders",
        Order,
        key=["number"],
        titles={
            "zh-CN": {
                "number": "订单号",
                "customer": "客户编码",
                "sku": "商品编码",
                "quantity": "数量",
                "amount": "金额",
                "status": "状态",
                "ordered_at": "下单时间",
            }
        },
    )


def products(count: int, start: int = 0) -> Iterator[list[Any]]:
    rng = random.Random(SEED + start)
    for i in range(start, start + count):
        name = f"{rng.choice(_COLOURS)}{rng.choice(_NAMES)} {i:04d}"
        launched = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(700))
        yield [f"SKU{i:06d}", name, f"{rng.randrange(1990, 99900) / 100:.2f}", rng.randrange(500), launched.isoformat()]


def customers(count: int) -> Iterator[list[Any]]:
    rng = random.Random(SEED + 1)
    for i in range(count):
        name = rng.choice(_SURNAMES) + rng.choice(("伟", "芳", "娜", "敏", "静", "磊", "洋", "艳"))
        yield [f"C{i:05d}", name, rng.choice(_CITIES), f"user{i}@example.com", rng.random() < 0.1]


def orders(count: int) -> Iterator[list[Any]]:
    rng = random.Random(SEED + 2)
    start = datetime.datetime(2025, 1, 1, 8, 0, tzinfo=datetime.UTC)
    for i in range(count):
        quantity = rng.randrange(1, 5)
        at = start + datetime.timedelta(minutes=rng.randrange(600_000))
        status = rng.choice(("paid", "shipped", "shipped", "refunded"))
        amount = f"{quantity * rng.randrange(1990, 99900) / 100:.2f}"
        yield [
            f"O{i:07d}",
            f"C{rng.randrange(CUSTOMERS):05d}",
            f"SKU{rng.randrange(PRODUCTS):06d}",
            quantity,
            amount,
            status,
            at.isoformat(),
        ]


def write_samples(directory: Path) -> list[Path]:
    """The sample files, written once: new products in GBK (as Excel in China saves CSV), the same in UTF-8
    with a BOM, and customers as a workbook; each has rows that fail (a negative price, a bad e-mail)."""
    directory.mkdir(parents=True, exist_ok=True)
    header = ["商品编码", "名称", "价格", "库存", "上架日期"]
    rows = list(products(200, start=PRODUCTS - 50))  # 50 that exist (an upsert updates them), 150 new
    rows[7][2] = "-12.00"
    rows[120][3] = "很多"
    made = [
        _write(directory / "products-gbk.csv", _csv([header, *rows]).encode("gbk")),
        _write(directory / "products-utf8-bom.csv", _csv([header, *rows]).encode("utf-8-sig")),
    ]
    people = list(customers(CUSTOMERS + 100))[CUSTOMERS:]
    people[3][3] = "not-an-email"
    made.append(_workbook(directory / "customers.xlsx", ["客户编码", "姓名", "城市", "邮箱", "VIP"], people))
    return made


LARGE_SAMPLE_ROWS = 100_000


def write_large_sample(directory: Path, rows: int = LARGE_SAMPLE_ROWS) -> Path:
    """Seed 003's "import 100k SKUs": a UTF-8 CSV (with a BOM, as Excel saves it) of ``rows`` new products,
    written once, beside the small samples."""
    path = directory / "products-100k.csv"
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["商品编码", "名称", "价格", "库存", "上架日期"])
        writer.writerows(products(rows, start=100_000))
    partial.replace(path)  # whole or not at all
    return path


def _csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _write(path: Path, data: bytes) -> Path:
    if not path.exists():
        path.write_bytes(data)
    return path


def _workbook(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    if path.exists():
        return path
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("客户")
    sheet.write_row(0, 0, header)
    for number, row in enumerate(rows, start=1):
        sheet.write_row(number, 0, row)
    workbook.close()
    return path


def seed(yard: Yard) -> int:
    """Fill the shop's tables with generated rows when they are empty; how many rows were written."""
    sources = {"products": products(PRODUCTS), "customers": customers(CUSTOMERS), "orders": orders(ORDERS)}
    written = 0
    db = yard.store.db  # type: ignore[attr-defined]
    for name, rows in sources.items():
        resource = yard.resources[name]
        yard.store.ensure_resource(resource)
        fields = [f.name for f in resource.fields]
        with db.write() as conn:
            table = resource_table(conn, resource)
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                continue
            records = [resource.model.model_validate(dict(zip(fields, row, strict=True))) for row in rows]
            values = [tuple(getattr(r, f) for f in fields) for r in records]
            stored = stored_rows(stored_converters(conn.dialect, resource), values)
            keys = [tuple(getattr(r, k) for k in resource.key) for r in records]
            write_rows(conn, table, columns=fields, key=list(resource.key), rows=stored, keys=keys, update=False)
            written += len(values)
    return written
