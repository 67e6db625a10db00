"""A migration's report and the re-copy of one of its ranges. The job type serves both (it reads its own range
rows); the API finds them on the registered type by name, never importing the job type itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Protocol, cast

from fastapi import APIRouter, Path

from batchyard.api.deps import ActingUser, CurrentUser, JobId, Jobs, Reg, StoreDep, owned
from batchyard.api.errors import responses
from batchyard.api.schemas import JobOut
from batchyard.core.model import Job
from batchyard.core.registry import Registry
from batchyard.errors import NoReport

router = APIRouter(tags=["migrations"])
RangeIndex = Annotated[int, Path(ge=0, le=2**31 - 1)]


class Migration(Protocol):
    """What a job type that keeps a migration report offers (``migrate``)."""

    report: Callable[[Job], dict[str, Any]] | None
    recopy: Callable[[Job, int], dict[str, Any]] | None


def _migration(registry: Registry, job: Job) -> Migration:
    job_type = registry.get(job.type) if job.type in registry else None
    if job_type is None or getattr(job_type, "report", None) is None:
        raise NoReport(job_id=job.id, type=job.type)
    return cast(Migration, job_type)


@router.get(
    "/jobs/{job_id}/report",
    operation_id="migration_report",
    response_model=dict[str, Any],
    responses=responses(401, 403, 404, 422),
)
def migration_report(job_id: JobId, user: CurrentUser, store: StoreDep, registry: Reg) -> dict[str, Any]:
    """A migration's report, live: per table rows read, written, rejected and skipped, duration, rows per
    second, and the verification with the exact keys whose rows differ (also kept as the job's report.json,
    report.html and rejects.csv once it ends)."""
    job = owned(store.get_job(job_id), user)
    report = _migration(registry, job).report
    assert report is not None
    return report(job)


@router.post(
    "/jobs/{job_id}/ranges/{range_index}/recopy",
    operation_id="recopy_range",
    status_code=202,
    response_model=JobOut,
    responses=responses(401, 403, 404, 409, 422, 429),
)
def recopy_range(job_id: JobId, range_index: RangeIndex, user: ActingUser, jobs: Jobs) -> JobOut:
    """Copy one range of a migration again, as a new `migrate` job in the migration owner's name (an admin's
    re-copy too): the range's rows upserted from the source and verified — what fixes the rows a verification
    found differing."""
    job = owned(jobs.store.get_job(job_id), user)
    recopy = _migration(jobs.registry, job).recopy
    assert recopy is not None
    return JobOut.of(jobs.submit(job.type, owner=job.owner, params=recopy(job, range_index)))
