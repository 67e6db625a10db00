"""Copying between databases for ``migrate``: another database opened read-only (a table or one read-only SELECT),
its key stepped to cut ranges of equal rows, a range streamed in key order; and the range rows, rejects and
target rows a migration keeps in the state database.

Driver errors stop here: a source that cannot be reached is ``DatabaseUnavailable`` (a pause: the range is read
again later), one that answers with an error (no such table, a bad query) is ``InvalidParams``.
"""

from __future__ import annotations

import datetime
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from math import ceil
from pathlib import Path
from threading import Lock
from typing import Any, TypeVar
from urllib.parse import quote

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    TextClause,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from batchyard.core.resources import Resource
from batchyard.errors import DatabaseUnavailable, InvalidParams
from batchyard.store.sql.resource_rows import resource_table
from batchyard.store.sql.source_policy import DEFAULT_PORTS
from batchyard.store.sql.tables import migration_claims_tidied, migration_keys, migration_ranges, migration_rejects

T = TypeVar("T")
_LOOKUP_BATCH = 1_000  # keys per IN (...) lookup
_FETCH_ROWS = 1_000  # rows fetched per trip while a range streams
_IDENTIFIER = re.compile(r"^[^\W\d]\w*(\.[^\W\d]\w*)?$")
_QUERY_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_WRITING_WORDS = re.compile(
    r"\b(insert|update|delete|merge|upsert|create|drop|alter|truncate|grant|revoke|copy|call|exec|execute|pragma"
    r"|attach|detach|into|lock|vacuum|reindex|load|handler|outfile|dumpfile|nextval|setval|set_config"
    r"|load_file|pg_read_file|pg_read_binary_file|pg_ls_dir|pg_stat_file|lo_import|lo_export|lo_get|lo_open"
    r"|dblink|dblink_exec|dblink_connect|query_to_xml|readfile|writefile|edit|load_extension|sys_exec|sys_eval)\b",
    re.IGNORECASE,
)
_EXECUTABLE_COMMENT = re.compile(r"/\*\s*M?!")
# PostgreSQL's $$…$$ and E'\'' strings, MySQL's backslash escapes and # comments, SQLite's [names], and a comment
# ended by a carriage return: text this check would take for a string or a comment, a database for SQL.
_UNREAD = re.compile(r"[$\\#\[\r]")
_LITERALS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|--[^\n]*|/\*.*?\*/", re.DOTALL)
_engines: dict[str, Engine] = {}
_engines_lock = Lock()


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Where a migration reads: a database URL, and a table name or a read-only SELECT, and the key column."""

    url: str
    source: str
    key: str

    @property
    def is_query(self) -> bool:
        return _QUERY_START.match(self.source) is not None


# -- the source ---------------------------------------------------------------------------------------------------


def check_source(spec: SourceSpec, *, state_url: str | None = None) -> None:
    """Refuse what a migration must not read from: batchyard's own state database (``state_url``: it holds
    password hashes and tokens), a source that is neither a table name nor one read-only SELECT (a
    data-changing CTE, ``SELECT … INTO``, a second statement), or a URL SQLAlchemy cannot open."""
    if spec.is_query:
        check_read_only_query(spec.source)
    elif not _IDENTIFIER.match(spec.source.strip()):
        raise InvalidParams(reason=f"source: {spec.source!r} is neither a table name nor a SELECT")
    else:
        _check_table_in_database(spec)
    if state_url is not None and _same_database(spec.url, state_url):
        _check_own_database_source(spec)
    _engine(spec.url)


def _check_table_in_database(spec: SourceSpec) -> None:
    """On MySQL a qualified name is ``database.table``: a table of another database than the URL's is refused
    (on PostgreSQL it is ``schema.table``, inside the URL's database)."""
    try:
        url = make_url(spec.url)
    except (sa_exc.ArgumentError, ValueError):
        return  # refused with its reason when opened
    parts = spec.source.strip().split(".")
    if url.get_backend_name() in ("mysql", "mariadb") and len(parts) == 2 and parts[0] != url.database:
        raise InvalidParams(reason=f"source: {spec.source!r} is in another database than {url.database!r}")


def _check_own_database_source(spec: SourceSpec) -> None:
    """A source in batchyard's own database (an app's tables beside batchyard's) is a table, never one of
    batchyard's own (``by_…``: password hashes, tokens, other users' jobs), and never a query, which could
    read any of them."""
    if spec.is_query:
        raise InvalidParams(reason="source: in batchyard's own database a source is a table, not a query")
    if spec.source.strip().strip('"').split(".")[-1].strip('"').lower().startswith("by_"):
        raise InvalidParams(reason=f"source: {spec.source!r} is one of batchyard's own tables")


def _same_database(url: str, state_url: str) -> bool:
    try:
        source, state = make_url(url), make_url(state_url)
    except (sa_exc.ArgumentError, ValueError):
        return False
    if source.get_backend_name() != state.get_backend_name():
        return False
    if source.get_backend_name() == "sqlite":
        return _resolved(source.database) == _resolved(state.database)
    port = DEFAULT_PORTS.get(source.get_backend_name())
    where = (source.host or "localhost", source.port or port, source.database)
    return where == (state.host or "localhost", state.port or port, state.database)


def _resolved(path: str | None) -> str:
    try:
        return str(Path(path or "").resolve())
    except OSError:
        return path or ""


def check_read_only_query(query: str) -> None:
    """One SELECT (or WITH … SELECT) that changes nothing: string literals and comments are set aside, then a
    second statement or a word that writes, locks or calls out is refused. The connection is read-only as well
    where the driver allows; this check keeps the rest honest."""
    if _EXECUTABLE_COMMENT.search(query):  # MySQL and MariaDB run what such a "comment" holds
        raise InvalidParams(reason="source: a query may not hold an executable comment (/*! … */)")
    found = _UNREAD.search(query)
    if found is not None:  # quoting and comments this check does not read as the database would: refused
        raise InvalidParams(
            reason=f"source: a query may not contain {found.group(0)!r} (dollar quotes, backslash escapes, # "
            "comments, [names], carriage returns); read a view or a table instead"
        )
    bare = _LITERALS.sub(" ", query).strip().rstrip(";").strip()
    if ";" in bare:
        raise InvalidParams(reason="source: give one SELECT statement, not several")
    if not _balanced(bare):  # a ")" of its own would close the subquery the source is read through
        raise InvalidParams(reason="source: the query's parentheses do not pair up")
    if not _QUERY_START.match(bare):
        raise InvalidParams(reason="source: a query must be a read-only SELECT (or WITH … SELECT)")
    found = _WRITING_WORDS.search(bare)
    if found is not None:
        raise InvalidParams(reason=f"source: a read-only query may not use {found.group(1).upper()}")


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def source_columns(spec: SourceSpec) -> list[str]:
    """The source's column names, in order: a table reflected, a query run with LIMIT 0."""
    with reading(spec) as conn:
        result = conn.execute(text(f"SELECT * FROM {_from(conn, spec)} LIMIT 0"))
        return list(result.keys())


def step_bounds(spec: SourceSpec, range_rows: int) -> tuple[int, list[Any]]:
    """The source's row count and the inclusive upper bound of each range but the last (which is open): the
    key at every ``step``-th row in key order, found along the key (each step reads a range of the key's index,
    never the rows), with ``step`` chosen so every range holds the same number of rows, give or take one — so a
    skewed key (dense ids and a tail of huge ones) makes no straggler. A row without a key is refused: it
    could be in no range, and would be left behind silently."""
    with reading(spec) as conn:
        source, key = _from(conn, spec), _quoted(conn, spec.key)
        total, empty = conn.execute(text(f"SELECT COUNT(*), COUNT(*) - COUNT({key}) FROM {source}")).one()
        if empty:
            raise InvalidParams(reason=f"key: {empty:,} source rows have no {spec.key}; every row needs a key")
        ranges = max(1, ceil(total / range_rows))
        step = max(1, ceil(total / ranges))
        first = text(f"SELECT {key} FROM {source} ORDER BY {key} LIMIT 1 OFFSET :skip")
        after = text(f"SELECT {key} FROM {source} WHERE {key} > :after ORDER BY {key} LIMIT 1 OFFSET :skip")
        bounds: list[Any] = []
        for _ in range(ranges - 1):
            query, values = (after, {"after": bounds[-1]}) if bounds else (first, {})
            found = conn.execute(query, {**values, "skip": step - 1}).first()
            if found is None:
                break
            bounds.append(found[0])
        return int(total), bounds


def read_range(spec: SourceSpec, lo: Any, hi: Any, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The source rows with ``lo < key <= hi`` (either bound None: open), in key order, streamed from one
    query (fetched a thousand at a time): rows sharing a key stay together, where pages would split them."""
    with reading(spec) as conn:
        key = _quoted(conn, spec.key)
        terms = [f"{key} > :lo"] * (lo is not None) + [f"{key} <= :hi"] * (hi is not None)
        where = f" WHERE {' AND '.join(terms)}" if terms else ""
        sql = f"SELECT * FROM {_from(conn, spec)}{where} ORDER BY {key}" + (f" LIMIT {int(limit)}" if limit else "")
        bound = {name: value for name, value in (("lo", lo), ("hi", hi)) if value is not None}
        result = conn.execution_options(stream_results=True, yield_per=_FETCH_ROWS).execute(text(sql), bound)
        for row in _translated_rows(result.mappings()):
            yield dict(row)


def _translated_rows(rows: Iterator[T]) -> Iterator[T]:
    with _translated():
        yield from rows


@contextmanager
def reading(spec: SourceSpec) -> Iterator[Connection]:
    """A read-only connection to the source (SQLite opened ``mode=ro``; PostgreSQL and MySQL sessions read-only)."""
    with _translated(), _engine(spec.url).connect() as conn:
        yield conn


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sa_exc.OperationalError as exc:
        if _lost(exc):
            raise DatabaseUnavailable(reason=f"the source database: {_said(exc)}") from exc
        raise InvalidParams(reason=f"the source database refused: {_said(exc)}") from exc
    except (sa_exc.DBAPIError, sa_exc.NoSuchTableError) as exc:
        raise InvalidParams(reason=f"the source database refused: {_said(exc)}") from exc


def _lost(exc: sa_exc.OperationalError) -> bool:
    """A connection that failed or dropped (a pause), not a statement the database refused (SQLite says "no
    such table" as an OperationalError too)."""
    said = _said(exc).lower()
    return exc.connection_invalidated or any(
        words in said for words in ("connect", "server closed", "timeout", "timed out", "database is locked")
    )


def _said(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return " ".join(str(original).split())[:500]


def _from(conn: Connection, spec: SourceSpec) -> str:
    if spec.is_query:  # the line break ends a trailing "-- comment" before the subquery's ")"
        return f"({spec.source.strip().rstrip(';')}\n) AS by_source"
    return ".".join(_quoted(conn, part) for part in spec.source.strip().split("."))


def _quoted(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _engine(url: str) -> Engine:
    with _engines_lock:
        found = _engines.get(url)
    if found is not None:
        return found
    engine = _read_only_engine(url)
    with _engines_lock:
        return _engines.setdefault(url, engine)


def _read_only_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        raise InvalidParams(reason="source_url: not a database URL (e.g. sqlite:///legacy.db)") from None
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite_engine(parsed.database)
        if "+" not in parsed.drivername and backend in _SHIPPED_DRIVERS:
            parsed = parsed.set(drivername=f"{backend}+{_SHIPPED_DRIVERS[backend]}")  # the drivers batchyard ships
        # the server the allow-list judged (no host: localhost; no port: the default), not one libpq would take
        # from the service's environment (PGHOST, PGPORT) or its Unix socket
        parsed = parsed.set(host=parsed.host or "localhost", port=parsed.port or DEFAULT_PORTS.get(backend))
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=_ONE_STATEMENT.get(parsed.drivername, {}))
    except (ImportError, sa_exc.NoSuchModuleError) as exc:
        raise InvalidParams(reason=f"source_url: no driver for {parsed.drivername} is installed ({exc})") from None
    statement = _READ_ONLY_SESSION.get(backend)
    if statement is not None:
        event.listen(engine, "connect", lambda dbapi, _record: _read_only_session(dbapi, statement))
    return engine


def _sqlite_engine(path: str | None) -> Engine:
    """SQLite opened read-only by URI (``mode=ro``): the file is never written, not even its journal."""
    if not path or path == ":memory:":
        raise InvalidParams(reason="source_url: name the SQLite file to read (sqlite:///path/to/legacy.db)")
    resolved = _resolved(path)  # the file the allow-list judged, not where a link may point later
    uri = f"file:{quote(resolved, safe='/')}?mode=ro"  # quoted: a "?" in the path cannot add a mode of its own

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    return create_engine("sqlite://", creator=connect)


_SHIPPED_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
# One statement per call, whatever the text holds: psycopg sends a statement without parameters by the simple
# protocol, which runs a whole script (it could end the read-only transaction and write); prepared at once, the
# server refuses more than one. PyMySQL runs one unless asked for more (CLIENT.MULTI_STATEMENTS, never set).
_ONE_STATEMENT: dict[str, dict[str, Any]] = {"postgresql+psycopg": {"prepare_threshold": 0}}
_READ_ONLY_SESSION = {
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
}


def _read_only_session(dbapi: Any, statement: str) -> None:
    """Every transaction of the session read-only: the server refuses a write, whatever the query says."""
    cursor = dbapi.cursor()
    cursor.execute(statement)
    cursor.close()
    dbapi.commit()


# -- bounds as JSON -----------------------------------------------------------------------------------------------


def bound_json(value: Any) -> Any:
    """A key bound as JSON keeps it: a number or text as it is, other types tagged so they come back typed."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, datetime.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"date": value.isoformat()}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    raise InvalidParams(reason=f"key: values of type {type(value).__name__} cannot partition a migration")


_FROM_JSON: dict[str, Callable[[str], Any]] = {
    "float": float,
    "decimal": Decimal,
    "datetime": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "bytes": bytes.fromhex,
}


def bound_value(stored: Any) -> Any:
    if isinstance(stored, dict):
        [(kind, value)] = stored.items()
        return _FROM_JSON[kind](value)
    return stored


# -- the state database -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeRecord:
    """What a range's commit records of it."""

    job_id: int
    range: int
    lo: Any
    hi: Any
    read: int
    written: int
    rejected: int
    skipped: int
    source_count: int | None
    source_sum: str | None
    target_count: int | None
    target_sum: str | None
    verified: bool | None
    mismatches: int
    mismatched_keys: list[Any]
    started_at: datetime.datetime
    finished_at: datetime.datetime


@dataclass(frozen=True, slots=True)
class Reject:
    key: str
    row: Mapping[str, Any]
    reason: str


def record_range(conn: Connection, record: RangeRecord, rejects: Sequence[Reject]) -> None:
    """The range's row and its rejects, replacing what an earlier run of the same range recorded (a range run
    again after retry-failed counts once)."""
    c, r = migration_ranges.c, migration_rejects.c
    conn.execute(delete(migration_ranges).where(c.job_id == record.job_id, c.range == record.range))
    conn.execute(delete(migration_rejects).where(r.job_id == record.job_id, r.range == record.range))
    values = {f: getattr(record, f) for f in RangeRecord.__dataclass_fields__}
    values["lo"] = orjson.dumps(bound_json(record.lo)).decode()
    values["hi"] = orjson.dumps(bound_json(record.hi)).decode()
    values["mismatched_keys"] = orjson.dumps(record.mismatched_keys, default=str).decode()
    conn.execute(insert(migration_ranges).values(values))
    if rejects:
        rows = [
            {
                "job_id": record.job_id,
                "range": record.range,
                "position": position,
                "key": reject.key,
                "row": orjson.dumps(reject.row, default=str).decode(),
                "reason": reject.reason,
            }
            for position, reject in enumerate(rejects)
        ]
        conn.execute(insert(migration_rejects), rows)


def claim_keys(conn: Connection, job_id: int, range_index: int, keys: Sequence[str]) -> dict[str, int]:
    """Record that range ``range_index`` of ``job_id`` writes ``keys`` (target keys as text); the keys another
    range of the job claimed first, with that range. A range claiming again what it claimed before (run again,
    or re-copied) finds no conflict. Two commits claiming one key at once: the second waits for the first on
    the key's row and then sees it."""
    c = migration_keys.c
    # the range's earlier claims first: a key its source no longer has (fixed, then re-copied) is free again
    conn.execute(delete(migration_keys).where(c.job_id == job_id, c.range == range_index))
    if not keys:
        return {}
    claimed = {row[0] for row in _over_keys(conn, _CLAIM, job_id, range_index, keys)}
    return claims_elsewhere(conn, job_id, range_index, [key for key in keys if key not in claimed])


def claims_tidied(conn: Connection, job_id: int) -> bool:
    """Whether housekeeping has begun to delete the migration's key claims (a month after it and its re-copies
    finished): what is left of them can no longer tell which keys other ranges wrote."""
    t = migration_claims_tidied.c
    return conn.execute(select(t.job_id).where(t.job_id == job_id)).first() is not None


def claims_elsewhere(conn: Connection, job_id: int, range_index: int, keys: Sequence[str]) -> dict[str, int]:
    """Which of ``keys`` another range of the job has claimed, and which range: one join over the keys as one
    array (an ``IN`` list of thousands is planned as a scan per key on a young table)."""
    if not keys:
        return {}
    found = _over_keys(conn, _CLAIMED_ELSEWHERE, job_id, range_index, keys)
    return {str(row[0]): int(row[1]) for row in found}


def _over_keys(
    conn: Connection, statements: tuple[TextClause, TextClause], job_id: int, range_index: int, keys: Sequence[str]
) -> list[tuple[Any, ...]]:
    """One of the (PostgreSQL, SQLite) statements over ``keys`` passed as one value: an array on PostgreSQL, JSON
    on SQLite — about 10× an executemany of a row per key."""
    on_postgresql = conn.dialect.name == "postgresql"
    listed = list(keys) if on_postgresql else orjson.dumps(list(keys)).decode()
    statement = statements[0] if on_postgresql else statements[1]
    return [tuple(row) for row in conn.execute(statement, {"job": job_id, "range": range_index, "keys": listed})]


_CLAIMED_ELSEWHERE = (
    text(
        "SELECT m.key, m.range FROM unnest(CAST(:keys AS text[])) AS k(key) "
        "JOIN by_migration_keys AS m ON m.job_id = :job AND m.key = k.key WHERE m.range <> :range"
    ),
    text(
        "SELECT m.key, m.range FROM json_each(:keys) AS k "
        "JOIN by_migration_keys AS m ON m.job_id = :job AND m.key = k.value WHERE m.range <> :range"
    ),
)
_CLAIM = (
    text(
        "INSERT INTO by_migration_keys (job_id, key, range) SELECT :job, k, :range "
        "FROM unnest(CAST(:keys AS text[])) AS k ON CONFLICT (job_id, key) DO NOTHING RETURNING key"
    ),
    text(  # "WHERE true": SQLite reads ON CONFLICT after a bare SELECT … FROM as a join's
        "INSERT INTO by_migration_keys (job_id, key, range) SELECT :job, value, :range FROM json_each(:keys) "
        "WHERE true ON CONFLICT (job_id, key) DO NOTHING RETURNING key"
    ),
)


def job_totals(conn: Connection, job_id: int) -> tuple[int, int]:
    """Rows read and rejected by the job's ranges committed so far."""
    c = migration_ranges.c
    read, rejected = conn.execute(
        select(func.coalesce(func.sum(c.read), 0), func.coalesce(func.sum(c.rejected), 0)).where(c.job_id == job_id)
    ).one()
    return int(read), int(rejected)


def ranges_done(conn: Connection, job_id: int) -> int:
    c = migration_ranges.c
    return int(conn.execute(select(func.count()).where(c.job_id == job_id)).scalar_one())


def range_records(conn: Connection, job_id: int, only: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """The job's range rows in range order, bounds and keys decoded."""
    c = migration_ranges.c
    query = select(migration_ranges).where(c.job_id == job_id).order_by(c.range)
    if only is not None:
        query = query.where(c.range.in_(list(only)))
    found = []
    for row in conn.execute(query).mappings():
        record = dict(row)
        record["lo"] = bound_value(orjson.loads(record["lo"]))
        record["hi"] = bound_value(orjson.loads(record["hi"]))
        record["mismatched_keys"] = orjson.loads(record["mismatched_keys"] or "[]")
        found.append(record)
    return found


def job_rejects(conn: Connection, job_id: int, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The job's rejected rows in range and source order."""
    r = migration_rejects.c
    query = select(r.range, r.key, r.reason, r.row).where(r.job_id == job_id).order_by(r.range, r.position)
    for row in conn.execute(query.limit(limit) if limit else query).mappings():
        yield {**row, "row": orjson.loads(row["row"])}


def target_rows(conn: Connection, resource: Resource, keys: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The resource's rows (every field, in field order) whose key is one of ``keys``, typed by the model's
    columns — the target side of a range's checksum, read in the commit that wrote it."""
    table = resource_table(conn, resource, create=False)
    columns = [table.c[f.name] for f in resource.fields]
    key = [table.c[name] for name in resource.key]
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), _LOOKUP_BATCH):
        part = keys[start : start + _LOOKUP_BATCH]
        where = key[0].in_([k[0] for k in part]) if len(key) == 1 else tuple_(*key).in_(list(part))
        found.extend(tuple(row) for row in conn.execute(select(*columns).where(where)))
    return found


def target_rows_between(conn: Connection, resource: Resource, lo: Any, hi: Any) -> list[tuple[Any, ...]]:
    """The resource's rows with ``lo < key <= hi`` (a bound None: open) — the target side of a range whose key
    orders the same on both sides, so rows the target holds and the source lacks are seen too."""
    table = resource_table(conn, resource, create=False)
    key = table.c[resource.key[0]]
    query = select(*[table.c[f.name] for f in resource.fields])
    if lo is not None:
        query = query.where(key > lo)
    if hi is not None:
        query = query.where(key <= hi)
    return [tuple(row) for row in conn.execute(query)]
