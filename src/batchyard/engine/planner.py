"""Planning a source-based job on a worker: enumerate the source lazily, store chunks in batches, and
resume after the items already stored if the previous planner died.

A takeover resumes by position: the new planner skips the first ``planned`` items of a fresh enumeration. So
a source must yield the same items in the same order on every call for the same params (a query with an
ORDER BY, a sorted listing, a date range), or its job type must declare ``key`` and ``skip_done`` so that
items already done are recognised by key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice
from typing import Any

from batchyard.core.context import Context
from batchyard.core.files import JobFiles
from batchyard.core.jobtype import JobType
from batchyard.core.model import PlannedChunk
from batchyard.core.planning import Segment, cut_chunks, cut_segments, within_limit
from batchyard.core.registry import Registry
from batchyard.core.retry import retry_transient
from batchyard.errors import BatchyardError, DatabaseUnavailable, LeaseLost, TooManyItems
from batchyard.service.jobs import skip_done_scope
from batchyard.service.keepalive import PlanningLease
from batchyard.store.base import PlanningClaim, Store

log = logging.getLogger("batchyard.planner")


def plan_source(
    store: Store,
    registry: Registry,
    claim: PlanningClaim,
    should_stop: Callable[[], bool],
    files: JobFiles | None = None,
) -> None:
    """Plan a job's items; if the worker is stopping, hand the planning over to another worker at once.
    ``files``: where a source that reads the job's uploads finds them."""
    try:
        job_type = registry.get(claim.job_type)
        with PlanningLease(store, claim.job_id, claim.token, lease=store.planning_lease) as lease:
            finished = _enumerate(store, job_type, claim, lambda: should_stop() or lease.lost, files)
        if not finished:  # hand over, once the renewals have stopped: claimable again at once
            store.renew_planning(claim.job_id, claim.token, 0.0)
    except LeaseLost:
        log.info("planning of job %s was taken over or the job was stopped", claim.job_id)
    except DatabaseUnavailable as exc:  # stopping during an outage: the planning lease lapses, another resumes
        log.warning("planning of job %s paused: %s", claim.job_id, exc)
        return
    except Exception as exc:  # noqa: BLE001 - a failing source stops its job with the reason, not the worker
        reason = exc.message() if isinstance(exc, BatchyardError) else f"the source failed: {exc}"
        log.warning("planning of job %s failed: %s", claim.job_id, reason)
        store.abandon_planning(claim.job_id, claim.token, reason)
    store.finish_if_done(claim.job_id)


def _enumerate(
    store: Store, job_type: JobType, claim: PlanningClaim, should_stop: Callable[[], bool], files: JobFiles | None
) -> bool:
    """Store the source's items batch by batch and seal the job; False when stopped before the end."""
    assert job_type.source is not None
    params = job_type.parse_params(claim.params)
    retry = partial(retry_transient, what=f"planning of job {claim.job_id}", should_stop=should_stop)
    if job_type.source_takes_context:
        ctx = Context(job_id=claim.job_id, owner=claim.owner, params=params, round=1)
        ctx.files = files
        source = job_type.source(params, ctx)
    else:
        source = job_type.source(params)
    batches = (
        _segment_batches(job_type, claim, source)
        if job_type.load
        else _item_batches(store, job_type, claim, source, retry)
    )
    for batch in batches:
        retry(partial(store.add_chunks, claim.job_id, claim.token, batch))
        if should_stop():
            return False
    retry(partial(store.seal, claim.job_id, claim.token))
    return True


def _item_batches(
    store: Store, job_type: JobType, claim: PlanningClaim, source: Iterable[Any], retry: Callable[..., Any]
) -> Iterator[list[PlannedChunk]]:
    scope = skip_done_scope(job_type, claim.owner, claim.params)
    items = within_limit(
        islice(iter(source), claim.planned, None),
        job_type.policies.max_items,
        type_name=job_type.name,
        start=claim.planned,
    )
    return cut_chunks(
        items,
        chunk_size=job_type.policies.chunk_size,
        first_index=claim.planned,
        first_seq=claim.next_seq,
        key=job_type.key,
        already_done=(lambda keys: retry(partial(store.done_keys, scope, keys))) if scope else None,
    )


def _segment_batches(
    job_type: JobType, claim: PlanningClaim, source: Iterable[Segment]
) -> Iterator[list[PlannedChunk]]:
    """A chunk per segment of the source (a byte range of a file), after those an earlier planner stored."""
    limit = job_type.policies.max_items
    for batch in cut_segments(source, first_index=claim.planned, first_seq=claim.next_seq, skip_items=claim.planned):
        count = batch[-1].first_index + len(batch[-1].states)
        if limit is not None and count > limit:
            raise TooManyItems(type=job_type.name, limit=limit, count=f"{limit + 1}+")
        yield batch
