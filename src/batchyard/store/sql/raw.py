"""The per-chunk statements on the driver's own connection, without SQLAlchemy's execution machinery.

A claim and a commit are a handful of tiny statements each; through SQLAlchemy a statement cost about five
times what the driver takes to run it. Here each hot statement is prepared once per dialect as plain SQL and
run on a DBAPI cursor — inside a transaction this module opens on a pooled connection, or inside one that
SQLAlchemy opened (a commit whose ``write`` needs the SQLAlchemy connection), on the same connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

Params = Mapping[str, Any]

_NAMED = re.compile(r"(?<![:\w]):(\w+)")
_LITERAL = re.compile(r"('[^']*')")  # split keeps the literals, at odd positions


def _pyformat(part: str) -> str:
    """psycopg's paramstyle for one piece of SQL: a string literal keeps its ``:`` as text."""
    escaped = part.replace("%", "%%")
    return escaped if part.startswith("'") else _NAMED.sub(r"%(\1)s", escaped)


class Sql:
    """One statement, written with ``:name`` parameters, in the paramstyle of each driver."""

    def __init__(self, text: str) -> None:
        self.sqlite = " ".join(text.split())
        self.postgresql = "".join(_pyformat(part) for part in _LITERAL.split(self.sqlite))

    def for_dialect(self, is_sqlite: bool) -> str:
        return self.sqlite if is_sqlite else self.postgresql


class Raw:
    """Statements on one DBAPI connection (sqlite3 or psycopg), in whatever transaction it is in."""

    def __init__(self, dbapi_connection: Any, *, is_sqlite: bool) -> None:
        self.connection = dbapi_connection
        self.is_sqlite = is_sqlite

    def pipeline(self) -> AbstractContextManager[Any]:
        """Statements sent without waiting for each answer (PostgreSQL's pipeline mode): a result is waited
        for only when it is read. Inside a pipeline already, the statements join it (a nested one would cost a
        round trip of its own when it ends). SQLite runs in-process and has nothing to save."""
        if self.is_sqlite or self.connection.pgconn.pipeline_status:
            return nullcontext()
        pipeline: AbstractContextManager[Any] = self.connection.pipeline()
        return pipeline

    def send(self, sql: Sql, params: Params | None = None) -> None:
        """Execute, not reading the outcome: in a pipeline this costs no round trip."""
        self.connection.execute(sql.for_dialect(self.is_sqlite), params or {})

    def later(self, sql: Sql, params: Params | None = None) -> Any:
        """Execute and hand back the cursor, to read its rows later (after other statements were sent)."""
        return self.connection.execute(sql.for_dialect(self.is_sqlite), params or {})

    def run(self, sql: Sql, params: Params | None = None) -> int:
        """Execute; the number of rows changed."""
        cursor = self.connection.execute(sql.for_dialect(self.is_sqlite), params or {})
        count: int = cursor.rowcount
        return count

    def one(self, sql: Sql, params: Params | None = None) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.connection.execute(sql.for_dialect(self.is_sqlite), params or {}).fetchone()
        return row

    def scalar(self, sql: Sql, params: Params | None = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def all(self, sql: Sql, params: Params | None = None) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self.connection.execute(sql.for_dialect(self.is_sqlite), params or {}).fetchall()
        return rows

    def many(self, sql: Sql, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if not rows:
            return
        cursor = self.connection.cursor()
        try:
            cursor.executemany(sql.for_dialect(self.is_sqlite), rows)
        finally:
            cursor.close()

    def time(self, value: datetime) -> Any:
        """A UTC timestamp as the column stores it: SQLite's text form (naive UTC), PostgreSQL's own."""
        if self.is_sqlite:
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        return value
