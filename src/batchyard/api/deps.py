"""What a route needs: the services of the app, and who is calling (checked on every route but health and
sign-in). Dependencies that do not wait on anything are ``async``: FastAPI runs a plain ``def`` dependency in
its thread pool, a hop that cost more than the work of most of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from batchyard.core.model import Job
from batchyard.core.registry import Registry
from batchyard.core.users import User
from batchyard.errors import AdminOnly, ConfigurationError, Forbidden, ReadOnlyRole
from batchyard.service.auth import AuthService
from batchyard.service.files import FileService
from batchyard.service.jobs import JobService
from batchyard.service.schedules import ScheduleService
from batchyard.service.webhooks import WebhookService
from batchyard.store.base import Store

_bearer = HTTPBearer(auto_error=False, description="a token from `POST /auth/login` or `batchyard users create`")


async def store(request: Request) -> Store:
    value: Store = request.app.state.store
    return value


async def registry(request: Request) -> Registry:
    value: Registry = request.app.state.registry
    return value


async def auth(request: Request) -> AuthService:
    value: AuthService = request.app.state.auth
    return value


async def files(request: Request) -> FileService:
    value: FileService | None = request.app.state.files
    if value is None:
        raise ConfigurationError(reason="this server keeps no files (no blob store)")
    return value


async def jobs(request: Request) -> JobService:
    return JobService(
        request.app.state.store, request.app.state.registry, request.app.state.files, request.app.state.resources
    )


async def schedules(request: Request) -> ScheduleService:
    store: Store = request.app.state.store
    return ScheduleService(store.schedules, await jobs(request), request.app.state.registry)


async def webhooks(request: Request) -> WebhookService:
    value: WebhookService = request.app.state.webhooks
    return value


async def email_enabled(request: Request) -> bool:
    """Whether the app can send e-mail: only then may users give an address."""
    return bool(request.app.state.email_enabled)


def bearer_secret(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    return credentials.credentials if credentials else None


def current_user(
    service: Annotated[AuthService, Depends(auth)], secret: Annotated[str | None, Depends(bearer_secret)]
) -> User:
    return service.authenticate(secret)


async def acting_user(user: Annotated[User, Depends(current_user)]) -> User:
    """A caller who may change things: not a viewer."""
    if not user.can_act:
        raise ReadOnlyRole()
    return user


async def admin(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise AdminOnly()
    return user


def owned(job: Job, user: User) -> Job:
    """The job, if the caller may see it: its owner or an admin (another user's job is 403, not 404: the
    caller learns nothing they could not learn by guessing ids, and a support request can name it)."""
    if not user.may_see(job.owner):
        raise Forbidden(job_id=job.id)
    return job


MAX_ID = 2**63 - 1  # ids are 64-bit: a larger one names nothing and must not reach the database
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]
WebhookId = Annotated[int, Path(ge=1, le=MAX_ID)]
ScheduleId = Annotated[int, Path(ge=1, le=MAX_ID)]
ArtifactId = Annotated[int, Path(ge=1, le=MAX_ID)]

CurrentUser = Annotated[User, Depends(current_user)]
ActingUser = Annotated[User, Depends(acting_user)]
Admin = Annotated[User, Depends(admin)]
Jobs = Annotated[JobService, Depends(jobs)]
FilesDep = Annotated[FileService, Depends(files)]
Auth = Annotated[AuthService, Depends(auth)]
BearerSecret = Annotated[str | None, Depends(bearer_secret)]
Reg = Annotated[Registry, Depends(registry)]
StoreDep = Annotated[Store, Depends(store)]
Webhooks = Annotated[WebhookService, Depends(webhooks)]
Schedules = Annotated[ScheduleService, Depends(schedules)]
EmailEnabled = Annotated[bool, Depends(email_enabled)]
