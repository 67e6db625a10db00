"""Jobs: submit, list, read, and steer — each route checks that the caller may see (and act on) the job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request

from batchyard.api.deps import ActingUser, CurrentUser, JobId, Jobs, StoreDep, owned
from batchyard.api.errors import language, responses
from batchyard.api.schemas import (
    CauseOut,
    FailuresOut,
    ItemOut,
    ItemPage,
    JobOut,
    JobPage,
    PreviewIn,
    SubmitIn,
    TallyOut,
)
from batchyard.api.selection import Selection, matching
from batchyard.core.causes import group_failures
from batchyard.core.model import Job
from batchyard.core.users import User
from batchyard.store.base import Store

router = APIRouter(tags=["jobs"])

SEEN = responses(401, 403, 404, 422)  # a job must exist and be the caller's (or the caller an admin)
ACTED = responses(401, 403, 404, 409, 422)


@router.post(
    "/job-types/{type_name}/preview",
    operation_id="preview_job",
    response_model=dict[str, Any],
    responses=responses(401, 403, 404, 422),
)
def preview_job(
    type_name: Annotated[str, Path(max_length=200)], body: PreviewIn, user: ActingUser, jobs: Jobs
) -> dict[str, Any]:
    """What a job of this type would do with these params and files, without submitting it — for an import:
    the format and encoding found, each column and the field it feeds, fields no column feeds, and the first
    rows with every reason they would fail, in English and Chinese."""
    return jobs.preview(type_name, owner=user.name, params=body.params, upload_ids=body.upload_ids)


@router.post(
    "/jobs",
    operation_id="submit_job",
    status_code=202,
    response_model=JobOut,
    responses=responses(401, 403, 404, 409, 413, 422, 429),
)
def submit_job(
    body: SubmitIn,
    user: ActingUser,
    jobs: Jobs,
    idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
) -> JobOut:
    """Submit a job of any registered type; it runs in the background. A repeated `Idempotency-Key` returns
    the job the first submit created; an exclusive key held by an active job is 409 with that job's id."""
    job = jobs.submit(
        body.type,
        owner=user.name,
        items=body.items,
        params=body.params,
        idempotency_key=idempotency_key,
        upload_ids=body.upload_ids,
    )
    return JobOut.of(job)


@router.get("/jobs", operation_id="list_jobs", response_model=JobPage, responses=responses(401, 422))
def list_jobs(
    user: CurrentUser,
    store: StoreDep,
    selection: Annotated[Selection, Query()],
    *,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobPage:
    """The caller's jobs (an admin's: everyone's, or one owner's), newest first, matching every filter given."""
    found = matching(store, user, selection, before=int(cursor) if cursor else None, limit=limit + 1)
    page = found[:limit]
    more = len(found) > limit
    return JobPage(jobs=[JobOut.of(j) for j in page], next_cursor=str(page[-1].id) if more else None)


@router.get("/jobs/{job_id}", operation_id="get_job", response_model=JobOut, responses=SEEN)
def get_job(job_id: JobId, user: CurrentUser, store: StoreDep) -> JobOut:
    return JobOut.of(owned(store.get_job(job_id), user))


@router.get("/jobs/{job_id}/items", operation_id="list_items", response_model=ItemPage, responses=SEEN)
def list_items(
    job_id: JobId,
    request: Request,
    user: CurrentUser,
    store: StoreDep,
    *,
    status: Annotated[str | None, Query(pattern="^(succeeded|failed|skipped|pending|cancelled)$")] = None,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ItemPage:
    """The job's items in order, with their status, output and error; `cursor` is the last index seen."""
    owned(store.get_job(job_id), user)
    start = int(cursor) + 1 if cursor else 0
    found = list(islice(store.items(job_id, status, start), limit + 1))
    page = found[:limit]
    more = len(found) > limit
    chinese = _chinese(request)
    items = [ItemOut.of(replace(i, error=i.error_zh) if chinese and i.error_zh else i) for i in page]
    return ItemPage(items=items, next_cursor=str(page[-1].index) if more else None)


def _chinese(request: Request) -> bool:
    return language(request).lower().startswith("zh")


@router.get("/jobs/{job_id}/failures", operation_id="job_failures", response_model=FailuresOut, responses=SEEN)
def job_failures(job_id: JobId, request: Request, user: CurrentUser, store: StoreDep) -> FailuresOut:
    """The job's failed items grouped by cause, so thousands of failures read as the few reasons behind them
    (in Chinese, by `Accept-Language`, for the reasons that have it)."""
    owned(store.get_job(job_id), user)
    causes = group_failures(store.failures(job_id))
    chinese = _chinese(request)
    return FailuresOut(
        job_id=job_id,
        failed=sum(c.count for c in causes),
        causes=[CauseOut.of(c, chinese=chinese) for c in causes],
    )


@router.get("/jobs/{job_id}/tally", operation_id="job_tally", response_model=TallyOut, responses=SEEN)
def job_tally(job_id: JobId, user: CurrentUser, store: StoreDep) -> TallyOut:
    """The job's items counted: succeeded, failed, skipped, and the succeeded by their output where it is a
    word — an import's rows `inserted` and `updated`, or under `dry_run` what they would be."""
    owned(store.get_job(job_id), user)
    return TallyOut.model_validate(store.tally(job_id), from_attributes=True)


def _act(job_id: int, user: User, store: Store, action: Callable[[int], Job]) -> JobOut:
    owned(store.get_job(job_id), user)
    return JobOut.of(action(job_id))


@router.post("/jobs/{job_id}/cancel", operation_id="cancel_job", response_model=JobOut, responses=ACTED)
def cancel_job(job_id: JobId, user: ActingUser, store: StoreDep) -> JobOut:
    """Cancel: nothing new starts, items in hand stop at their next check, the job ends `cancelled`."""
    return _act(job_id, user, store, store.cancel)


@router.delete("/jobs/{job_id}", operation_id="delete_job", response_model=JobOut, responses=ACTED)
def delete_job(job_id: JobId, user: ActingUser, store: StoreDep) -> JobOut:
    """The same as `POST /jobs/{id}/cancel`: a job's record is kept."""
    return _act(job_id, user, store, store.cancel)


@router.post("/jobs/{job_id}/pause", operation_id="pause_job", response_model=JobOut, responses=ACTED)
def pause_job(job_id: JobId, user: ActingUser, store: StoreDep) -> JobOut:
    return _act(job_id, user, store, store.pause)


@router.post("/jobs/{job_id}/resume", operation_id="resume_job", response_model=JobOut, responses=ACTED)
def resume_job(job_id: JobId, user: ActingUser, store: StoreDep) -> JobOut:
    return _act(job_id, user, store, store.resume)


@router.post(
    "/jobs/{job_id}/retry-failed",
    operation_id="retry_failed",
    response_model=JobOut,
    responses={**ACTED, **responses(429)},
)
def retry_failed(job_id: JobId, user: ActingUser, store: StoreDep, jobs: Jobs) -> JobOut:
    """Run the failed (and unprocessed) items again, as a new round of the same job, charged again."""
    return _act(job_id, user, store, jobs.retry_failed)
