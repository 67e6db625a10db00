"""Liveness and what the service offers."""

from __future__ import annotations

from importlib.metadata import version
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from batchyard.api.deps import CurrentUser, Reg, StoreDep
from batchyard.api.errors import responses
from batchyard.api.schemas import JobTypeOut
from batchyard.errors import BatchyardError
from batchyard.service.files import FileService

router = APIRouter()


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    version: str


@router.get("/health", operation_id="health", response_model=Health, tags=["meta"], responses={503: {"model": Health}})
def health(store: StoreDep) -> JSONResponse:
    try:
        reachable = store.ping()
    except BatchyardError:
        reachable = False
    body = Health(
        status="ok" if reachable else "degraded",
        database="ok" if reachable else "unreachable",
        version=version("batchyard"),
    )
    return JSONResponse(body.model_dump(), status_code=200 if reachable else 503)


@router.get(
    "/job-types",
    operation_id="list_job_types",
    response_model=list[JobTypeOut],
    tags=["jobs"],
    responses=responses(401),
)
def job_types(request: Request, user: CurrentUser, registry: Reg) -> list[JobTypeOut]:
    """Every job type with its params' JSON Schema and limits, the files it takes among them: forms are rendered
    from it, and uploads checked before they are sent."""
    files: FileService | None = request.app.state.files
    types = [registry.get(name) for name in registry.names]
    return [JobTypeOut.of(t, files.max_file_bytes(t.policies) if files else None) for t in types]
