"""Files in: `POST /uploads` takes one or many files in a multipart body, streamed, each checked by its content;
files out: a job's artifacts, to its owner or an admin."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from batchyard.api.deps import ActingUser, ArtifactId, CurrentUser, FilesDep, JobId, Reg, StoreDep, owned
from batchyard.api.errors import language, responses
from batchyard.api.multipart import Caps, MultipartFiles, ReceivedFile
from batchyard.api.schemas import Out
from batchyard.core.filenames import content_disposition
from batchyard.core.files import WORKING_KINDS, Upload
from batchyard.core.registry import Registry
from batchyard.errors import (
    BatchyardError,
    EmptyFile,
    FilesRejected,
    FileTooLarge,
    NoFiles,
    TooManyItems,
    UnsupportedFileType,
    WrongFormField,
)
from batchyard.service.files import FileService

router = APIRouter(tags=["files"])
log = logging.getLogger("batchyard.api")

# What refuses one file and lets the others through; anything else (the storage or the database failing) fails
# the request.
REFUSALS = (FileTooLarge, EmptyFile, UnsupportedFileType, TooManyItems, WrongFormField)

MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1}
                    },
                    "required": ["files"],
                }
            }
        },
    }
}


class UploadOut(Out):
    id: int
    filename: str
    size: int
    content_type: str = Field(description="found from the file's bytes, not its name or the declared type")
    sha256: str
    expires_at: datetime


class RejectedFile(BaseModel):
    filename: str
    code: str
    message: str


class UploadResult(BaseModel):
    uploads: list[UploadOut]
    rejected: list[RejectedFile] = Field(description="files not kept, each with its reason")


class ArtifactOut(Out):
    id: int
    job_id: int
    item_index: int | None
    name: str
    kind: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    expires_at: datetime


@router.post(
    "/uploads",
    operation_id="upload_files",
    status_code=201,
    response_model=UploadResult,
    responses=responses(401, 403, 413, 422),
    openapi_extra=MULTIPART_BODY,
)
async def upload_files(
    request: Request,
    user: ActingUser,
    files: FilesDep,
    registry: Reg,
    job_type: Annotated[
        str | None, Query(max_length=200, description="check each file against what this job type accepts")
    ] = None,
) -> UploadResult:
    """Keep one or many files (multipart fields named `files`) for jobs to use with `upload_ids`. Each file's
    type is found from its bytes; files that are empty, too large, of a type `job_type` does not accept, or
    past the number of items a `job_type` job takes (the first ones are kept) are listed in `rejected` with the
    reason, the others kept. 413 when every file is too large, 422 when every file is rejected."""
    accepts, cap = _accepted(registry, job_type, files)
    most = registry.get(job_type).policies.max_items if job_type is not None else None
    caps = Caps(file_bytes=cap, request_bytes=files.limits.max_request_bytes, files=files.limits.max_files)
    receiver = MultipartFiles(request.headers.get("content-type", ""), caps)
    lang = language(request)
    kept: list[Upload] = []
    rejected: list[tuple[ReceivedFile, BatchyardError]] = []
    try:
        async for received in receiver.read(request.stream()):
            try:
                if most is not None and len(kept) >= most:
                    raise TooManyItems(type=job_type, limit=most, count=len(kept) + len(rejected) + 1)
                kept.append(await run_in_threadpool(_keep, files, user.name, received, accepts, cap))
            except REFUSALS as exc:
                rejected.append((received, exc))
            finally:
                received.close()
    except BaseException:
        # the request fails whole (a cap, a malformed body, the storage, the client gone): the caller never
        # learns the ids of what was kept before, so nothing of it is kept — even when the request is being
        # cancelled (shielded), and without a failure of this clean-up hiding the request's own error
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_discard_quietly, files, kept)
        raise
    _refuse_if_none_kept(kept, rejected, lang)
    return UploadResult(
        uploads=[UploadOut.of(u) for u in kept],
        rejected=[RejectedFile(filename=r.filename, code=e.code, message=e.message(lang)) for r, e in rejected],
    )


def _discard_quietly(files: FileService, kept: list[Upload]) -> None:
    try:
        files.discard(kept)
    except Exception:
        log.warning("discarding %d upload(s) of a failed request failed", len(kept), exc_info=True)


def _accepted(registry: Registry, job_type: str | None, files: FileService) -> tuple[tuple[str, ...] | None, int]:
    if job_type is None:
        return None, files.max_file_bytes()
    policies = registry.get(job_type).policies
    return policies.accepts, files.max_file_bytes(policies)


def _keep(files: FileService, owner: str, received: ReceivedFile, accepts: tuple[str, ...] | None, cap: int) -> Upload:
    if received.wrong_field:
        raise WrongFormField(field=received.form_field)
    if received.too_large:
        raise FileTooLarge(limit_mb=cap / 1_000_000)
    return files.upload(owner, received.filename, received.spool, accepts=accepts, max_bytes=cap)


def _refuse_if_none_kept(kept: list[Upload], rejected: list[tuple[ReceivedFile, BatchyardError]], lang: str) -> None:
    if kept:
        return
    if not rejected:
        raise NoFiles()
    reasons = [{"filename": r.filename, "code": e.code, "message": e.message(lang)} for r, e in rejected]
    if all(isinstance(e, FileTooLarge) for _, e in rejected):
        raise FileTooLarge(limit_mb=rejected[0][1].details["limit_mb"], rejected=reasons)
    raise FilesRejected(count=len(rejected), rejected=reasons)


@router.get(
    "/jobs/{job_id}/artifacts",
    operation_id="list_artifacts",
    response_model=list[ArtifactOut],
    responses=responses(401, 403, 404, 422),
)
def list_artifacts(job_id: JobId, user: CurrentUser, store: StoreDep) -> list[ArtifactOut]:
    """The files the job produced: its own first, then its items' outputs in item order."""
    owned(store.get_job(job_id), user)
    return [ArtifactOut.of(a) for a in store.artifacts(job_id) if a.kind not in WORKING_KINDS]


@router.get(
    "/artifacts/{artifact_id}",
    operation_id="download_artifact",
    response_class=StreamingResponse,
    responses={**responses(401, 403, 404, 422), 200: {"content": {"application/octet-stream": {}}}},
)
def download_artifact(
    artifact_id: ArtifactId, user: CurrentUser, store: StoreDep, files: FilesDep
) -> StreamingResponse:
    """An artifact's bytes, for the owner of its job or an admin."""
    artifact = files.artifact(artifact_id)
    owned(store.get_job(artifact.job_id), user)
    return StreamingResponse(
        iterate_in_threadpool(files.read(artifact.blob_key)),  # opened before the answer starts
        media_type=artifact.content_type,
        headers={"Content-Disposition": content_disposition(artifact.name), "Content-Length": str(artifact.size)},
    )
