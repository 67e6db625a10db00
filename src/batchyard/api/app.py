"""The FastAPI application: every route under ``/api/v1``, errors as one envelope in the caller's language."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import APIRouter, FastAPI

from batchyard.api import channels, dashboard, errors, metrics, requests
from batchyard.api.routes import (
    actions,
    auth,
    downloads,
    events,
    jobs,
    meta,
    migrations,
    notifications,
    schedules,
    users,
    webhooks,
)
from batchyard.api.routes import bulk as bulk_routes
from batchyard.api.routes import files as file_routes
from batchyard.api.routes import (
    resources as resource_routes,
)
from batchyard.core.registry import Registry
from batchyard.core.resources import Resource
from batchyard.service.auth import AuthService
from batchyard.service.events import EventHub
from batchyard.service.files import FileService
from batchyard.settings import Settings
from batchyard.store.base import Store

PREFIX = "/api/v1"


def create_app(
    store: Store,
    registry: Registry | None = None,
    *,
    auth_service: AuthService | None = None,
    settings: Settings | None = None,
    deliver: bool = False,
    files: FileService | None = None,
    resources: Mapping[str, Resource] | None = None,
    dashboard_dir: Path = dashboard.BUILT,
) -> FastAPI:
    """``settings``: the webhook key, SMTP server and delivery policy (see ``api/channels.py`` without them);
    ``deliver``: the app's lifespan runs a dispatcher sending webhooks and e-mail (``batchyard serve`` and
    ``batchyard api`` do); ``files``: uploads and artifacts (without it, file routes answer that none are kept);
    ``dashboard_dir``: the built web app served at ``/``."""
    hub = EventHub(store)
    notices = channels.build(store, settings, deliver=deliver)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if notices.dispatcher is not None:
            notices.dispatcher.start()
        try:
            yield
        finally:
            hub.stop()
            if notices.dispatcher is not None:
                notices.dispatcher.stop()

    app = FastAPI(title="batchyard", version=version("batchyard"), lifespan=lifespan)
    app.state.store = store
    app.state.files = files
    app.state.resources = resources if resources is not None else {}  # the yard's: later declarations show
    app.state.registry = registry or Registry()
    app.state.auth = auth_service or AuthService(store)
    app.state.events = hub
    app.state.webhooks = notices.webhooks
    app.state.email_enabled = notices.email_enabled
    app.state.dispatcher = notices.dispatcher
    app.state.metrics = metrics.registry_for(store, hub)
    api = APIRouter(prefix=PREFIX, responses=errors.responses(503))  # any route: the database is away
    # actions before jobs: "/jobs/actions" must not be taken for a job id
    routes = (
        meta,
        auth,
        actions,
        jobs,
        bulk_routes,
        file_routes,
        downloads,
        resource_routes,
        migrations,
        events,
        notifications,
        webhooks,
        schedules,
        users,
    )
    for module in routes:
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(metrics.router)
    errors.install(app)
    requests.install(app)
    dashboard.install(app, dashboard_dir)  # last: its page route takes any address the others did not
    return app
