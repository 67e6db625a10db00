"""The ``bulk_update`` job type (the seeds' BatchOperation): a resource's rows chosen by a filter, changed by
safe expressions or a registered transform, each change logged with the row's before and after images.

Its items are the keys of the matching rows, listed once while the job is planned and kept in its chunks, so the
set of rows is frozen: a row that comes to match later is not updated, one that stops matching still is, once.
A chunk's rows are read (locked, on PostgreSQL) and written in the chunk's commit transaction, so each changes
exactly once with its item's state. ``apply: atomic`` stages every new value first and publishes them all in the
commit of one last item, in one transaction: readers see only the before or the after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from batchyard.core.context import Context, RetryLater, Skip
from batchyard.core.jobtype import JobType, define_job_type
from batchyard.core.planning import Segment
from batchyard.core.resources import Resource
from batchyard.errors import UpdateNotPublished
from batchyard.jobs.bulk.changes import Plan, make_plan
from batchyard.jobs.bulk.params import BulkUpdateParams
from batchyard.jobs.bulk.previewing import preview_of
from batchyard.jobs.bulk.values import key_json, key_text, key_values, values_text
from batchyard.store.sql.bulk_rows import (
    add_images,
    drop_staged,
    job_of,
    key_pages,
    lock_wait,
    locked_rows,
    row_pages,
    staged_keys,
    state_reading,
    update_rows,
)
from batchyard.store.sql.resource_reads import ResourceDatabases
from batchyard.store.sql.resource_rows import resource_table

KEYS_PER_CHUNK = 500
PREVIEW_PAGE = 5_000
PUBLISH_PAGE = 1_000  # keys read, computed and written at a time inside the publishing transaction
# A row lock awaited longer than this ends the commit, which is retried later: a commit holds its chunk's row, so
# a long wait would keep the heartbeat from renewing the lease.
ROW_LOCK_SECONDS = 5.0
PUBLISH_WAIT_SECONDS = 0.5  # how soon the publish looks again while rows are still being staged
UPDATED, STAGED = "updated", "staged"
GONE = Skip("the row was deleted before it was updated", reason_zh="该行在更新前已被删除")
UNCHANGED = Skip("the new values equal the old ones", reason_zh="新值与原值相同")


class BulkUpdate:
    """批量更新 — change a resource's matching rows by expressions or a transform; preview it, roll it back."""

    Params = BulkUpdateParams

    def __init__(self, resources: Mapping[str, Resource], databases: ResourceDatabases) -> None:
        self._resources = resources
        self._databases = databases

    def validate(self, params: BulkUpdateParams) -> None:
        """Refuse at submit what could never run: an unknown resource, field or transform, a key column in
        ``set``, an expression that is not valid (each named)."""
        make_plan(self._resources, params)

    # previewing -------------------------------------------------------------------------------------------------
    def preview(self, params: BulkUpdateParams, ctx: Context) -> dict[str, Any]:
        plan = make_plan(self._resources, params)
        with self._databases.reading(plan.resource) as conn:
            return preview_of(plan, row_pages(conn, plan.resource, plan.conditions, PREVIEW_PAGE))

    # planning ---------------------------------------------------------------------------------------------------
    def source(self, params: BulkUpdateParams, ctx: Context) -> Iterator[Segment]:
        """The matching rows' keys, a chunk's worth per segment; an atomic update's publish last, knowing how
        many rows it waits for. A preview is one item, and writes nothing."""
        if params.preview:
            yield Segment({"preview": True}, 1)
            return
        plan = make_plan(self._resources, params)
        listed = 0
        with self._databases.reading(plan.resource) as conn:
            for page in key_pages(conn, plan.resource, plan.conditions, KEYS_PER_CHUNK):
                yield Segment({"keys": [key_json(k) for k in page]}, len(page))
                listed += len(page)
        if params.apply == "atomic" and listed:
            yield Segment({"publish": listed}, 1)

    # running ----------------------------------------------------------------------------------------------------
    def load(self, spec: dict[str, Any], ctx: Context) -> list[Any]:
        ctx.state = make_plan(self._resources, ctx.params)
        if "keys" in spec:
            return list(spec["keys"])
        return [spec]

    def stored_form(self, item: Any) -> tuple[Any, int | None]:
        return item, None

    def process(self, item: Any, ctx: Context) -> Any:
        """A row's key passes on to ``write``, which changes the row in the commit; the preview is worked out
        here; the publish waits here until every row is staged."""
        if isinstance(item, list):
            ctx.current = key_text(item)
            return item
        if item.get("preview"):
            return self.preview(ctx.params, ctx)
        self._ready_to_publish(ctx)
        return item

    def write(self, outputs: list[Any], ctx: Context) -> dict[int, Any]:
        plan: Plan = ctx.state
        stage = ctx.params.apply == "atomic"
        keys = [(i, o) for i, o in enumerate(outputs) if isinstance(o, list)]
        with lock_wait(ctx.connection, ROW_LOCK_SECONDS):
            said = apply_keys(ctx.connection, plan, ctx.job_id, keys, stage=stage) if keys else {}
            for i, output in enumerate(outputs):
                if isinstance(output, dict) and "publish" in output:
                    said[i] = publish(ctx.connection, plan, ctx.job_id)
        return said

    def _ready_to_publish(self, ctx: Context) -> None:
        """Every other item of the job is done, none failed: else wait (RetryLater), or refuse to publish."""
        with state_reading(self._databases) as conn:
            job = job_of(conn, ctx.job_id)
        assert job is not None
        waiting = job.total - job.processed - 1
        if not job.sealed or waiting > 0:
            raise RetryLater(f"{waiting} rows are still being staged", PUBLISH_WAIT_SECONDS)
        if job.failed:
            raise UpdateNotPublished(failed=job.failed)


def apply_keys(
    conn: Any, plan: Plan, job_id: int, keys: Sequence[tuple[int, list[Any]]], *, stage: bool
) -> dict[int, Any]:
    """Change the rows of ``keys`` (position, key) in this transaction, each logged with its images (``stage``:
    only logged, as an atomic update's staged values): what became of each position."""
    resource = plan.resource
    table = resource_table(conn, resource, create=False)
    typed = [(i, key_values(resource, k)) for i, k in keys]
    rows = locked_rows(conn, table, resource, [k for _, k in typed], lock=not stage)  # staging writes no row
    said: dict[int, Any] = {}
    images: list[tuple[str, str, str]] = []
    changes: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for i, key in typed:
        row = rows.get(key)
        if row is None:
            said[i] = GONE
            continue
        try:
            change = plan.changer.change(row)
        except Exception as error:  # noqa: BLE001 - a transform is user code: whatever it raises fails its row
            said[i] = error
            continue
        if change is None:
            said[i] = UNCHANGED
            continue
        images.append((key_text(key), values_text(change.old), values_text(change.new)))
        changes.append((key, change.new))
        said[i] = STAGED if stage else UPDATED
    add_images(conn, job_id, images, applied=not stage)
    if not stage:
        update_rows(conn, table, resource, changes)
    return said


def publish(conn: Any, plan: Plan, job_id: int) -> dict[str, int]:
    """Publish an atomic update in this (the commit's) transaction: every staged row computed again from the row
    as it is now, under its lock — a row edited since it was staged is not written back stale — and written.
    A lock not granted in time (``ROW_LOCK_SECONDS``) ends the transaction; the commit is retried."""
    keys = [json.loads(k) for k in staged_keys(conn, job_id)]
    drop_staged(conn, job_id)
    published = 0
    for start in range(0, len(keys), PUBLISH_PAGE):
        page = list(enumerate(keys[start : start + PUBLISH_PAGE]))
        said = apply_keys(conn, plan, job_id, page, stage=False)
        if failed := sum(1 for verdict in said.values() if isinstance(verdict, BaseException)):
            raise UpdateNotPublished(failed=failed)  # all rows or none: this transaction is rolled back whole
        published += sum(1 for verdict in said.values() if verdict == UPDATED)
    return {"published": published, "dropped": len(keys) - published}


def bulk_update_job_type(resources: Mapping[str, Resource], databases: ResourceDatabases, **overrides: Any) -> JobType:
    """The ``bulk_update`` job type over ``resources`` (the yard's, read when a job runs). A row that cannot be
    computed fails alone (``on_error="continue"``); an atomic update then publishes nothing."""
    options: dict[str, Any] = {"on_error": "continue", **overrides}
    return define_job_type("bulk_update", BulkUpdate(resources, databases), title="Bulk update", **options)
