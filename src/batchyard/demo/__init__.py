"""The demo ``batchyard serve --demo`` (and ``make run``) runs: two job types and a small shop (products,
customers, orders) to import into and export from, enough to try every part of the service before writing a job
type of one's own."""

from __future__ import annotations

import random
import time

from pydantic import BaseModel, Field

from batchyard.core.context import Context
from batchyard.core.sniff import IMAGE_TYPES
from batchyard.demo import billing, legacy, market, shop
from batchyard.yard import Yard


class Enhance(BaseModel):
    brightness: float = Field(default=1.0, ge=0.1, le=3.0, description="1.0 leaves it as it is")


class DemoEnhance:
    """Pretends to enhance a product photo; about one in ten fails, as real uploads do."""

    Params = Enhance

    def process(self, item: str | dict[str, object], ctx: Context) -> dict[str, object]:
        """An item is a name, or an upload (``upload_ids``) with its file name."""
        name = str(item.get("filename", "")) if isinstance(item, dict) else item
        ctx.current = name
        time.sleep(0.05)
        if random.random() < 0.1:
            raise ValueError(f"cannot read image {name!r}: truncated file")
        return {"file": name, "brightness": ctx.params.brightness}


def slow_count(item: int, ctx: Context) -> int:
    """A second per item: slow enough to watch, pause and resume."""
    ctx.current = f"item {item}"
    time.sleep(1.0)
    return item


yard = Yard()  # the app `batchyard serve --demo` runs: `--app batchyard.demo:yard`
yard.job(
    "demo_enhance",
    title="Enhance product photos (demo)",
    chunk_size=1,
    unit_cost=1,
    max_items=50,
    accepts=sorted(IMAGE_TYPES),
    max_file_mb=10,
)(DemoEnhance)
yard.job("demo_slow", title="Count slowly (demo)", chunk_size=5)(slow_count)
shop.declare(yard)
market.declare(yard)
billing.declare(yard)
legacy.declare(yard)
yard.schedule("monthly-bills", "0 2 1 * *", type="monthly_bills", timezone="Asia/Shanghai", missed="latest_once")
yard.schedule("points-expiry", "30 1 * * *", type="points_expiry", timezone="Asia/Shanghai", missed="latest_once")
