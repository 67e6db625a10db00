"""Hostile files through the whole service: uploaded over HTTP, processed by real worker processes, on SQLite and
PostgreSQL. Each one gets a clear outcome — refused at upload, failed with its reason, or processed right — and
nothing takes a worker down."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.acceptance.helpers import children_of
from tests.integration.images_server import API, ImagesServer, jpeg
from tests.support import hostile_images as hostile


@pytest.fixture(scope="module")
def server(module_server: ImagesServer) -> ImagesServer:
    return module_server


REFUSED_AT_UPLOAD = {
    "an HTML page named .jpg": ("page.jpg", hostile.html_page(), "unsupported_file_type", "HTML"),
    "an empty file": ("empty.jpg", b"", "empty_file", "empty"),
    "an animated GIF": ("moving.gif", hostile.animated_gif(), "unsupported_file_type", "GIF"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_AT_UPLOAD))
def test_a_file_that_is_no_photo_is_refused_at_upload_with_its_reason(server: ImagesServer, case: str) -> None:
    name, data, code, said = REFUSED_AT_UPLOAD[case]
    alice = server.user()
    response = alice.upload([(name, data), ("real.jpg", jpeg(1))], job_type="images")
    assert response.status_code == 201
    assert [u["filename"] for u in response.json()["uploads"]] == ["real.jpg"]
    [rejected] = response.json()["rejected"]
    assert (rejected["filename"], rejected["code"]) == (name, code)
    assert said in rejected["message"]


def _run_one(server: ImagesServer, name: str, data: bytes) -> tuple[dict[str, object], dict[str, object]]:
    alice = server.user()
    [upload_id] = alice.upload_ids([(name, data)])
    job = alice.submit([upload_id], format="png").json()
    done = alice.finished(job["id"])
    [item] = alice.http.get(f"{API}/jobs/{job['id']}/items", headers={"Accept-Language": "zh-CN"}).json()["items"]
    return done, item


def _output(server: ImagesServer, job_id: object) -> Image.Image:
    owner_view = server.admin.get(f"{API}/jobs/{job_id}/items/0/output")
    assert owner_view.status_code == 200
    return Image.open(io.BytesIO(owner_view.content))


def test_a_truncated_jpeg_fails_its_item_with_the_reason_in_chinese(server: ImagesServer) -> None:
    done, item = _run_one(server, "half.jpg", hostile.truncated_jpeg())
    assert (done["status"], item["status"]) == ("failed", "failed")
    assert "图片不完整或已损坏" in str(item["error"])
    assert done["quota"] == {"charged": 1, "refunded": 1}


def test_a_png_named_jpg_is_processed_by_its_content(server: ImagesServer) -> None:
    alice = server.user()
    response = alice.upload([("photo.jpg", hostile.png_named_jpg())], job_type="images")
    assert response.json()["uploads"][0]["content_type"] == "image/png"
    done, _ = _run_one(server, "photo.jpg", hostile.png_named_jpg())
    assert done["status"] == "succeeded"
    assert _output(server, done["id"]).size == (30, 20)


def test_a_one_pixel_image_is_processed(server: ImagesServer) -> None:
    done, item = _run_one(server, "dot.png", hostile.one_pixel())
    assert done["status"] == "succeeded"
    assert item["output"]["width"] == item["output"]["height"] == 1  # type: ignore[index]


def test_a_cmyk_jpeg_comes_out_rgb(server: ImagesServer) -> None:
    done, _ = _run_one(server, "ink.jpg", hostile.cmyk_jpeg())
    assert done["status"] == "succeeded"
    output = _output(server, done["id"])
    assert output.mode == "RGB"
    red, green, blue = output.getpixel((5, 5))  # type: ignore[misc]
    assert red > 200 and green < 80 and blue < 80  # noqa: PT018 - one colour, three channels


def test_exif_orientation_6_is_turned_upright(server: ImagesServer) -> None:
    done, _ = _run_one(server, "sideways.jpg", hostile.exif_orientation_6())
    assert done["status"] == "succeeded"
    assert _output(server, done["id"]).size == (20, 40)


def test_a_20000_by_20000_png_bomb_fails_its_item_and_the_workers_live_on(server: ImagesServer) -> None:
    workers_before = children_of(server.pid)
    done, item = _run_one(server, "bomb.png", hostile.png_bomb())
    assert (done["status"], item["status"]) == ("failed", "failed")
    assert "20000×20000" in str(item["error"])
    after, _ = _run_one(server, "next.jpg", jpeg(7))
    assert after["status"] == "succeeded", "the next job is processed"
    assert children_of(server.pid) == workers_before, "no worker died or was replaced"
