"""Defects a review of the files change found, over HTTP, each reproduced first, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from batchyard import Yard
from batchyard.core.users import Role
from tests.integration.api_helpers import Service, service

API = "/api/v1"


@pytest.fixture
def svc(database_url: str) -> Iterator[Service]:
    with service(database_url, upload_max_files=3) as s:
        s.add_user("alice", Role.OPERATOR)
        yield s


def _png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, "PNG")
    return out.getvalue()


def _files(count: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"{i}.png", _png(), "image/png")) for i in range(count)]


def _uploads_left(svc: Service) -> int:
    far = datetime.now(UTC) + timedelta(days=36500)
    return len(svc.yard.store.expired_uploads(far, 1000, after_finish=timedelta(0)))


def _blob_files(svc: Service) -> list[Path]:
    return [p for p in Path(svc.yard.settings.resolved_blob_url).rglob("*") if p.is_file()]


# 1
def test_a_storage_failure_during_an_upload_is_503_not_a_refused_file(svc: Service) -> None:
    root = Path(svc.yard.settings.resolved_blob_url)
    root.mkdir(parents=True, exist_ok=True)
    (root / "uploads").write_bytes(b"a file where the uploads directory should be")
    response = svc.client.post(f"{API}/uploads", files=_files(2), headers=svc.headers("alice"))
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "blob_storage_error"
    assert error["details"] == {}, "where files are kept is not told"
    assert "uploads" not in error["message"]
    assert _uploads_left(svc) == 0


# 7
def test_a_request_refused_part_way_keeps_none_of_its_files(svc: Service) -> None:
    response = svc.client.post(f"{API}/uploads", files=_files(4), headers=svc.headers("alice"))
    assert response.status_code == 422, "four files where three are allowed"
    assert _uploads_left(svc) == 0
    assert _blob_files(svc) == []


# 13
def test_more_upload_ids_than_a_job_can_name_is_422(svc: Service) -> None:
    response = svc.client.post(
        f"{API}/jobs", json={"type": "images", "upload_ids": list(range(1, 10_002))}, headers=svc.headers("alice")
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_params"


# 15
def test_a_missing_artifacts_error_does_not_show_where_it_was_kept(svc: Service) -> None:
    upload = svc.client.post(f"{API}/uploads", files=_files(1), headers=svc.headers("alice")).json()["uploads"][0]
    job = svc.client.post(
        f"{API}/jobs", json={"type": "images", "upload_ids": [upload["id"]]}, headers=svc.headers("alice")
    ).json()
    svc.yard.run_until_done(job["id"], timeout=30)
    [artifact] = svc.yard.artifacts(job["id"])
    svc.yard.blobs.delete(artifact.blob_key)
    for path in (f"/artifacts/{artifact.id}", f"/jobs/{job['id']}/download.zip"):
        response = svc.client.get(f"{API}{path}", headers=svc.headers("alice", **{"Accept-Language": "zh-CN"}))
        assert response.status_code == 404, path
        error = response.json()["error"]
        assert error["code"] == "blob_not_found"
        assert error["details"] == {}
        assert artifact.blob_key not in response.text
        assert "存储的文件不存在" in error["message"]


# 7, as it streams in: the files kept before the request fails are discarded too
def test_a_streamed_request_refused_part_way_keeps_none_of_the_files_before(tmp_path: Path) -> None:
    from tests.integration.images_server import images_server

    boundary = "----batchyard-test"

    def body() -> Iterator[bytes]:
        for i in range(4):  # one piece per file, so the first files are kept before the fourth is seen
            yield (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{i}.png"\r\n'
                    "Content-Type: image/png\r\n\r\n"
                ).encode()
                + _png()
                + b"\r\n"
            )
        yield f"--{boundary}--\r\n".encode()

    with images_server(f"sqlite:///{tmp_path}/s.db", tmp_path, BATCHYARD_UPLOAD_MAX_FILES="3") as server:
        alice = server.user()
        response = alice.http.post(
            f"{API}/uploads",
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 422
        assert "at most 3 files" in response.json()["error"]["message"]
        assert [p for p in server.blobs.rglob("*") if p.is_file()] == [], "no bytes kept"
        yard = Yard(server.database_url)
        try:
            assert (
                yard.store.expired_uploads(datetime.now(UTC) + timedelta(days=36500), 10, after_finish=timedelta(0))
                == []
            ), "no rows kept"
        finally:
            yard.close()
