"""Files out of a job, streamed: its outputs as `batch_{id}.zip`, one item's output, and its failed items as
`errors.csv` / `errors.xlsx` to fix and submit again."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from batchyard.api.deps import CurrentUser, FilesDep, JobId, StoreDep, owned
from batchyard.api.errors import language, responses
from batchyard.core.filenames import content_disposition
from batchyard.core.users import User
from batchyard.service.downloads import Downloads
from batchyard.service.files import FileService
from batchyard.store.base import Store

router = APIRouter(tags=["files"])

ItemIndex = Annotated[int, Path(ge=0, le=2**62)]
CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _file(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}


def _stream(pieces: Any, media_type: str, filename: str, size: int | None = None) -> StreamingResponse:
    headers = {"Content-Disposition": content_disposition(filename)}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(iterate_in_threadpool(pieces), media_type=media_type, headers=headers)


@router.get(
    "/jobs/{job_id}/download.zip",
    operation_id="download_zip",
    response_class=StreamingResponse,
    responses={**responses(400, 401, 403, 404, 422), **_file("application/zip")},
)
async def download_zip(
    job_id: JobId,
    user: CurrentUser,
    store: StoreDep,
    files: FilesDep,
    success_only: Annotated[bool, Query(description="only succeeded items' outputs")] = True,
) -> StreamingResponse:
    """The job's item outputs as `batch_{id}.zip`, made while it downloads (never whole in memory or on disk),
    each entry named after the file it came from. 400 when there is nothing to put in it."""
    job = owned(await run_in_threadpool(store.get_job, job_id), user)
    downloads = Downloads(store, files)
    pieces = await run_in_threadpool(downloads.archive, job, success_only=success_only)
    return _stream(pieces, "application/zip", f"batch_{job.id}.zip")


@router.get(
    "/jobs/{job_id}/items/{index}/output",
    operation_id="download_item_output",
    response_class=StreamingResponse,
    responses={**responses(401, 403, 404, 422), **_file("application/octet-stream")},
)
def download_item_output(
    job_id: JobId, index: ItemIndex, user: CurrentUser, store: StoreDep, files: FilesDep
) -> StreamingResponse:
    """One item's output file."""
    job = owned(store.get_job(job_id), user)
    artifact = Downloads(store, files).item_output(job, index)
    return _stream(files.read(artifact.blob_key), artifact.content_type, artifact.name, artifact.size)


@router.get(
    "/jobs/{job_id}/errors.csv",
    operation_id="download_errors_csv",
    response_class=StreamingResponse,
    responses={**responses(401, 403, 404, 422), **_file(CSV)},
)
def download_errors_csv(
    job_id: JobId, request: Request, user: CurrentUser, store: StoreDep, files: FilesDep
) -> StreamingResponse:
    """The failed items with their input and reason as CSV (UTF-8 with a BOM, for Excel): fix and submit
    again. Headers of the added columns in the caller's language."""
    return _errors(job_id, request, user, store, files, format="csv")


@router.get(
    "/jobs/{job_id}/errors.xlsx",
    operation_id="download_errors_xlsx",
    response_class=StreamingResponse,
    responses={**responses(401, 403, 404, 422), **_file(XLSX)},
)
def download_errors_xlsx(
    job_id: JobId, request: Request, user: CurrentUser, store: StoreDep, files: FilesDep
) -> StreamingResponse:
    """The failed items with their input and reason as an Excel workbook."""
    return _errors(job_id, request, user, store, files, format="xlsx")


def _errors(
    job_id: int, request: Request, user: User, store: Store, files: FileService, *, format: str
) -> StreamingResponse:
    job = owned(store.get_job(job_id), user)
    pieces = Downloads(store, files).errors(job, format=format, language=language(request))
    return _stream(pieces, CSV if format == "csv" else XLSX, f"errors_{job.id}.{format}")
