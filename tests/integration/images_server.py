"""A real `batchyard serve` (API and 2 worker processes, the built-in `images` job type) for the image-batch
tests, and what they send it: generated photos, signed-in users, uploads, jobs watched to their end."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from PIL import Image

from batchyard import Yard
from batchyard.core.users import Role
from batchyard.service.auth import AuthService
from tests.acceptance.helpers import REPO, free_port, stop_group, subprocess_env, wait_for

API = "/api/v1"
FINISHED = {"succeeded", "partially_succeeded", "failed", "cancelled"}
_names = itertools.count(1)


def jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small photo, different for every seed."""
    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    image.putpixel((seed % size[0], 0), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def truncated_jpeg(seed: int) -> bytes:
    """A JPEG cut in half: its first bytes say JPEG, so it is taken, and it fails when decoded."""
    whole = jpeg(seed, (256, 192))
    return whole[: len(whole) // 2]


@dataclass
class User:
    name: str
    http: httpx.Client

    def upload(self, files: list[tuple[str, bytes]], **params: str) -> httpx.Response:
        parts = [("files", (name, data, "image/jpeg")) for name, data in files]
        return self.http.post(f"{API}/uploads", files=parts, params=params)

    def upload_ids(self, files: list[tuple[str, bytes]]) -> list[int]:
        response = self.upload(files, job_type="images")
        assert response.status_code == 201, response.text
        assert response.json()["rejected"] == []
        return [u["id"] for u in response.json()["uploads"]]

    def submit(self, upload_ids: list[int], **params: Any) -> httpx.Response:
        return self.http.post(f"{API}/jobs", json={"type": "images", "upload_ids": upload_ids, "params": params})

    def job(self, job_id: int) -> dict[str, Any]:
        response = self.http.get(f"{API}/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def finished(self, job_id: int, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (job := self.job(job_id))["status"] not in FINISHED:
            assert time.monotonic() < deadline, f"job {job_id} did not finish: {job}"
            time.sleep(0.05)
        return job

    def balance(self) -> int:
        quota: int = self.http.get(f"{API}/me").json()["quota"]
        return quota


@dataclass
class ImagesServer:
    base: str
    admin: httpx.Client
    blobs: Path  # the local blob store's directory
    database_url: str
    pid: int  # serve's: its children are the workers
    clients: list[httpx.Client] = field(default_factory=list)

    def user(self, *, quota: int = 100, role: Role = Role.OPERATOR) -> User:
        name = f"u{next(_names)}_{uuid.uuid4().hex[:6]}"
        created = self.admin.post(f"{API}/users", json={"name": name, "role": role.value, "quota": quota})
        assert created.status_code == 201, created.text
        token = created.json()["token"]["token"]
        client = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self.clients.append(client)
        return User(name, client)


@contextmanager
def images_server(database_url: str, root: Path, *, app: str | None = None, **settings: str) -> Iterator[ImagesServer]:
    """``batchyard serve`` with 2 workers on ``database_url`` (and ``app``'s job types), its files under ``root``."""
    yard = Yard(database_url)
    admin = AuthService(yard.store).create_user(f"admin_{uuid.uuid4().hex[:6]}", role=Role.ADMIN, quota=0)[1]
    yard.close()
    port = free_port()
    env = subprocess_env(BATCHYARD_DATABASE_URL=database_url, BATCHYARD_DATA_DIR=str(root / "data"), **settings)
    with (root / "serve.log").open("ab") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "batchyard", "serve", "--port", str(port), "--workers", "2"]
            + (["--app", app] if app else []),
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin.secret}"}, timeout=60)
    running = ImagesServer(base, client, root / "data" / "blobs", database_url, serve.pid)
    try:
        wait_for(lambda: _healthy(serve, base), timeout=60, what="the API to answer")
        yield running
    finally:
        for opened in [client, *running.clients]:
            opened.close()
        stop_group(serve)


def _healthy(serve: subprocess.Popen[bytes], base: str) -> bool:
    assert serve.poll() is None, f"serve exited with {serve.returncode}"
    try:
        return httpx.get(f"{base}{API}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def scratch_schema(server_url: str) -> Iterator[str]:
    """A PostgreSQL schema of its own for a server that outlives one test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{server_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImagesServer]:
    """One server per test module and database, shared by its tests (each test signs up users of its own)."""
    root = tmp_path_factory.mktemp(f"images-{request.param}")
    if request.param == "sqlite":
        with images_server(f"sqlite:///{root}/images.db", root) as running:
            yield running
        return
    with scratch_schema(request.getfixturevalue("postgres_server")) as url, images_server(url, root) as running:
        yield running
