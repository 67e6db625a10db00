"""Every request gets an id — the caller's ``X-Request-ID`` when it is a sane one, else a new one — returned in
the response's ``X-Request-ID`` and carried by the request's log line, so a user's report finds its log.

A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs each request in a task of its own with
memory streams between, which cost more than most of our routes do.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("batchyard.api")
HEADER = "X-Request-ID"
_SANE = re.compile(r"^[\w.:-]{1,64}$")


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        rid = given if _SANE.match(given) else uuid.uuid4().hex[:16]
        began = time.perf_counter()
        status = 500  # unless a response starts: an exception past every handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = (time.perf_counter() - began) * 1000
            log.info(
                "%s %s %s %.1f ms",
                scope["method"],
                scope["path"],
                status,
                elapsed,
                extra={"request_id": rid, "status": status, "ms": round(elapsed, 1)},
            )


def _header(scope: Scope, name: bytes) -> str:
    headers: Any = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def install(app: FastAPI) -> None:
    app.add_middleware(RequestIds)
