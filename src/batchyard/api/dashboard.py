"""The dashboard: the built Vue app served at ``/``. Its hashed assets are cached for good; every other page
address (``/jobs/42`` on reload, say) gets ``index.html`` so that the app's router can show it. Addresses of the
API, the metrics and the API's documents are never taken for pages: there a wrong method is still a 405 and an
unknown address a 404 in the API's envelope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Match, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

BUILT = Path(__file__).with_name("dashboard")
NOT_PAGES = ("api/", "metrics", "openapi.json", "docs", "redoc", "assets/")
_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>batchyard</title>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>batchyard</h1>
<p>The dashboard has not been built in this checkout. Run <code>make run</code> (it builds it), or install a
released package. The API is at <a href="/docs">/docs</a>.</p>
<p lang="zh-CN">此检出中尚未构建控制台。请运行 <code>make run</code>（会自动构建），或安装发布的安装包。
API 文档见 <a href="/docs">/docs</a>。</p></body></html>"""


def install(app: FastAPI, built: Path = BUILT) -> None:
    """Serve the app built into ``built`` (``make run`` builds it there; a wheel carries it)."""
    if (built / "assets").is_dir():
        app.mount("/assets", _ImmutableFiles(directory=built / "assets"), name="dashboard-assets")
    app.router.routes.append(_PageRoute("/{path:path}", _pages(built), methods=["GET", "HEAD"]))


def _pages(built: Path) -> Any:
    index = built / "index.html"
    # the files beside index.html (the favicon and the like), named when the app starts: a request's path is only
    # ever looked up among these names, never joined to a directory
    beside = (
        {p.name: p for p in built.iterdir() if p.is_file() and not p.name.startswith(".")} if built.is_dir() else {}
    )
    beside.pop("index.html", None)

    def page(request: Request) -> Response:
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT)
        found = beside.get(request.path_params["path"])
        if found is not None:
            return FileResponse(found)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return page


class _PageRoute(Route):
    """Matches only what can be a page: a GET or HEAD outside the API's addresses."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = str(scope.get("path", "")).lstrip("/")
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD") or path.startswith(NOT_PAGES):
            return Match.NONE, {}
        return super().matches(scope)


class _ImmutableFiles(StaticFiles):
    """Asset names carry a hash of their content: a browser may keep them forever."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
