"""bulk_update's storage: a resource's rows read (locked) and updated by key inside a chunk's commit, the before
and after images a rollback restores from, and the reads of the state database a bulk job makes outside one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from batchyard.core.model import Job
from batchyard.core.resources import Resource
from batchyard.store.sql.resource_reads import Condition, Order, ResourceDatabases, page_bounds, read_page
from batchyard.store.sql.rows import load_job
from batchyard.store.sql.tables import bulk_images, bulk_rollbacks, jobs

KeyValues = tuple[Any, ...]
Image = tuple[str, str, str]  # the row's key as text, its old values and its new values (JSON objects)


@contextmanager
def state_reading(databases: ResourceDatabases) -> Iterator[Connection]:
    """A read of the state database, where the images are kept (a resource of a bulk update lives there too)."""
    with databases._state().read() as conn:
        yield conn


def job_of(conn: Connection, job_id: int) -> Job | None:
    return load_job(conn, job_id)


# -- a resource's rows --------------------------------------------------------------------------------------------


def key_pages(
    conn: Connection, resource: Resource, conditions: Sequence[Condition], page_rows: int
) -> Iterator[list[KeyValues]]:
    """The keys of the rows matching ``conditions``, in key order, a page at a time (keyset pages, as an export
    reads them: the page's bounds first, each page then read between them)."""
    order, key = Order(None), list(resource.key)
    for after, last, _ in list(page_bounds(conn, resource, conditions, order, page_rows)):
        yield read_page(conn, resource, columns=key, conditions=conditions, order=order, after=after, last=last)


def row_pages(
    conn: Connection, resource: Resource, conditions: Sequence[Condition], page_rows: int
) -> Iterator[list[dict[str, Any]]]:
    """The matching rows, whole, by name, in key order a page at a time."""
    order, names = Order(None), [f.name for f in resource.fields]
    for after, last, _ in list(page_bounds(conn, resource, conditions, order, page_rows)):
        page = read_page(conn, resource, columns=names, conditions=conditions, order=order, after=after, last=last)
        yield [dict(zip(names, row, strict=True)) for row in page]


def locked_rows(
    conn: Connection, table: Table, resource: Resource, keys: Sequence[KeyValues], *, lock: bool = True
) -> dict[KeyValues, dict[str, Any]]:
    """The rows of these keys, whole, by their key; with ``lock``, on PostgreSQL locked until the commit (``FOR
    UPDATE``), so what is computed from them is what is written over them. SQLite's commit holds the only write
    lock anyway."""
    if not keys:
        return {}
    names = [f.name for f in resource.fields]
    key_columns = [table.c[k] for k in resource.key]
    if len(key_columns) == 1:
        where = key_columns[0].in_([k[0] for k in keys])
    else:
        where = tuple_(*key_columns).in_([tuple(k) for k in keys])
    query = select(*[table.c[n] for n in names]).where(where)
    if lock:
        query = query.with_for_update()
    found: dict[KeyValues, dict[str, Any]] = {}
    for row in conn.execute(query).mappings():
        found[tuple(row[k] for k in resource.key)] = {n: row[n] for n in names}
    return found


def update_rows(
    conn: Connection, table: Table, resource: Resource, changes: Sequence[tuple[KeyValues, Mapping[str, Any]]]
) -> None:
    """Write each row's new values by its key: one statement per set of fields changed, run for all its rows."""
    grouped: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for key, values in changes:
        fields = tuple(sorted(values))
        grouped[fields].append(
            {**{f"k{i}": v for i, v in enumerate(key)}, **{f"v{i}": values[f] for i, f in enumerate(fields)}}
        )
    for fields, rows in grouped.items():
        where = [table.c[k] == bindparam(f"k{i}", type_=table.c[k].type) for i, k in enumerate(resource.key)]
        values = {f: bindparam(f"v{i}", type_=table.c[f].type) for i, f in enumerate(fields)}
        conn.execute(update(table).where(*where).values(values), rows)


# -- images -------------------------------------------------------------------------------------------------------


def add_images(conn: Connection, job_id: int, images: Sequence[Image], *, applied: bool) -> None:
    if images:
        rows = [
            {"job_id": job_id, "key": k, "old_values": o, "new_values": n, "applied": applied} for k, o, n in images
        ]
        conn.execute(insert(bulk_images), rows)


def staged_keys(conn: Connection, job_id: int) -> list[str]:
    """The keys an atomic update staged and has not published, in key order."""
    c = bulk_images.c
    query = select(c.key).where(c.job_id == job_id, c.applied.is_(False)).order_by(c.key)
    return list(conn.execute(query).scalars())


def drop_staged(conn: Connection, job_id: int) -> None:
    c = bulk_images.c
    conn.execute(delete(bulk_images).where(c.job_id == job_id, c.applied.is_(False)))


def applied_images(conn: Connection, job_id: int, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The old and new values the job wrote to these rows (by key), where it wrote them."""
    c = bulk_images.c
    query = select(c.key, c.old_values, c.new_values).where(
        c.job_id == job_id, c.applied.is_(True), c.key.in_(list(keys))
    )
    return {key: (old, new) for key, old, new in conn.execute(query)}


def applied_key_pages(conn: Connection, job_id: int, page_rows: int) -> Iterator[list[str]]:
    """The keys of the rows the job changed, in order, a page at a time."""
    c = bulk_images.c
    after: str | None = None
    while True:
        since = [c.key > after] if after is not None else []
        query = select(c.key).where(c.job_id == job_id, c.applied.is_(True), *since).order_by(c.key)
        page = list(conn.execute(query.limit(page_rows)).scalars())
        if page:
            yield page
        if len(page) < page_rows:
            return
        after = page[-1]


def changed_rows(conn: Connection, job_id: int) -> int:
    c = bulk_images.c
    query = select(func.count()).select_from(bulk_images).where(c.job_id == job_id, c.applied.is_(True))
    return int(conn.execute(query).scalar_one())


# -- rollbacks ----------------------------------------------------------------------------------------------------


def record_rollback(conn: Connection, job_id: int, of: int) -> None:
    """Note that ``job_id`` rolls back ``of`` (once: every chunk of the rollback says so, in its commit). An
    earlier rollback that was cancelled or failed gives way: this one finishes the undo."""
    c = bulk_rollbacks.c
    given_up = select(jobs.c.id).where(jobs.c.status.in_(["cancelled", "failed"]))
    conn.execute(delete(bulk_rollbacks).where(c.rollback_of == of, c.job_id != job_id, c.job_id.in_(given_up)))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(bulk_rollbacks).values(job_id=job_id, rollback_of=of).on_conflict_do_nothing()
    conn.execute(statement)


def rollback_of(conn: Connection, job_id: int) -> int | None:
    """The job that rolled back ``job_id``, if one has restored any row."""
    c = bulk_rollbacks.c
    found: int | None = conn.execute(select(c.job_id).where(c.rollback_of == job_id)).scalar_one_or_none()
    return found


# -- waits --------------------------------------------------------------------------------------------------------


@contextmanager
def lock_wait(conn: Connection, seconds: float) -> Iterator[None]:
    """On PostgreSQL, lock waits inside the block end after ``seconds`` (an error the commit is retried for); the
    transaction's own setting again after it. SQLite's commit already holds its only write lock."""
    if conn.dialect.name != "postgresql":
        yield
        return
    before = conn.exec_driver_sql("SHOW lock_timeout").scalar_one()
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")
    yield
    conn.execute(select(func.set_config("lock_timeout", before, True)))
