"""Rows of a resource written inside a chunk's commit transaction: which keys exist already, and inserting or
upserting a batch — one statement per batch, on the driver, with values converted as SQLAlchemy would convert
them, so that what an import writes reads back through SQLAlchemy exactly (a decimal as text on SQLite).

On PostgreSQL a batch is copied into a temporary staging table (``COPY``, the fastest way in) and moved into the
table with one ``INSERT … SELECT … ON CONFLICT``, which also tells which rows were new.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import repeat
from operator import is_
from threading import Lock
from typing import Any

import psycopg
from sqlalchemy import Connection, Dialect, MetaData, Table, bindparam, inspect, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.sqlite import DATE as SQLiteDate
from sqlalchemy.types import TypeEngine

from batchyard.core.resources import Resource
from batchyard.errors import DatabaseUnavailable, InvalidParams, ValueRefused
from batchyard.store.sql.copy_text import copy_text
from batchyard.store.sql.database import TRANSIENT_SQLSTATE_CLASSES, TRANSIENT_SQLSTATES
from batchyard.store.sql.resource_tables import DecimalText, column_type, model_table
from batchyard.store.sql.tables import dry_run_keys

KeyValues = tuple[Any, ...]
_SQLITE_DATE_FORMAT = "%(year)04d-%(month)02d-%(day)02d"  # SQLAlchemy's default for SQLite's DATE
_LOOKUP_BATCH = 2_000  # keys per lookup statement: well under every database's limit on parameters

_tables: dict[tuple[str, str, str], Table] = {}
_tables_lock = Lock()


@dataclass(frozen=True, slots=True)
class Written:
    """The keys a write inserted and those it updated; a row of the batch in neither was refused (its key exists
    and the write does not update)."""

    inserted: set[KeyValues]
    updated: set[KeyValues]


def resource_table(conn: Connection, resource: Resource, *, create: bool = True) -> Table:
    """The resource's table as it is in this database (reflected once per process), its columns typed by the
    model; created from the model when missing (``Store.ensure_resource`` normally did so at submit) unless
    ``create`` is false (a reader's: then its absence is an error)."""
    cache_key = (str(conn.engine.url), resource.name, resource.table)
    with _tables_lock:
        found = _tables.get(cache_key)
    if found is not None:
        return found
    if inspect(conn).has_table(resource.table):
        table = Table(resource.table, MetaData(), autoload_with=conn)
        for f in resource.fields:
            if f.name in table.c:
                table.c[f.name].type = column_type(f)
    elif create:
        table = model_table(resource, MetaData())
        table.create(conn)
    else:
        raise InvalidParams(reason=f"the resource {resource.name!r} has no table {resource.table!r} yet")
    missing = [f.name for f in resource.fields if f.name not in table.c]
    if missing:
        raise InvalidParams(reason=f"the table {resource.table!r} has no column {', '.join(missing)}")
    with _tables_lock:
        _tables[cache_key] = table
    return table


def existing_keys(conn: Connection, table: Table, key: Sequence[str], keys: Sequence[KeyValues]) -> set[KeyValues]:
    """Which of ``keys`` (values of the ``key`` columns) are in the table."""
    columns = [table.c[name] for name in key]
    found: set[KeyValues] = set()
    if len(columns) == 1:  # one statement compiled once, its list expanded at execution
        query = sa_select(*columns).where(columns[0].in_(bindparam("keys", expanding=True)))
        for start in range(0, len(keys), _LOOKUP_BATCH):
            part = [k[0] for k in keys[start : start + _LOOKUP_BATCH]]
            found.update(tuple(row) for row in conn.execute(query, {"keys": part}))
        return found
    for start in range(0, len(keys), _LOOKUP_BATCH):
        pairs = keys[start : start + _LOOKUP_BATCH]
        found.update(tuple(row) for row in conn.execute(sa_select(*columns).where(tuple_(*columns).in_(pairs))))
    return found


def keys_counted_before(conn: Connection, job_id: int, keys: Sequence[KeyValues]) -> set[KeyValues]:
    """A dry run's keys that would be new: which of them an earlier chunk of the same job counted as new
    already (as the real import would then find them in the table); the others are recorded for later chunks,
    in this chunk's commit, so two chunks at once cannot both count one key. A key is kept as a digest of the
    form in which the database compares it, so keys the table takes as equal are one key here too."""
    if not keys:
        return set()
    sqlite = conn.dialect.name == "sqlite"
    by_digest = {_key_digest(k, sqlite=sqlite): k for k in keys}
    digests = sorted(by_digest)  # in one order, so two chunks recording keys at once cannot deadlock
    if sqlite:  # this transaction holds the only write lock: what is there now is what the insert would meet
        seen = _recorded(conn, job_id, digests)
        fresh = [(job_id, d) for d in digests if d not in seen]
        if fresh:
            conn.exec_driver_sql("INSERT INTO by_dry_run_keys (job_id, key) VALUES (?, ?)", fresh)
        return {by_digest[d] for d in seen}
    added = conn.exec_driver_sql(
        "INSERT INTO by_dry_run_keys (job_id, key) SELECT %(job)s, unnest(%(keys)s::text[])"
        " ON CONFLICT DO NOTHING RETURNING key",
        {"job": job_id, "keys": digests},
    ).scalars()
    new = set(added)
    return {k for d, k in by_digest.items() if d not in new}


def _recorded(conn: Connection, job_id: int, digests: list[str]) -> set[str]:
    c = dry_run_keys.c
    query = sa_select(c.key).where(c.job_id == job_id, c.key.in_(bindparam("keys", expanding=True)))
    found: set[str] = set()
    for start in range(0, len(digests), _LOOKUP_BATCH):
        found.update(conn.execute(query, {"keys": digests[start : start + _LOOKUP_BATCH]}).scalars())
    return found


def _key_digest(key: KeyValues, *, sqlite: bool) -> str:
    """A key as the database compares it, hashed to a fixed size: PostgreSQL compares numbers and instants by
    value (1.5 is 1.50, 08:00+08:00 is 00:00Z); SQLite compares our decimals as the text they are kept as."""
    form = [_compared(v, sqlite=sqlite) for v in key]
    return hashlib.sha256(json.dumps(form, ensure_ascii=False).encode()).hexdigest()


def _compared(value: Any, *, sqlite: bool) -> str:
    if isinstance(value, Decimal) and not sqlite:
        return "0" if value == 0 else str(value.normalize())
    if isinstance(value, float):
        return repr(value + 0.0)  # -0.0 is 0.0
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.isoformat() if sqlite else value.astimezone(datetime.UTC).isoformat()
    return f"{type(value).__name__}:{value}"


def write_rows(
    conn: Connection,
    table: Table,
    *,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    keys: Sequence[KeyValues],
    update: bool,
) -> Written:
    """Insert ``rows`` (values in ``columns`` order as the driver takes them — see ``stored_converters`` — with
    ``keys``, their key values as the model gave them, unique among them); with ``update``, a row whose key
    exists replaces that row's other columns, else it is left out. Which keys were inserted and which updated is
    exact even with other transactions writing the same keys at once (the rest were refused)."""
    if not rows:
        return Written(set(), set())
    if conn.dialect.name == "postgresql":
        return _copy_and_merge(conn, table, columns, key, rows, update=update, keys=keys)
    # SQLite: this transaction holds the database's only write lock, so what exists now is what the insert meets
    if _all_inserted(conn, _insert_sql(conn, table, columns, key, update=False, placeholder="?"), rows):
        return Written(set(keys), set())  # the usual batch of an import: every key new, no lookup needed
    exist = existing_keys(conn, table, key, keys)
    chosen = rows if update else [row for row, k in zip(rows, keys, strict=True) if k not in exist]
    if chosen:
        conn.exec_driver_sql(_insert_sql(conn, table, columns, key, update=update, placeholder="?"), chosen)
    new = {k for k in keys if k not in exist}
    return Written(new, (set(keys) & exist) if update else set())


def _all_inserted(conn: Connection, insert: str, rows: Sequence[tuple[Any, ...]]) -> bool:
    """Insert every row, or none: under a savepoint, undone unless each row went in (the statement's own count
    of rows, which leaves out what triggers write)."""
    conn.exec_driver_sql("SAVEPOINT by_rows")
    complete = conn.exec_driver_sql(insert, rows).rowcount == len(rows)
    if not complete:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT by_rows")
    conn.exec_driver_sql("RELEASE SAVEPOINT by_rows")
    return complete


def stored_converters(dialect: Dialect, resource: Resource) -> list[Callable[[Any], Any] | None]:
    """Per field of ``resource``, what makes its value the one this database's driver takes (None: the value as
    it is): each column's SQLAlchemy bind processing, so that what is written reads back through SQLAlchemy
    exactly (a decimal as its text on SQLite). The dialect's own type is asked: the generic Numeric's processor
    would pass decimals through a float. A caller converts its rows with these before the commit, off the
    write's critical path."""
    return [_fast_processor(column_type(f).dialect_impl(dialect), dialect) for f in resource.fields]


def stored_rows(converters: list[Callable[[Any], Any] | None], rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Whole rows converted by ``stored_converters``, a column at a time."""
    if not rows:
        return []
    return list(zip(*map(stored_column, converters, zip(*rows, strict=True)), strict=True))


def stored_column(convert: Callable[[Any], Any] | None, values: Sequence[Any]) -> Sequence[Any]:
    """A column's values converted by ``convert`` (from ``stored_converters``), None kept as None."""
    if convert is None:
        return values
    if any(map(is_, values, repeat(None))):  # not ``None in``: that compares each value with None by ``==``
        return [None if value is None else convert(value) for value in values]
    return list(map(convert, values))


def _fast_processor(impl: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's bind processing, as a C function where one does exactly the same: our decimals on SQLite
    are their text, and SQLite's DATE in its default format is ``date.isoformat``."""
    if isinstance(impl, DecimalText):
        return str
    if isinstance(impl, SQLiteDate) and getattr(impl, "_storage_format", None) == _SQLITE_DATE_FORMAT:
        return datetime.date.isoformat
    return impl.bind_processor(dialect)


def _insert_sql(
    conn: Connection, table: Table, columns: Sequence[str], key: Sequence[str], *, update: bool, placeholder: str
) -> str:
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    target = _qualified(conn, table)
    sql = f"INSERT INTO {target} ({names}) VALUES ({', '.join(placeholder for _ in columns)})"
    return sql + _on_conflict(conn, columns, key, update=update)


def _on_conflict(conn: Connection, columns: Sequence[str], key: Sequence[str], *, update: bool) -> str:
    quote = conn.dialect.identifier_preparer.quote
    conflict = ", ".join(quote(c) for c in key)
    others = [c for c in columns if c not in key]
    if not update or not others:
        return f" ON CONFLICT ({conflict}) DO NOTHING"
    sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in others)
    return f" ON CONFLICT ({conflict}) DO UPDATE SET {sets}"


def _transient(exc: psycopg.Error) -> bool:
    """A fault of the moment, not of the rows: a lost connection or a server going down, a deadlock or a lock
    not granted in time (COPY into the table waits on another transaction writing the same key)."""
    state = exc.sqlstate or ""
    return state == "" or state in TRANSIENT_SQLSTATES or state.startswith(TRANSIENT_SQLSTATE_CLASSES)


def _qualified(conn: Connection, table: Table) -> str:
    quote = conn.dialect.identifier_preparer.quote
    return f"{quote(table.schema)}.{quote(table.name)}" if table.schema else quote(table.name)


def _copy_and_merge(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    update: bool,
    keys: Sequence[KeyValues],
) -> Written:
    """The usual batch of an import — every key new — COPYed straight into the table under a savepoint. When a
    key exists (the COPY fails, undone to the savepoint), the rows are COPYed into a staging table private to
    this session (emptied at each commit), then moved by one INSERT … SELECT … ON CONFLICT with a RETURNING
    that says which keys were new (``keys``: the rows' keys, as the caller has them)."""
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    target = _qualified(conn, table)
    if _copies_straight(conn, target, key) and _copied_whole(conn, target, names, rows):
        return Written(set(keys), set())
    staging = "by_stage_" + hashlib.sha256(f"{target}({names})".encode()).hexdigest()[:16]
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS"
        f" AS SELECT {names} FROM {target} WITH NO DATA"
    )
    conn.exec_driver_sql(f"TRUNCATE {staging}")
    _copy(conn, staging, names, rows)
    insert = f"INSERT INTO {target} ({names}) SELECT {names} FROM {staging}"
    returning = ", ".join(quote(c) for c in key)
    found = conn.exec_driver_sql(
        f"{insert}{_on_conflict(conn, columns, key, update=update)} RETURNING (xmax = 0) AS inserted, {returning}"
    ).all()  # fetched at once: row by row costs microseconds each
    inserted: set[KeyValues] = set()
    updated: set[KeyValues] = set()
    for new, *values in found:
        (inserted if new else updated).add(tuple(values))
    return Written(inserted, updated)


_straight: dict[tuple[str, str, tuple[str, ...]], bool] = {}


def _copies_straight(conn: Connection, target: str, key: Sequence[str]) -> bool:
    """Whether a batch may be COPYed straight into the table: a plain (or partitioned) table without rules
    (COPY would pass them by), whose key has a unique index checked at once — a key that exists then makes the
    COPY fail, where without one it would be written twice. Asked once per table and process."""
    found_key = (str(conn.engine.url), target, tuple(key))
    with _tables_lock:
        known = _straight.get(found_key)
    if known is not None:
        return known
    kind = conn.exec_driver_sql(
        "SELECT c.relkind, EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN')"
        " FROM pg_class c WHERE c.oid = to_regclass(%(t)s)",
        {"t": target},
    ).first()
    indexes = conn.exec_driver_sql(
        "SELECT ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE k.n <= i.indnkeyatts)"
        " FROM pg_index i WHERE i.indrelid = to_regclass(%(t)s) AND i.indisunique AND i.indimmediate"
        " AND i.indpred IS NULL AND i.indnkeyatts = %(n)s",
        {"t": target, "n": len(key)},
    ).all()
    straight = (
        kind is not None
        and kind[0] in ("r", "p")
        and not kind[1]
        and any(sorted(names) == sorted(key) for (names,) in indexes)  # an expression in the index: no name
    )
    with _tables_lock:
        _straight[found_key] = straight
    return straight


def _copied_whole(conn: Connection, target: str, names: str, rows: Sequence[tuple[Any, ...]]) -> bool:
    """COPY every row into the table, or none: under a savepoint, undone when a key is there already. (The
    server then does what a plain COPY of the file does; a staging table would have it write every row twice.)"""
    conn.exec_driver_sql("SAVEPOINT by_rows")
    try:
        complete = _copy(conn, target, names, rows) == len(rows)  # a trigger may have kept a row out
    except psycopg.errors.UniqueViolation:
        complete = False
    if not complete:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT by_rows")
    conn.exec_driver_sql("RELEASE SAVEPOINT by_rows")
    return complete


def _copy(conn: Connection, into: str, names: str, rows: Sequence[tuple[Any, ...]]) -> int:
    """The rows through COPY, on the driver; how many went in. A value the column cannot hold is the row's
    fault, a transient fault the commit's (retried)."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {into} ({names}) FROM STDIN") as copy:
            text = copy_text(rows)
            if text is not None:
                copy.write(text)
            else:
                for row in rows:
                    copy.write_row(row)
    except psycopg.errors.DataError as exc:  # a value the column cannot hold: said without the table's words
        raise ValueRefused(reason=exc.diag.message_primary or "a value does not fit its column") from None
    except psycopg.OperationalError as exc:
        if _transient(exc):  # not the rows' fault: the commit is retried
            raise DatabaseUnavailable(reason=(exc.diag.message_primary or "the COPY was interrupted")) from exc
        raise
    copied: int = cursor.rowcount
    return copied
