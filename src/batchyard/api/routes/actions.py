"""Bulk actions: cancel, pause, resume or retry a selection of jobs — by ids, or everything matching a filter —
each judged on its own (ownership, its state), with what happened and the quota moved reported per job."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from batchyard.api.deps import MAX_ID, ActingUser, Jobs, StoreDep, owned
from batchyard.api.errors import language, responses
from batchyard.api.schemas import JSON_INTEGER, QuotaOut
from batchyard.api.selection import Selection, matching
from batchyard.core.model import Job
from batchyard.core.users import User
from batchyard.errors import BatchyardError
from batchyard.service.jobs import JobService
from batchyard.store.base import Store

router = APIRouter(tags=["jobs"])
MAX_JOBS = 1_000  # jobs one request acts on; a filter matching more acts on the newest


class Action(StrEnum):
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    RETRY_FAILED = "retry-failed"


JobIdIn = Annotated[int, Field(ge=1, le=MAX_ID), JSON_INTEGER]


class BulkIn(BaseModel):
    action: Action
    ids: Annotated[list[JobIdIn], Field(max_length=MAX_JOBS)] | None = None
    filter: Selection | None = None
    reason: str | None = Field(default=None, max_length=500, description="why, for the record")


class ErrorOut(BaseModel):
    code: str
    message: str


class Outcome(BaseModel):
    job_id: int
    ok: bool
    status: str | None = Field(description="the job's status after the action (null: unknown job)")
    error: ErrorOut | None
    quota_moved: QuotaOut = Field(description="what this action charged and refunded")


class BulkOut(BaseModel):
    action: Action
    reason: str | None
    matched: int
    more: bool = Field(
        description=f"more jobs match the filter than one request acts on ({MAX_JOBS}, the newest): send it again"
    )
    outcomes: list[Outcome]


@router.post("/jobs/actions", operation_id="bulk_action", response_model=BulkOut, responses=responses(401, 403, 422))
def bulk_action(body: BulkIn, request: Request, user: ActingUser, store: StoreDep, jobs: Jobs) -> BulkOut:
    """Act on `ids`, or on every job of the caller's (an admin's: anyone's) matching `filter`; one job's
    refusal does not stop the others."""
    more = False
    if body.ids is not None:
        ids = body.ids
    else:
        found = matching(store, user, body.filter or Selection(), before=None, limit=MAX_JOBS + 1)
        ids, more = [job.id for job in found[:MAX_JOBS]], len(found) > MAX_JOBS
    act = _actions(store, jobs)[body.action]
    outcomes = [_one(job_id, user, store, act, language(request)) for job_id in ids]
    return BulkOut(action=body.action, reason=body.reason, matched=len(ids), more=more, outcomes=outcomes)


def _actions(store: Store, jobs: JobService) -> dict[Action, Callable[[int], Job]]:
    return {
        Action.CANCEL: store.cancel,
        Action.PAUSE: store.pause,
        Action.RESUME: store.resume,
        Action.RETRY_FAILED: jobs.retry_failed,
    }


def _one(job_id: int, user: User, store: Store, act: Callable[[int], Job], lang: str) -> Outcome:
    try:
        before = owned(store.get_job(job_id), user)
    except BatchyardError as exc:  # unknown, or another user's: nothing about it is told
        return _refused(job_id, exc, lang, status=None)
    try:
        after = act(job_id)
    except BatchyardError as exc:
        return _refused(job_id, exc, lang, status=str(before.status))
    moved = QuotaOut(
        charged=after.quota.charged - before.quota.charged, refunded=after.quota.refunded - before.quota.refunded
    )
    return Outcome(job_id=job_id, ok=True, status=str(after.status), error=None, quota_moved=moved)


def _refused(job_id: int, exc: BatchyardError, lang: str, *, status: str | None) -> Outcome:
    error = ErrorOut(code=exc.code, message=exc.message(lang))
    return Outcome(job_id=job_id, ok=False, status=status, error=error, quota_moved=QuotaOut(charged=0, refunded=0))
