"""Bulk updates over HTTP beyond submitting one: rolling a finished update back."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from batchyard.api.deps import ActingUser, JobId, Jobs, StoreDep, owned
from batchyard.api.errors import responses
from batchyard.api.schemas import JobOut

router = APIRouter(tags=["jobs"])


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(False, description="Restore rows changed since the update too, instead of listing them.")


@router.post(
    "/jobs/{job_id}/rollback",
    operation_id="rollback_job",
    status_code=202,
    response_model=JobOut,
    responses=responses(401, 403, 404, 409, 422, 429),
)
def rollback_job(
    job_id: JobId, user: ActingUser, store: StoreDep, jobs: Jobs, body: RollbackIn | None = None
) -> JobOut:
    """Start a job that undoes a finished bulk update: rows still holding the values it wrote get their old
    values back; rows changed since are listed as skipped conflicts (restored anyway with `force`). The job runs
    in the update's owner's name, whoever of them or an admin asks. 409 when the job is not a finished bulk
    update that changed rows, or it was rolled back already (or is being)."""
    job = owned(store.get_job(job_id), user)
    force = body.force if body is not None else False
    return JobOut.of(jobs.submit("bulk_rollback", owner=job.owner, params={"job_id": job_id, "force": force}))
