"""Submitting jobs and acting on them: validation, exclusive and idempotency keys, streamed planning."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import replace
from functools import partial
from itertools import chain, islice
from typing import Any

from batchyard.core.context import Context
from batchyard.core.files import Upload
from batchyard.core.jobtype import JobType
from batchyard.core.model import Job, NewJob, PlannedChunk, SubmitLimits
from batchyard.core.planning import SUBMISSION_INTERRUPTED, cut_chunks
from batchyard.core.policies import OnError
from batchyard.core.registry import Registry
from batchyard.core.resources import Resource
from batchyard.core.retry import retry_transient
from batchyard.core.templates import render_key
from batchyard.errors import (
    BatchyardError,
    InvalidParams,
    LeaseLost,
    NoItems,
    SubmissionInterrupted,
    TooManyItems,
    UploadsGone,
)
from batchyard.service.files import FileService
from batchyard.service.keepalive import PlanningLease
from batchyard.service.plan_preview import preview_planned_items
from batchyard.store.base import Store

# How far past ``max_items`` an oversized submission is counted for the error message.
COUNT_BOUND = 100_000
# A submission of a known length up to this many items is stored whole in the transaction that creates its
# job: one write instead of one per batch, a seal and a planning lease kept alive by a thread.
INLINE_ITEMS = 5_000


class JobService:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        files: FileService | None = None,
        resources: Mapping[str, Resource] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.files = files  # where ``upload_ids`` are found
        self.resources = resources  # what a job naming a ``resource`` in its params may work on

    def submit(
        self,
        type_name: str,
        *,
        owner: str,
        items: Iterable[Any] | None = None,
        params: dict[str, Any] | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        upload_ids: Sequence[int] | None = None,
    ) -> Job:
        """Submit a job of its items, or of an item per upload (``upload_ids``: tied to the job while it runs).

        A job type with a source (an import) reads the uploads itself: they are given to it as the param
        ``upload_ids`` instead of becoming items."""
        _no_files_in_params(self.registry.get(type_name), params)
        if upload_ids is not None:
            job_type = self.registry.get(type_name)
            uploads = self._uploads(job_type, owner, items, upload_ids)
            if job_type.source is None:
                items = [u.as_item() for u in uploads]
            else:
                params = {**(params or {}), "upload_ids": [u.id for u in uploads]}
        return self._submit(
            type_name,
            owner=owner,
            items=items,
            params=params,
            priority=priority,
            idempotency_key=idempotency_key,
            upload_ids=tuple(upload_ids or ()),
        )

    def preview(
        self, type_name: str, *, owner: str, params: dict[str, Any] | None = None, upload_ids: Sequence[int] = ()
    ) -> dict[str, Any]:
        """What a job of this type would do with these params and uploads, without submitting it (an import's
        column mapping and first rows): the job type's own ``preview``, reading the owner's uploads as a job
        of theirs would."""
        job_type = self.registry.get(type_name)
        if job_type.preview is None:
            parsed = job_type.parse_params(params)
            raw = job_type.params_dict(parsed)
            scope = skip_done_scope(job_type, owner, raw)
            return preview_planned_items(job_type, self.store, scope=scope, params=parsed)
        _no_files_in_params(job_type, params)
        if upload_ids and job_type.source is not None:
            uploads = self._uploads(job_type, owner, None, upload_ids)
            params = {**(params or {}), "upload_ids": [u.id for u in uploads]}
        parsed = job_type.parse_params(params)
        ctx = Context(job_id=0, owner=owner, params=parsed, round=0)
        ctx.files = self.files
        return dict(job_type.preview(parsed, ctx))

    def _submit(
        self,
        type_name: str,
        *,
        owner: str,
        items: Iterable[Any] | None,
        params: dict[str, Any] | None,
        priority: int | None,
        idempotency_key: str | None,
        upload_ids: tuple[int, ...],
    ) -> Job:
        job_type = self.registry.get(type_name)
        parsed = job_type.parse_params(params)
        raw_params = job_type.params_dict(parsed)
        resource = getattr(parsed, "resource", None)
        self._prepare_resource(resource)
        if items is None and job_type.source is None:
            raise NoItems()
        if items is None and job_type.source is not None and getattr(job_type.source, "plan_at_submit", False):
            items = list(job_type.source(parsed))  # a few known items (a date range's days): counted and charged now
        counted = len(items) if isinstance(items, Sized) else None  # known now: charged when the job is created
        stream = None if items is None else _checked_items(job_type, items)
        inline = stream is not None and counted is not None and counted <= INLINE_ITEMS
        token = secrets.token_hex(16) if stream is not None and not inline else None
        policies = job_type.policies
        new = NewJob(
            type=type_name,
            owner=owner,
            params=raw_params,
            priority=job_type.policies.priority if priority is None else priority,
            max_concurrency=job_type.policies.max_concurrency,
            exclusive_key=_exclusive_key(job_type, owner, raw_params),
            idempotency_key=idempotency_key,
            plan_by_worker=stream is None,
            max_lost=job_type.policies.max_attempts,
            max_failures=job_type.policies.max_failures,
            stop_on_error=job_type.policies.on_error == OnError.STOP,
            planner_token=token,
            unit_cost=policies.unit_cost,
            prepaid_items=counted,
            limits=SubmitLimits(policies.jobs_per_hour, policies.jobs_per_day, policies.max_active_jobs),
            upload_ids=upload_ids,
            uploads_until=self.files.kept_until() if upload_ids and self.files is not None else None,
            resource=resource if isinstance(resource, str) else None,
        )
        planned = None
        if inline and stream is not None:
            if (repeated := self.store.precheck(new)) is not None:
                return repeated  # an idempotent repeat: nothing to plan
            planned = self._plan_now(job_type, owner, raw_params, stream)
            new, stream = replace(new, planned=planned), None
        job, created = self.store.create_job(new)
        if created and stream is not None and token is not None:
            self._plan(job_type, job, stream, token)
            return self.store.get_job(job.id)
        if created and planned is not None and job.processed == job.total:
            self.store.finish_if_done(job.id)  # every item was done before (skip_done): nothing to run
            return self.store.get_job(job.id)
        return job

    def _prepare_resource(self, name: Any) -> None:
        """A job on a resource (an import, an export): the resource must be declared, and its table is made now
        when missing, before any worker writes to it."""
        if not isinstance(name, str) or self.resources is None:
            return
        resource = self.resources.get(name)
        if resource is None:
            known = ", ".join(sorted(self.resources)) or "none"
            raise InvalidParams(reason=f"there is no resource {name!r} (resources: {known})")
        if resource.database_url is None:  # one elsewhere is the job type's to reach
            self.store.ensure_resource(resource)

    def _uploads(
        self, job_type: JobType, owner: str, items: Iterable[Any] | None, upload_ids: Sequence[int]
    ) -> list[Upload]:
        """The owner's uploads a job is submitted with, checked against its type's limits, in the order given."""
        if items is not None:
            raise InvalidParams(reason="give items or upload_ids, not both")
        if not upload_ids:
            raise NoItems()
        limit = job_type.policies.max_items
        if limit is not None and len(upload_ids) > limit:
            raise TooManyItems(type=job_type.name, limit=limit, count=len(upload_ids))
        if self.files is None:
            raise InvalidParams(reason="this service keeps no files")
        policies = job_type.policies
        return self.files.uploads_for(owner, upload_ids, policies.accepts, self.files.max_file_bytes(policies))

    def _plan_now(
        self, job_type: JobType, owner: str, params: dict[str, Any], items: Iterable[Any]
    ) -> list[PlannedChunk]:
        """Plan a small submission whole before its job exists: a failing key function or lookup stores
        nothing at all."""
        scope = skip_done_scope(job_type, owner, params)
        retry = partial(retry_transient, what="a submission's done keys", should_stop=lambda: False)
        already_done = (lambda keys: retry(partial(self.store.done_keys, scope, keys))) if scope else None
        batches = cut_chunks(
            items, chunk_size=job_type.policies.chunk_size, key=job_type.key, already_done=already_done
        )
        return [chunk for batch in batches for chunk in batch]

    def _plan(self, job_type: JobType, job: Job, items: Iterable[Any], token: str) -> None:
        """Store the items chunk by chunk; workers start on the first batch while the rest is stored. The
        planning lease is renewed by time, so a slow iterable is never taken for a dead submitter."""
        scope = skip_done_scope(job_type, job.owner, job.params)
        retry = partial(retry_transient, what=f"submission of job {job.id}", should_stop=lambda: False)
        already_done = (lambda keys: retry(partial(self.store.done_keys, scope, keys))) if scope else None
        lease = self.store.planning_lease
        try:
            with PlanningLease(self.store, job.id, token, lease=lease):
                for batch in cut_chunks(
                    items, chunk_size=job_type.policies.chunk_size, key=job_type.key, already_done=already_done
                ):
                    retry(partial(self.store.add_chunks, job.id, token, batch))
                retry(partial(self.store.seal, job.id, token))
        except LeaseLost:
            self._raise_unless_cancelled(job.id)
        except Exception as exc:
            reason = exc.message() if isinstance(exc, BatchyardError) else f"reading the items failed: {exc}"
            self.store.abandon_planning(job.id, token, reason)
            raise
        self.store.finish_if_done(job.id)

    def _raise_unless_cancelled(self, job_id: int) -> None:
        """The lease was refused: fine if the job was cancelled or stopped under the submitter (no more items
        are wanted), an error if the submitter stalled past its lease and the job was stopped as interrupted."""
        job = self.store.get_job(job_id)
        if job.error == SUBMISSION_INTERRUPTED:
            raise SubmissionInterrupted(job_id=job_id, stored=job.total, reason=job.error)

    def cancel(self, job_id: int) -> Job:
        return self.store.cancel(job_id)

    def pause(self, job_id: int) -> Job:
        return self.store.pause(job_id)

    def resume(self, job_id: int) -> Job:
        return self.store.resume(job_id)

    def retry_failed(self, job_id: int) -> Job:
        """Retry under the job type's cap on its owner's active jobs (when the type is registered here)."""
        job = self.store.get_job(job_id)
        if gone := self.store.missing_uploads(job_id):
            raise UploadsGone(job_id=job_id, count=len(gone))  # before any charge: its items could not run
        known = job.type in self.registry.names
        limit = self.registry.get(job.type).policies.max_active_jobs if known else None
        return self.store.retry_failed(job_id, max_active=limit)


def skip_done_scope(job_type: JobType, owner: str, params: dict[str, Any]) -> str | None:
    template = job_type.policies.skip_done
    if template is None:
        return None
    if job_type.key is None:
        raise InvalidParams(reason=f"job type {job_type.name!r} uses skip_done but declares no item key")
    return render_key(template, type_name=job_type.name, owner=owner, params=params)


def _exclusive_key(job_type: JobType, owner: str, params: dict[str, Any]) -> str | None:
    template = job_type.policies.exclusive
    if template is None:
        return None
    return render_key(template, type_name=job_type.name, owner=owner, params=params)


def _checked_items(job_type: JobType, items: Iterable[Any]) -> Iterable[Any]:
    """Refuse an empty or too large submission before anything is stored, peeking only what is needed; an
    oversized one is counted up to a bound, so an endless iterable is refused too."""
    iterator = iter(items)
    limit = job_type.policies.max_items
    head = list(islice(iterator, (limit + 1) if limit is not None else 1))
    if not head:
        raise NoItems()
    if limit is not None and len(head) > limit:
        extra = sum(1 for _ in islice(iterator, COUNT_BOUND))
        count = len(head) + extra
        raise TooManyItems(type=job_type.name, limit=limit, count=count if extra < COUNT_BOUND else f"{count}+")
    return chain(head, iterator)


def _no_files_in_params(job_type: JobType, params: dict[str, Any] | None) -> None:
    """A job type that reads uploads gets them as ``upload_ids`` from the request's own field, where each is
    checked (the owner's, not expired, of a type and size the job takes) — never from the params as given."""
    if job_type.source is not None and params and "upload_ids" in params:
        raise InvalidParams(reason="give the files as upload_ids beside the params, not inside them")
