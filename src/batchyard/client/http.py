"""The service over HTTP, for the command line and for scripts: every call returns the API's JSON, every error
is a ``ClientError`` carrying the API's code and message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

API = "/api/v1"


class ClientError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class Client:
    def __init__(self, url: str, token: str | None = None, *, language: str | None = None, timeout: float = 30) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if language:
            headers["Accept-Language"] = language
        self._http = httpx.Client(base_url=url.rstrip("/") + API, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        return self._call("POST", "/auth/login", json={"username": username, "password": password})

    def me(self) -> dict[str, Any]:
        return self._call("GET", "/me")

    def jobs(self, **filters: Any) -> dict[str, Any]:
        params = {k: v for k, v in filters.items() if v is not None}
        return self._call("GET", "/jobs", params=params)

    def job(self, job_id: int) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}")

    def submit(
        self, type_name: str, items: list[Any] | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self._call("POST", "/jobs", json={"type": type_name, "items": items, "params": params or {}})

    def submit_files(self, type_name: str, upload_ids: list[int], params: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/jobs", json={"type": type_name, "upload_ids": upload_ids, "params": params})

    def upload(self, path: Path, *, job_type: str | None = None) -> dict[str, Any]:
        """Send one file (streamed from disk); the upload, or ClientError with why it was refused."""
        query = {"job_type": job_type} if job_type else {}
        with path.open("rb") as handle:
            answer = self._call("POST", "/uploads", params=query, files=[("files", (path.name, handle))], timeout=None)
        if answer.get("rejected"):
            refused = answer["rejected"][0]
            raise ClientError(422, refused["code"], refused["message"])
        upload: dict[str, Any] = answer["uploads"][0]
        return upload

    def artifacts(self, job_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call_list("GET", f"/jobs/{job_id}/artifacts")
        return found

    def download(self, path: str, target: Path) -> int:
        """Save what ``path`` (under the API) serves to ``target``, streamed; the bytes written."""
        written = 0
        with self._http.stream("GET", path, timeout=None) as response:
            if response.status_code != 200:
                response.read()
                raise _error(response)
            with target.open("wb") as out:
                for piece in response.iter_bytes(1 << 20):
                    out.write(piece)
                    written += len(piece)
        return written

    def act(self, job_id: int, action: str) -> dict[str, Any]:
        """``action``: cancel, pause, resume or retry-failed."""
        return self._call("POST", f"/jobs/{job_id}/{action}")

    def failures(self, job_id: int) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}/failures")

    def tally(self, job_id: int) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}/tally")

    def events(self, job_id: int, last_event_id: int | None = None) -> Iterator[dict[str, Any]]:
        """The job's events as they come (from its first, or after ``last_event_id``); ends with the stream."""
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id else {}
        with self._http.stream("GET", f"/jobs/{job_id}/events", headers=headers, timeout=None) as response:
            if response.status_code != 200:
                response.read()
                raise _error(response)
            data: list[str] = []
            for line in response.iter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    yield json.loads("\n".join(data))
                    data = []

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = self._answer(method, path, **kwargs)
        return body

    def _call_list(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._answer(method, path, **kwargs)

    def _answer(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(0, "unreachable", f"cannot reach {self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise _error(response)
        return response.json() if response.content else {}


def _error(response: httpx.Response) -> ClientError:
    try:
        error = response.json()["error"]
        return ClientError(response.status_code, error["code"], error["message"], error.get("details"))
    except (ValueError, KeyError, TypeError):
        return ClientError(response.status_code, "http_error", f"HTTP {response.status_code}: {response.text[:200]}")
