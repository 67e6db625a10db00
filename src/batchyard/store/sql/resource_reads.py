"""Reading a resource's rows for an export: a structured filter (never SQL from users) and keyset pages.

An export is cut into pages while planning, from the sort columns of each page's last row: stepping along the
key's index a page at a time when the rows are in key order, else with the database numbering the matching rows
in one sorted pass. A page is then read by the worker that runs it as the rows after one position and up to
another — no OFFSET, so page 2,000 costs what page 1 costs. The order always ends with the resource's key, so
positions are unique.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from threading import Lock
from types import NoneType
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Float,
    Table,
    UniqueConstraint,
    and_,
    cast,
    create_engine,
    func,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.sqlite import DATE as SQLiteDate
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.sqltypes import NULLTYPE
from sqlalchemy.types import TypeEngine

from batchyard.core.resources import Resource
from batchyard.errors import InvalidParams
from batchyard.store.sql.database import Database, translated
from batchyard.store.sql.resource_rows import resource_table
from batchyard.store.sql.resource_tables import DecimalText


@dataclass(frozen=True, slots=True)
class Condition:
    """One filter term, its value already of the field's type."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Order:
    """The sort: a field (or the key) and its direction; the key's columns always follow, to break ties."""

    field: str | None
    descending: bool = False


class ResourceDatabases:
    """Connections to where resources live: the state database, or a resource's own ``database_url`` (read
    only, one engine per URL for the process)."""

    def __init__(self, state: Callable[[], Database]) -> None:
        self._state = state
        self._engines: dict[str, Engine] = {}
        self._lock = Lock()

    @contextmanager
    def reading(self, resource: Resource) -> Iterator[Connection]:
        if resource.database_url is None:
            with self._state().read() as conn:
                yield conn
            return
        with translated(), self._engine(resource.database_url).connect() as conn:
            yield conn

    def state_url(self) -> str:
        """The state database's URL: no migration may read it (it holds password hashes and tokens)."""
        return self._state().url

    def state_dialect(self) -> Dialect:
        """The state database's dialect: an import converts its rows for it while it reads them."""
        return self._state().writer.dialect

    def _engine(self, url: str) -> Engine:
        with self._lock:
            if url not in self._engines:
                self._engines[url] = create_engine(url, pool_pre_ping=True)
            return self._engines[url]

    def close(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


def sort_columns(resource: Resource, order: Order) -> list[str]:
    leading = [order.field] if order.field is not None and order.field not in resource.key else []
    return leading + list(resource.key)


def page_bounds(
    conn: Connection, resource: Resource, conditions: Sequence[Condition], order: Order, page_rows: int
) -> Iterator[tuple[list[Any] | None, list[Any], int]]:
    """(after, last, rows) of each page of matching rows in order: a page is the rows after ``after`` (None:
    from the start) up to and including ``last``. Only each page's last position comes from the database, not
    every row's."""
    table = resource_table(conn, resource, create=False)
    names = sort_columns(resource, order)
    columns = [_sortable(conn, table, resource, n) for n in names]
    ordering = [c.desc() if order.descending else c.asc() for c in columns]
    where = _where(conn, table, resource, conditions)
    if (
        not conditions
        and names == list(resource.key)
        and all(c is table.c[n] for c, n in zip(columns, names, strict=True))
        and _index_leads_with(table, names)
    ):
        return _stepped_bounds(conn, columns, ordering, where, descending=order.descending, page_rows=page_rows)
    return _numbered_bounds(conn, columns, ordering, where, page_rows)


def _index_leads_with(table: Table, names: list[str]) -> bool:
    """Whether an index of the table starts with these columns in this order, so a step walks the index: else
    each step would sort what is left of the table (tables made from a model have their key's)."""
    leading: list[list[str | None]] = [list(table.primary_key.columns.keys())]
    leading += [[c.name for c in con.columns] for con in table.constraints if isinstance(con, UniqueConstraint)]
    leading += [[getattr(e, "name", None) for e in index.expressions] for index in table.indexes]
    return any(found[: len(names)] == list(names) for found in leading)


def _stepped_bounds(
    conn: Connection,
    columns: Sequence[ColumnElement[Any]],
    ordering: Sequence[ColumnElement[Any]],
    where: list[ColumnElement[bool]],
    *,
    descending: bool,
    page_rows: int,
) -> Iterator[tuple[list[Any] | None, list[Any], int]]:
    """Rows in key order: each page's last row is the ``page_rows``-th after the one before, found along the
    key's unique index (a step costs a page of index entries, not a sort of the table), and the first page is
    known at once, so workers start while the rest is planned. The last, shorter page is read whole."""
    key = tuple_(*columns)
    after: list[Any] | None = None
    while True:
        since = [] if after is None else [key < tuple(after) if descending else key > tuple(after)]
        step = select(*columns).where(*where, *since).order_by(*ordering)
        last = conn.execute(step.offset(page_rows - 1).limit(1)).first()
        if last is None:
            rest = conn.execute(step).all()  # fewer than a page: none, or the last page
            if rest:
                yield after, list(rest[-1]), len(rest)
            return
        if after is not None and list(last) == after:  # a position that does not read back as it is stored
            raise InvalidParams(
                reason=f"the key's values do not compare as they read back (at {after!r}): the table keeps them "
                "in another form than its column type writes; export it ordered by another field"
            )
        yield after, list(last), page_rows
        after = list(last)


def _numbered_bounds(
    conn: Connection,
    columns: Sequence[ColumnElement[Any]],
    ordering: Sequence[ColumnElement[Any]],
    where: list[ColumnElement[bool]],
    page_rows: int,
) -> Iterator[tuple[list[Any] | None, list[Any], int]]:
    """Rows in another order: the database numbers them in one sorted pass (a window function) and sends only
    the sort columns of every ``page_rows``-th row and of the last."""
    number = func.row_number().over(order_by=ordering).label("by_number")
    total = func.count().over().label("by_total")
    numbered = select(*[c.label(f"by_{i}") for i, c in enumerate(columns)], number, total).where(*where).subquery()
    place = numbered.c.by_number
    query = (
        select(*[numbered.c[f"by_{i}"] for i in range(len(columns))], place)
        .where(or_(place % page_rows == 0, place == numbered.c.by_total))
        .order_by(place)
    )
    after: list[Any] | None = None
    reached = 0
    for *last, at in conn.execute(query):
        yield after, list(last), at - reached
        after, reached = list(last), at


def read_page(
    conn: Connection,
    resource: Resource,
    *,
    columns: Sequence[str],
    conditions: Sequence[Condition],
    order: Order,
    after: Sequence[Any] | None,
    last: Sequence[Any],
) -> list[tuple[Any, ...]]:
    """The page's rows (``columns`` of each), in order."""
    table = resource_table(conn, resource, create=False)
    sortable = [_sortable(conn, table, resource, n) for n in sort_columns(resource, order)]
    key = tuple_(*sortable)
    if order.descending:
        bounds = [key >= tuple(last)] + ([key < tuple(after)] if after is not None else [])
    else:
        bounds = [key <= tuple(last)] + ([key > tuple(after)] if after is not None else [])
    ordering = [c.desc() if order.descending else c.asc() for c in sortable]
    where = _where(conn, table, resource, conditions)
    if conn.dialect.name != "sqlite":  # the driver gives typed values: SQLAlchemy has little left to do
        typed = select(*[table.c[c] for c in columns]).where(*where, *bounds).order_by(*ordering)
        return list(map(tuple, conn.execute(typed).all()))  # fetched at once: row by row costs more than the row
    raw = [type_coerce(table.c[c], NULLTYPE).label(c) for c in columns]  # values as SQLite gives them
    found = conn.execute(select(*raw).where(*where, *bounds).order_by(*ordering)).all()
    if not found:
        return []
    by_column = [
        _typed_column(table.c[c].type.dialect_impl(conn.dialect), conn.dialect, values)
        for c, values in zip(columns, zip(*found, strict=True), strict=True)
    ]
    return list(zip(*by_column, strict=True))


def _typed_column(impl: TypeEngine[Any], dialect: Dialect, values: tuple[Any, ...]) -> Sequence[Any]:
    """A page's column (from SQLite) converted as SQLAlchemy would convert each value, a column at a time: in C
    where a function does exactly that (our decimals kept as text, ISO dates), else value by value."""
    if isinstance(impl, DecimalText) and set(map(type, values)) <= {str, NoneType}:
        return [None if v is None else Decimal(v) for v in values] if None in values else list(map(Decimal, values))
    process = impl.result_processor(dialect, None)
    if process is None:
        return values
    if isinstance(impl, SQLiteDate) and set(map(type, values)) == {str}:
        try:
            return list(map(datetime.date.fromisoformat, values))
        except ValueError:  # a date written some other way: SQLAlchemy's reading of it
            pass
    return list(map(process, values))


def _sortable(conn: Connection, table: Table, resource: Resource, name: str) -> ColumnElement[Any]:
    """The column as it compares: SQLite keeps decimals as text, which would sort "10" before "9"."""
    column = table.c[name]
    if conn.dialect.name == "sqlite" and _is_decimal(resource, name):
        return cast(column.expression, Float)
    return column


def _is_decimal(resource: Resource, name: str) -> bool:
    return any(f.name == name and f.kind == "decimal" for f in resource.fields)


def _where(
    conn: Connection, table: Table, resource: Resource, conditions: Sequence[Condition]
) -> list[ColumnElement[bool]]:
    return [_term(conn, table, resource, c) for c in conditions]


def _term(conn: Connection, table: Table, resource: Resource, condition: Condition) -> ColumnElement[bool]:
    op, value = condition.op, condition.value
    column: Any = table.c[condition.field]
    if op not in ("contains", "startswith", "is_null", "not_null"):
        column = _sortable(conn, table, resource, condition.field)
        if column is not table.c[condition.field]:  # compared as the column is: as a number
            value = [float(v) for v in value] if op == "in" else float(value)
    terms: dict[str, Callable[[], ColumnElement[bool]]] = {
        "eq": lambda: column == value,
        "ne": lambda: or_(column != value, column.is_(None)),
        "lt": lambda: column < value,
        "le": lambda: column <= value,
        "gt": lambda: column > value,
        "ge": lambda: column >= value,
        "in": lambda: column.in_(list(value)),
        # case does not matter, on either database (SQLite's LIKE ignores it, PostgreSQL's would not)
        "contains": lambda: column.icontains(value, autoescape=True),
        "startswith": lambda: column.istartswith(value, autoescape=True),
        "is_null": lambda: column.is_(None),
        "not_null": lambda: column.is_not(None),
    }
    return and_(terms[op]())
