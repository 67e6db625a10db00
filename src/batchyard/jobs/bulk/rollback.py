"""The ``bulk_rollback`` job type: a finished bulk update undone from its images. A row still holding the values
the update wrote gets its old values back; a row changed since is a conflict, skipped with that reason (restored
anyway with ``force``); every restore is logged with its own images, like any bulk change."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from batchyard.core.context import Context, Skip
from batchyard.core.jobtype import JobType, define_job_type
from batchyard.core.model import Job
from batchyard.core.planning import Segment
from batchyard.core.resources import Resource
from batchyard.errors import Forbidden, JobNotFound, RollbackRefused
from batchyard.jobs.bulk.changes import resource_named
from batchyard.jobs.bulk.params import RollbackParams
from batchyard.jobs.bulk.updating import ROW_LOCK_SECONDS
from batchyard.jobs.bulk.values import key_values, same_values, values_of, values_text
from batchyard.store.sql.bulk_rows import (
    add_images,
    applied_images,
    applied_key_pages,
    changed_rows,
    job_of,
    lock_wait,
    locked_rows,
    record_rollback,
    rollback_of,
    state_reading,
    update_rows,
)
from batchyard.store.sql.resource_reads import ResourceDatabases
from batchyard.store.sql.resource_rows import resource_table

KEYS_PER_CHUNK = 500
RESTORED, FORCED = "restored", "restored over a later change"
CONFLICT = Skip("changed since the update", reason_zh="更新后已被修改")
DELETED = Skip("deleted since the update", reason_zh="更新后已被删除")


class BulkRollback:
    """回滚 — restore the rows a bulk update changed, where nobody changed them since."""

    Params = RollbackParams

    def __init__(self, resources: Mapping[str, Resource], databases: ResourceDatabases) -> None:
        self._resources = resources
        self._databases = databases

    def validate(self, params: RollbackParams) -> None:
        """The update must be a finished bulk update that changed rows, not rolled back by another job that has
        finished (one running is refused by the exclusive key). Checked at submit and before each chunk."""
        with state_reading(self._databases) as conn:
            target = _target(conn, params.job_id)
            earlier = rollback_of(conn, params.job_id)
            done = job_of(conn, earlier) if earlier is not None else None
            changed = changed_rows(conn, params.job_id)
        if done is not None and done.status in ("succeeded", "partially_succeeded"):  # one cancelled gives way
            _refuse(params.job_id, f"job {done.id} rolled it back already", f"任务 {done.id} 已回滚过它")
        if not changed:
            _refuse(params.job_id, "it changed no rows", "它没有修改任何行")
        resource_named(self._resources, str(target.params.get("resource")))

    def source(self, params: RollbackParams, ctx: Context) -> Iterator[Segment]:
        """The keys of the rows the update changed. Only the update's owner's jobs roll it back (the API submits
        an admin's rollback in the owner's name)."""
        with state_reading(self._databases) as conn:
            if _target(conn, params.job_id).owner != ctx.owner:
                raise Forbidden(job_id=params.job_id)
            for page in applied_key_pages(conn, params.job_id, KEYS_PER_CHUNK):
                yield Segment({"keys": page}, len(page))

    def load(self, spec: dict[str, Any], ctx: Context) -> list[str]:
        with state_reading(self._databases) as conn:
            target = _target(conn, ctx.params.job_id)
        ctx.state = resource_named(self._resources, str(target.params.get("resource")))
        return list(spec["keys"])

    def stored_form(self, key: str) -> tuple[Any, int | None]:
        return key, None

    def process(self, key: str, ctx: Context) -> str:
        ctx.current = key
        return key  # the row is judged and restored in ``write``, as the commit sees it

    def write(self, keys: list[str], ctx: Context) -> dict[int, Any]:
        conn, resource, params = ctx.connection, ctx.state, ctx.params
        record_rollback(conn, ctx.job_id, params.job_id)
        images = applied_images(conn, params.job_id, keys)
        typed = {k: key_values(resource, json.loads(k)) for k in keys}
        table = resource_table(conn, resource, create=False)
        with lock_wait(conn, ROW_LOCK_SECONDS):
            rows = locked_rows(conn, table, resource, list(typed.values()))
        said: dict[int, Any] = {}
        restores: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        logged: list[tuple[str, str, str]] = []
        for i, key in enumerate(keys):
            old_text, new_text = images[key]
            old, new = values_of(resource, old_text), values_of(resource, new_text)
            row = rows.get(typed[key])
            said[i] = _verdict(row, new, force=params.force)
            if isinstance(said[i], str) and row is not None:
                restores.append((typed[key], old))
                logged.append((key, values_text({f: row[f] for f in old}), old_text))
        update_rows(conn, table, resource, restores)
        add_images(conn, ctx.job_id, logged, applied=True)
        return said


def _verdict(row: Mapping[str, Any] | None, new: Mapping[str, Any], *, force: bool) -> Any:
    if row is None:
        return DELETED
    if same_values({f: row[f] for f in new}, new):
        return RESTORED
    return FORCED if force else CONFLICT


def _target(conn: Any, job_id: int) -> Job:
    target = job_of(conn, job_id)
    if target is None:
        raise JobNotFound(job_id=job_id)
    if target.type != "bulk_update":
        _refuse(job_id, f"it is a {target.type} job, not a bulk_update", f"它是 {target.type} 任务，不是批量更新")
    if not target.status.is_finished:
        _refuse(job_id, f"it is {target.status}; wait until it finishes", f"它的状态为 {target.status}，请等它结束")
    return target


def _refuse(job_id: int, reason: str, reason_zh: str) -> NoReturn:
    raise RollbackRefused(job_id=job_id, reason=reason, reason_zh=reason_zh)


def bulk_rollback_job_type(
    resources: Mapping[str, Resource], databases: ResourceDatabases, **overrides: Any
) -> JobType:
    """The ``bulk_rollback`` job type; one active rollback per update (a second is 409 with its id)."""
    options: dict[str, Any] = {"on_error": "continue", "exclusive": "bulk_rollback:{params.job_id}", **overrides}
    return define_job_type(
        "bulk_rollback", BulkRollback(resources, databases), title="Roll back a bulk update", **options
    )
