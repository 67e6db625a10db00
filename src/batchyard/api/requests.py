"""Every request gets an id — the caller's ``X-Request-ID`` when it is a sane one, else a new one — returned in
the response's ``X-Request-ID`` and carried by the request's log line, so a user's report finds its log."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

log = logging.getLogger("batchyard.api")
HEADER = "X-Request-ID"
_SANE = re.compile(r"^[\w.:-]{1,64}$")


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.headers.get(HEADER, "")
        rid = given if _SANE.match(given) else uuid.uuid4().hex[:16]
        began = time.perf_counter()
        response = await call_next(request)
        response.headers[HEADER] = rid
        elapsed = (time.perf_counter() - began) * 1000
        log.info(
            "%s %s %s %.1f ms",
            request.method,
            request.url.path,
            response.status_code,
            elapsed,
            extra={"request_id": rid, "status": response.status_code, "ms": round(elapsed, 1)},
        )
        return response
