"""The FastAPI application. For now: liveness and database reachability at ``GET /api/v1/health``."""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from batchyard.errors import BatchyardError
from batchyard.store.base import Store


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    version: str


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


router = APIRouter(prefix="/api/v1")


@router.get("/health", operation_id="health", response_model=Health)
def health(store: Annotated[Store, Depends(_store)]) -> JSONResponse:
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


def create_app(store: Store) -> FastAPI:
    app = FastAPI(title="batchyard", version=version("batchyard"))
    app.state.store = store
    app.include_router(router)
    return app
