"""The demo shop's scheduled money jobs (seed 003): a monthly bill per customer and the expiry of loyalty points,
each written exactly once by the chunk's own commit, so a schedule that fires twice bills nobody twice."""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, Connection, Table, func, select, update

from batchyard.core.context import Context, Skip
from batchyard.core.resources import Resource
from batchyard.demo import shop
from batchyard.errors import InvalidParams
from batchyard.jobs.bulk import register_transform
from batchyard.jobs.labels import zh
from batchyard.store.sql.resource_reads import ResourceDatabases
from batchyard.store.sql.resource_rows import resource_table, stored_converters, stored_rows, write_rows
from batchyard.yard import Yard

SHOP_TIME = ZoneInfo("Asia/Shanghai")  # the shop's calendar: months and days begin at midnight in Shanghai
BILLED_STATUSES = ("paid", "shipped")  # a refunded order is not billed
LEVELS = ("regular", "silver", "gold", "diamond")
PAGE = 1_000  # codes read per statement while a job's items are listed
Level = Literal["regular", "silver", "gold", "diamond"]
Where = Callable[[Table], list[ColumnElement[bool]]]
MEMBER_TITLES = {
    "code": "会员编码",
    "name": "姓名",
    "level": "会员等级",
    "points": "积分",
    "points_expire_on": "积分到期日",
}
INVOICE_TITLES = {
    "number": "账单号",
    "customer": "客户编码",
    "month": "账单月份",
    "orders": "订单数",
    "amount": "金额",
    "issued_at": "开具时间",
}
EXPIRATION_TITLES = {"member": "会员编码", "expired_on": "到期日", "points": "过期积分"}


class Member(BaseModel):
    code: str = Field(max_length=20)
    name: str = Field(min_length=1, max_length=100)
    level: Level = "regular"
    points: int = Field(0, ge=0)
    points_expire_on: datetime.date | None = None  # the last day the points are valid


class Invoice(BaseModel):
    number: str = Field(max_length=32)
    customer: str = Field(max_length=20)
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    orders: int = Field(ge=1)
    amount: Decimal = Field(ge=0, decimal_places=2)
    issued_at: datetime.datetime


class PointExpiration(BaseModel):
    member: str = Field(max_length=20)
    expired_on: datetime.date  # the expiry date the points had: one record per member and expiry date
    points: int = Field(ge=1)


# time -----------------------------------------------------------------------------------------------------------
def _utc(instant: datetime.datetime) -> datetime.datetime:
    """An instant in UTC; a naive one is taken as UTC already (what a schedule passes, and what we store)."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=datetime.UTC)
    return instant.astimezone(datetime.UTC)


def shop_day(instant: datetime.datetime | None = None) -> datetime.date:
    """The day it is (or was at ``instant``) in the shop's time zone."""
    return _utc(instant or datetime.datetime.now(datetime.UTC)).astimezone(SHOP_TIME).date()


def month_before(instant: datetime.datetime | None = None) -> str:
    """``YYYY-MM`` of the calendar month before the one ``instant`` (else now) falls in, in the shop's time."""
    first = shop_day(instant).replace(day=1)
    return (first - datetime.timedelta(days=1)).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime.datetime, datetime.datetime]:
    """The UTC instants a shop month starts and ends at (end excluded): orders are stored in UTC."""
    year, number = map(int, month.split("-"))
    start = datetime.datetime(year, number, 1, tzinfo=SHOP_TIME)
    end = datetime.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=SHOP_TIME)
    return start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)


def invoice_number(month: str, customer: str) -> str:
    """``INV-2025-11-C00042``: one invoice per customer and month, so the number is the invoice's identity."""
    return f"INV-{month}-{customer}"


# params ---------------------------------------------------------------------------------------------------------
class MonthlyBillsParams(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        title="Monthly bills",
        json_schema_extra=zh("月度账单", "为每位客户开具一个月的账单；已开具的账单不会重复开具，也不会被修改。"),
    )

    month: str | None = Field(
        None,
        pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$",
        title="Month",
        description="YYYY-MM, a month that has ended; the month before the scheduled time when not given",
        json_schema_extra=zh("账单月份", "YYYY-MM，须是已结束的月份；不填则为计划时间（上海时间）的上一个月"),
    )
    scheduled_for: datetime.datetime | None = Field(
        None,
        title="Scheduled for",
        description="the schedule's slot (UTC); set by the scheduler",
        json_schema_extra=zh("计划时间", "定时任务的触发时刻（UTC），由调度器填写"),
    )

    @model_validator(mode="after")
    def _resolve_month(self) -> Self:
        """The month is fixed when the job is submitted and stored with its params: a job run (or planned again)
        later bills the same month, and its exclusive key names it."""
        if self.month is None:
            self.month = month_before(self.scheduled_for)
        return self


class PointsExpiryParams(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        title="Expire points",
        json_schema_extra=zh("积分过期", "将有效期已过的会员积分清零，并记录每一笔过期积分。"),
    )

    as_of: datetime.date | None = Field(
        None,
        title="As of",
        description="points valid until before this day expire; the scheduled day (Asia/Shanghai) when not given",
        json_schema_extra=zh("截至日期", "有效期早于此日的积分过期；不填则为计划时间（上海时间）当天"),
    )
    scheduled_for: datetime.datetime | None = Field(
        None,
        title="Scheduled for",
        description="the schedule's slot (UTC); set by the scheduler",
        json_schema_extra=zh("计划时间", "定时任务的触发时刻（UTC），由调度器填写"),
    )

    @model_validator(mode="after")
    def _resolve_day(self) -> Self:
        """Fixed at submit, as a bill's month is."""
        if self.as_of is None:
            self.as_of = shop_day(self.scheduled_for)
        return self


# reading the shop's tables outside a commit ---------------------------------------------------------------------
class ShopTables:
    """Where a job lists its items: the state database, read in keyset pages of codes (each page its own short
    read, so listing 1M customers holds no transaction open), as ``export`` reads a resource."""

    def __init__(self, yard: Yard) -> None:
        self._yard = yard
        self._databases = ResourceDatabases(lambda: yard.store.db)  # type: ignore[attr-defined]

    def prepare(self, *resources: Resource) -> None:
        """Make the tables a job writes before its first commit, not inside it (two chunks would race)."""
        for resource in resources:
            self._yard.store.ensure_resource(resource)

    def codes(self, resource: Resource, where: Where | None = None) -> Iterator[str]:
        """The resource's single-column keys matching ``where``, in key order: the same list each time it is
        read, so a planner taking over another's listing skips exactly what was stored."""
        after: str | None = None
        while True:
            page = self._page(resource, after, where)
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1]

    def _page(self, resource: Resource, after: str | None, where: Where | None) -> list[str]:
        with self._databases.reading(resource) as conn:
            table = resource_table(conn, resource, create=False)
            key = table.c[resource.key[0]]
            terms = [*(where(table) if where else []), *([key > after] if after is not None else [])]
            return list(conn.execute(select(key).where(*terms).order_by(key).limit(PAGE)).scalars())


# monthly bills --------------------------------------------------------------------------------------------------
class MonthlyBills:
    """Bill every customer for a month's paid and shipped orders: one invoice per customer and month, inserted
    in the chunk's commit only when its number is new — a re-run says ``already_issued`` and changes nothing."""

    title = "Monthly bills (demo)"
    Params = MonthlyBillsParams

    def __init__(self, tables: ShopTables, customers: Resource, orders: Resource, invoices: Resource) -> None:
        self.tables = tables
        self.customers, self.orders, self.invoices = customers, orders, invoices

    def validate(self, params: MonthlyBillsParams) -> None:
        """A month is billed once, and an invoice is never changed: a month not over yet would be billed short."""
        month, latest = params.month or "", month_before()
        if month > latest:
            raise InvalidParams(
                reason=f"month: {month} has not ended yet in Asia/Shanghai; the latest month that can be billed "
                f"is {latest}"
            )

    def source(self, params: MonthlyBillsParams) -> Iterator[str]:
        self.tables.prepare(self.invoices)
        return self.tables.codes(self.customers)

    def key(self, code: str) -> str:
        return code

    def process(self, code: str, ctx: Context) -> str:
        return code  # the bill is worked out in ``write``, from the orders as the commit sees them

    def write(self, codes: list[str], ctx: Context) -> dict[int, Any]:
        """Each customer's bill, summed and inserted in the commit that marks the customer billed."""
        conn, month = ctx.connection, ctx.params.month
        totals = self._totals(conn, codes, month)
        issued_at = datetime.datetime.now(datetime.UTC)
        bills = [(invoice_number(month, c), c, month, *totals[c], issued_at) for c in codes if c in totals]
        table = resource_table(conn, self.invoices)
        stored = stored_rows(stored_converters(conn.dialect, self.invoices), bills)
        keys = [(bill[0],) for bill in bills]
        columns = [f.name for f in self.invoices.fields]
        written = write_rows(conn, table, columns=columns, key=["number"], rows=stored, keys=keys, update=False)
        new = {number for (number,) in written.inserted}
        return {i: _bill_verdict(invoice_number(month, c), c in totals, new) for i, c in enumerate(codes)}

    def _totals(self, conn: Connection, codes: Sequence[str], month: str) -> dict[str, tuple[int, Decimal]]:
        """Per customer with billable orders in the month: how many, and their amounts summed as decimals
        (summed here, not by SQL: SQLite keeps decimals as text and would sum them as floats)."""
        start, end = month_bounds(month)
        c = resource_table(conn, self.orders, create=False).c
        query = select(c.customer, c.amount).where(
            c.customer.in_(codes), c.status.in_(BILLED_STATUSES), c.ordered_at >= start, c.ordered_at < end
        )
        totals: dict[str, tuple[int, Decimal]] = {}
        for customer, amount in conn.execute(query):
            count, total = totals.get(customer, (0, Decimal("0.00")))
            totals[customer] = (count + 1, total + amount)
        return totals


def _bill_verdict(number: str, billable: bool, new: set[str]) -> str | Skip:
    if not billable:
        return Skip("no orders this month", "本月无订单")
    return "issued" if number in new else "already_issued"


# points expiry --------------------------------------------------------------------------------------------------
class PointsExpiry:
    """Expire the points of members whose points were valid until before a day: each member's points set to 0
    and the points recorded, in one commit; a member with no points left is not listed again."""

    title = "Expire loyalty points (demo)"
    Params = PointsExpiryParams

    def __init__(self, tables: ShopTables, members: Resource, expirations: Resource) -> None:
        self.tables = tables
        self.members, self.expirations = members, expirations

    def validate(self, params: PointsExpiryParams) -> None:
        """Points valid today must not be taken away by a day given ahead of time."""
        today = shop_day()
        if params.as_of is not None and params.as_of > today:
            raise InvalidParams(reason=f"as_of: {params.as_of} is after today in Asia/Shanghai ({today})")

    def source(self, params: PointsExpiryParams) -> Iterator[str]:
        self.tables.prepare(self.expirations)
        return self.tables.codes(self.members, _expired_by(params.as_of))

    def key(self, code: str) -> str:
        return code

    def process(self, code: str, ctx: Context) -> str:
        return code  # the points are read again in ``write``, under the commit's lock

    def write(self, codes: list[str], ctx: Context) -> dict[int, Any]:
        conn = ctx.connection
        members = resource_table(conn, self.members, create=False)
        due = _due_points(conn, members, codes, ctx.params.as_of)
        rows = [(code, expire_on, points) for code, (points, expire_on) in due.items()]
        stored = stored_rows(stored_converters(conn.dialect, self.expirations), rows)
        table = resource_table(conn, self.expirations)
        keys = [(row[0], row[1]) for row in rows]
        columns, key = ["member", "expired_on", "points"], ["member", "expired_on"]
        written = write_rows(conn, table, columns=columns, key=key, rows=stored, keys=keys, update=False)
        expired = {member for member, _ in written.inserted}
        if expired:
            conn.execute(update(members).where(members.c.code.in_(sorted(expired))).values(points=0))
        return {i: _expiry_verdict(code, due, expired) for i, code in enumerate(codes)}


def _expired_by(day: datetime.date | None) -> Where:
    def where(table: Table) -> list[ColumnElement[bool]]:
        return [table.c.points > 0, table.c.points_expire_on < day]

    return where


def _due_points(
    conn: Connection, members: Table, codes: Sequence[str], day: datetime.date
) -> dict[str, tuple[int, datetime.date]]:
    """The listed members whose points are still due to expire, locked (on PostgreSQL) until the commit: a
    second expiry running at once waits, then finds them at 0."""
    c = members.c
    query = (
        select(c.code, c.points, c.points_expire_on)
        .where(c.code.in_(codes), *_expired_by(day)(members))
        .order_by(c.code)
        .with_for_update()
    )
    return {code: (points, expire_on) for code, points, expire_on in conn.execute(query)}


def _expiry_verdict(code: str, due: dict[str, tuple[int, datetime.date]], expired: set[str]) -> Any:
    if code not in due:
        return Skip("no points to expire any more", "已无可过期的积分")
    points, expire_on = due[code]
    if code not in expired:  # recorded before, yet the points are back with the same date: a person must look
        return ValueError(f"points of {code} expiring on {expire_on} were recorded as expired already")
    return {"points": points, "expired_on": expire_on.isoformat()}


# generated members ----------------------------------------------------------------------------------------------
def members(count: int = shop.CUSTOMERS) -> Iterator[list[Any]]:
    """One member per customer (same code and name); most hold points that lapse at some month's end between
    June 2025 and December 2026, a fifth hold none."""
    rng = random.Random(shop.SEED + 3)
    for code, name, *_ in shop.customers(count):
        level = rng.choices(LEVELS, weights=(60, 25, 12, 3))[0]
        points = 0 if rng.random() < 0.2 else rng.randrange(50, 20_000)
        expire_on = _month_end(2025, 6 + rng.randrange(19)) if points else None
        yield [code, name, level, points, expire_on]


def _month_end(year: int, month: int) -> datetime.date:
    """The last day of ``month`` counted from January of ``year`` (13 is January of the next year)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    following = datetime.date(year + month // 12, month % 12 + 1, 1)
    return following - datetime.timedelta(days=1)


def seed_members(yard: Yard) -> int:
    """Fill the members table with generated rows when it is empty; how many rows were written."""
    resource = yard.resources["members"]
    yard.store.ensure_resource(resource)
    fields = [f.name for f in resource.fields]
    with yard.store.db.write() as conn:  # type: ignore[attr-defined]
        table = resource_table(conn, resource)
        if conn.execute(select(func.count()).select_from(table)).scalar_one():
            return 0
        records = [Member.model_validate(dict(zip(fields, row, strict=True))) for row in members()]
        values = [tuple(getattr(r, f) for f in fields) for r in records]
        stored = stored_rows(stored_converters(conn.dialect, resource), values)
        keys = [(r.code,) for r in records]
        write_rows(conn, table, columns=fields, key=["code"], rows=stored, keys=keys, update=False)
    return len(values)


# the VIP level ----------------------------------------------------------------------------------------------------
LEVEL_FLOORS = ((15_000, "diamond"), (8_000, "gold"), (3_000, "silver"))  # points needed, highest first


def vip_level(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ``vip_level`` transform of a ``bulk_update`` on members (run it with ``apply: atomic``, so no reader
    sees half the members on the new scale): a member's level from their points."""
    points = row.get("points") or 0
    return {"level": next((level for floor, level in LEVEL_FLOORS if points >= floor), "regular")}


# declaring ------------------------------------------------------------------------------------------------------
def declare(yard: Yard) -> None:
    """The resources and the two job types; after ``shop.declare``, whose customers and orders are billed."""
    members_ = yard.resource("members", Member, key=["code"], titles={"zh-CN": MEMBER_TITLES})
    invoices = yard.resource("invoices", Invoice, key=["number"], titles={"zh-CN": INVOICE_TITLES})
    expirations = yard.resource(
        "point_expirations", PointExpiration, key=["member", "expired_on"], titles={"zh-CN": EXPIRATION_TITLES}
    )
    tables = ShopTables(yard)
    bills = MonthlyBills(tables, yard.resources["customers"], yard.resources["orders"], invoices)
    yard.job("monthly_bills", chunk_size=100, exclusive="monthly-bills:{params.month}")(bills)
    yard.job("points_expiry", chunk_size=200, exclusive="points-expiry")(PointsExpiry(tables, members_, expirations))
    register_transform("vip_level", vip_level)
