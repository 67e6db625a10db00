"""What a job whose items come from its params would run, before it is submitted: its items, and which of them
a ``skip_done`` scope already holds (a date-range sync's dates to fetch and dates already synced)."""

from __future__ import annotations

from itertools import islice
from typing import Any

from batchyard.core.jobtype import JobType
from batchyard.errors import InvalidParams
from batchyard.store.base import Store

# Listed by key in the answer; counts cover every item up to PREVIEW_ITEMS.
LISTED_KEYS = 1_000
PREVIEW_ITEMS = 100_000


def preview_planned_items(job_type: JobType, store: Store, *, scope: str | None, params: Any) -> dict[str, Any]:
    """``{"items", "to_run", "done", "to_run_keys", "done_keys", "more"}``: ``done`` are the items a submit now
    would mark skipped as done before; the keys are listed up to ``LISTED_KEYS`` of each."""
    if job_type.source is None or job_type.source_takes_context:
        raise InvalidParams(reason=f"the job type {job_type.name!r} has no preview")
    items = list(islice(job_type.source(params), PREVIEW_ITEMS + 1))
    more = len(items) > PREVIEW_ITEMS
    items = items[:PREVIEW_ITEMS]
    keys = [str(job_type.key(item)) for item in items] if job_type.key is not None else []
    done = store.done_keys(scope, keys) if scope is not None and keys else set()
    to_run = [k for k in keys if k not in done]
    return {
        "items": len(items),
        "to_run": len(items) - len(done),
        "done": len(done),
        "to_run_keys": to_run[:LISTED_KEYS],
        "done_keys": [k for k in keys if k in done][:LISTED_KEYS],
        "more": more,
    }
