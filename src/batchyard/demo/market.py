"""The demo's market (seed 004): daily quotes synced day by day over a date range from a simulated exchange —
a slow fetch per day, no trading on weekends and holidays, the rows upserted by the chunk's own commit (COPY
into a staging table and ``INSERT … ON CONFLICT`` on PostgreSQL, ``executemany`` on SQLite)."""

from __future__ import annotations

import datetime
import hashlib
import time
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from batchyard.core.context import Context, Skip
from batchyard.core.resources import Resource
from batchyard.jobs.dates import date_range
from batchyard.jobs.labels import zh
from batchyard.store.sql.resource_rows import resource_table, stored_converters, stored_rows, write_rows
from batchyard.yard import Yard

SYMBOLS = tuple(f"{600000 + i:06d}" for i in range(300))
FIELDS = ("symbol", "day", "open", "close", "high", "low", "volume")
# The exchange's holidays the demo knows (besides weekends): China's National Day and Spring Festival weeks.
HOLIDAYS = (
    frozenset(datetime.date(2025, 10, 1) + datetime.timedelta(days=d) for d in range(8))
    | frozenset(datetime.date(2026, 2, 16) + datetime.timedelta(days=d) for d in range(7))
    | frozenset(datetime.date(2026, 10, 1) + datetime.timedelta(days=d) for d in range(7))
)


class Quote(BaseModel):
    symbol: str = Field(max_length=12)
    day: datetime.date
    open: Decimal = Field(ge=0, decimal_places=2)
    close: Decimal = Field(ge=0, decimal_places=2)
    high: Decimal = Field(ge=0, decimal_places=2)
    low: Decimal = Field(ge=0, decimal_places=2)
    volume: int = Field(ge=0)


class QuotesSyncParams(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        title="Sync daily quotes",
        json_schema_extra=zh("同步日线行情", "按日期范围逐日同步收盘行情；已同步的日期和非交易日自动跳过。"),
    )

    start: datetime.date = Field(title="First day", json_schema_extra=zh("开始日期"))
    end: datetime.date = Field(
        title="Last day", description="at most 90 days from the first", json_schema_extra=zh("结束日期", "最多 90 天")
    )
    symbol: str = Field(
        "*",
        pattern=r"^(\*|\d{6})$",
        title="Symbol",
        description="a six-digit symbol, or * for the whole market",
        json_schema_extra=zh("股票代码", "六位代码，或 * 表示全市场"),
    )


def trading(day: datetime.date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def fetch_day(day: datetime.date, symbols: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The simulated exchange's close for ``day``: the same numbers every time it is asked."""
    rows = []
    for symbol in symbols:
        seed = int.from_bytes(hashlib.blake2b(f"{symbol}:{day}".encode(), digest_size=8).digest(), "big")
        base = Decimal(5 + seed % 9500) / 100
        close = (base * Decimal(100 + (seed >> 16) % 21 - 10) / 100).quantize(Decimal("0.01"))
        high, low = max(base, close) + Decimal("0.05"), max(min(base, close) - Decimal("0.05"), Decimal("0.01"))
        rows.append((symbol, day, base, close, high, low, (seed >> 24) % 5_000_000))
    return rows


class QuotesSync:
    """Sync the daily quotes of a date range: a day already synced (or known to have no trading) is never
    fetched again; one sync per symbol at a time."""

    title = "Sync daily quotes (demo)"
    Params = QuotesSyncParams
    source = date_range("start", "end", max_days=90)

    def __init__(self, quotes: Resource, seconds_per_day: float = 0.5) -> None:
        self.quotes = quotes
        self.seconds_per_day = seconds_per_day  # a real exchange's API is slow: slow enough to watch

    def process(self, day: datetime.date, ctx: Context) -> list[tuple[Any, ...]]:
        if not trading(day):
            raise Skip("no trading on this day", "非交易日")
        time.sleep(self.seconds_per_day)
        symbol = ctx.params.symbol
        return fetch_day(day, SYMBOLS if symbol == "*" else (symbol,))

    def write(self, days: list[list[tuple[Any, ...]]], ctx: Context) -> dict[int, dict[str, int]]:
        """The days' rows, upserted in the transaction that marks the days synced: a day is done with its rows.
        Each day keeps how many rows it wrote as its output, not the rows."""
        rows = [row for day in days for row in day or ()]
        if rows:
            conn = ctx.connection
            table = resource_table(conn, self.quotes)
            stored = stored_rows(stored_converters(conn.dialect, self.quotes), rows)
            keys = [(row[0], row[1]) for row in rows]
            write_rows(conn, table, columns=FIELDS, key=["symbol", "day"], rows=stored, keys=keys, update=True)
        return {i: {"rows": len(day)} for i, day in enumerate(days) if day is not None}


def declare(yard: Yard, *, seconds_per_day: float = 0.5) -> None:
    resource = yard.resource(
        "quotes",
        Quote,
        key=["symbol", "day"],
        titles={
            "zh-CN": {
                "symbol": "代码",
                "day": "日期",
                "open": "开盘",
                "close": "收盘",
                "high": "最高",
                "low": "最低",
                "volume": "成交量",
            }
        },
    )
    yard.job(
        "quotes_sync",
        exclusive="quotes-sync:{params.symbol}",
        skip_done="quotes:{params.symbol}",
        on_error="retry",
        max_attempts=3,
        retry_backoff=2.0,
    )(QuotesSync(resource, seconds_per_day))
