"""Reading a resource's rows for an export: a structured filter (never SQL from users) and keyset pages.

An export is cut into pages while planning by reading only the sort columns of the matching rows, in order; a
page is then read by the worker that runs it as the rows after one position and up to another — no OFFSET,
so page 2,000 costs what page 1 costs. The order always ends with the resource's key, so positions are unique.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Float, Table, and_, cast, create_engine, or_, select, tuple_

from batchyard.core.resources import Resource
from batchyard.store.sql.database import Database, translated
from batchyard.store.sql.resource_rows import resource_table

PLAN_FETCH = 10_000  # rows fetched at a time while planning


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
    from the start) up to and including ``last``."""
    table = resource_table(conn, resource, create=False)
    columns = [_sortable(conn, table, resource, n) for n in sort_columns(resource, order)]
    ordering = [c.desc() if order.descending else c.asc() for c in columns]
    query = select(*columns).where(*_where(conn, table, resource, conditions)).order_by(*ordering)
    after: list[Any] | None = None
    count, last = 0, None
    result = conn.execution_options(yield_per=PLAN_FETCH).execute(query)
    for row in result:
        count, last = count + 1, list(row)
        if count == page_rows:
            yield after, last, count
            after, count = last, 0
    if count:
        assert last is not None
        yield after, last, count


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
    query = select(*[table.c[c] for c in columns]).where(*where, *bounds).order_by(*ordering)
    return list(map(tuple, conn.execute(query).all()))  # fetched at once: row by row costs more than the row


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
