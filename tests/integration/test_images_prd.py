"""The image-batch PRD end to end, over real HTTP to a real `batchyard serve` with 2 worker processes, on SQLite
and PostgreSQL: one test per row of its acceptance tables (§7.1 functional, §7.3 security) and per item of the
backend task card's verification list, each named after the row it proves."""

from __future__ import annotations

import io
import shutil
import threading
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from batchyard import Yard
from batchyard.core.files import Upload
from tests.integration.images_server import (
    API,
    ImagesServer,
    jpeg,
    truncated_jpeg,
)


@pytest.fixture(scope="module")
def server(module_server: ImagesServer) -> ImagesServer:
    return module_server


def photos(count: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [(f"连衣裙_{i}.jpg", jpeg(i)) for i in range(start, start + count)]


def big_photo(seed: int) -> bytes:
    """About a second of work for the images job (noise does not compress, and the params sharpen it)."""
    noise = Image.effect_noise((1400, 1000), 60 + seed % 10).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=95)
    return out.getvalue()


def in_parallel(count: int, call: Callable[[], Any]) -> list[Any]:
    results: list[Any] = []
    lock = threading.Lock()
    start = threading.Barrier(count)

    def run() -> None:
        start.wait()
        found = call()
        with lock:
            results.append(found)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def stored_uploads(server: ImagesServer, ids: list[int]) -> list[Upload]:
    yard = Yard(server.database_url)
    try:
        return yard.store.get_uploads(ids)
    finally:
        yard.close()


def hide_blobs(server: ImagesServer, ids: list[int], aside: Path) -> list[tuple[Path, Path]]:
    """Take uploads' files out of the blob store (a storage outage for those items), to put back later."""
    aside.mkdir(parents=True, exist_ok=True)
    moved = []
    for upload in stored_uploads(server, ids):
        path = server.blobs / upload.blob_key
        shutil.move(path, aside / path.name)
        moved.append((aside / path.name, path))
    return moved


def restore(moved: list[tuple[Path, Path]]) -> None:
    for source, target in moved:
        shutil.move(source, target)


def zip_names(response: Any) -> list[str]:
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    return archive.namelist()


# §7.1 functional acceptance


def test_7_1_batch_upload_of_10_jpgs_keeps_all_10(server: ImagesServer) -> None:
    alice = server.user()
    response = alice.upload(photos(10), job_type="images")
    assert response.status_code == 201
    kept = response.json()["uploads"]
    assert [u["filename"] for u in kept] == [f"连衣裙_{i}.jpg" for i in range(10)]
    assert {u["content_type"] for u in kept} == {"image/jpeg"}
    assert len({u["sha256"] for u in kept}) == 10


def test_7_1_format_check_refuses_a_gif_with_its_reason(server: ImagesServer) -> None:
    alice = server.user()
    gif = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(gif, "GIF")
    response = alice.http.post(
        f"{API}/uploads",
        params={"job_type": "images"},
        files=[("files", ("a.jpg", jpeg(1), "image/jpeg")), ("files", ("动图.gif", gif.getvalue(), "image/gif"))],
        headers={"Accept-Language": "zh-CN"},
    )
    assert response.status_code == 201
    assert [u["filename"] for u in response.json()["uploads"]] == ["a.jpg"]
    [rejected] = response.json()["rejected"]
    assert (rejected["filename"], rejected["code"]) == ("动图.gif", "unsupported_file_type")
    assert "GIF" in rejected["message"]
    assert "只接受" in rejected["message"]
    only_gif = alice.upload([("b.gif", gif.getvalue())], job_type="images")
    assert only_gif.status_code == 422, "no file kept: the request is refused"
    assert only_gif.json()["error"]["details"]["rejected"][0]["code"] == "unsupported_file_type"


def test_7_1_a_text_file_uploaded_without_a_job_type_is_refused_at_submit_in_words(server: ImagesServer) -> None:
    alice = server.user()
    kept = alice.http.post(f"{API}/uploads", files=[("files", ("notes.jpg", b"just some text\n", "image/jpeg"))])
    assert kept.status_code == 201, kept.text
    upload_id = kept.json()["uploads"][0]["id"]
    body = {"type": "images", "upload_ids": [upload_id]}
    refused = alice.http.post(f"{API}/jobs", json=body, headers={"Accept-Language": "zh-CN"})
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "文本文件" in message, message
    assert "PLAIN" not in message
    english = alice.http.post(f"{API}/jobs", json=body, headers={"Accept-Language": "en"}).json()["error"]["message"]
    assert "a text file" in english, english
    assert "JPEG" in english


def test_job_types_say_which_files_they_take_and_how_large(server: ImagesServer) -> None:
    types = {t["name"]: t for t in server.user().http.get(f"{API}/job-types").json()}
    images = types["images"]
    assert (images["accepts"], images["max_file_bytes"]) == (["image/jpeg", "image/png", "image/webp"], 10_000_000)
    assert images["max_items"] == 50


def test_7_1_count_limit_keeps_the_first_50_of_51(server: ImagesServer) -> None:
    alice = server.user()
    response = alice.upload(photos(51), job_type="images")
    assert response.status_code == 201
    assert len(response.json()["uploads"]) == 50
    [rejected] = response.json()["rejected"]
    assert (rejected["filename"], rejected["code"]) == ("连衣裙_50.jpg", "too_many_items")
    assert "50" in rejected["message"]


def test_7_1_quota_goes_from_100_to_90_for_10_images(server: ImagesServer) -> None:
    alice = server.user(quota=100)
    response = alice.submit(alice.upload_ids(photos(10)))
    assert response.status_code == 202
    assert response.json()["quota"] == {"charged": 10, "refunded": 0}
    assert alice.balance() == 90
    assert alice.finished(response.json()["id"])["status"] == "succeeded"
    assert alice.balance() == 90


def test_7_1_quota_short_by_5_is_refused_with_the_shortfall(server: ImagesServer) -> None:
    alice = server.user(quota=5)
    response = alice.http.post(
        f"{API}/jobs",
        json={"type": "images", "upload_ids": alice.upload_ids(photos(10))},
        headers={"Accept-Language": "zh-CN"},
    )
    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["code"], error["details"]["shortfall"]) == ("quota_insufficient", 5)
    assert "还差 5" in error["message"]
    assert alice.balance() == 5
    assert alice.http.get(f"{API}/jobs").json()["jobs"] == []


def test_7_1_batch_processing_shows_running_with_progress_then_10_of_10(server: ImagesServer) -> None:
    alice = server.user()
    ids = alice.upload_ids([(f"p{i}.jpg", big_photo(i)) for i in range(10)])
    job = alice.submit(ids, sharpness=2.0, contrast=1.3, format="png").json()
    seen: set[tuple[str, int]] = set()
    while (now := alice.job(job["id"]))["status"] not in ("succeeded", "partially_succeeded", "failed"):
        seen.add((now["status"], now["processed"]))
    assert any(status == "running" and 0 < processed < 10 for status, processed in seen), seen
    assert (now["status"], now["processed"], now["total"], now["progress"]) == ("succeeded", 10, 10, 100.0)


def test_7_1_partial_failure_of_5_in_10_refunds_5(server: ImagesServer) -> None:
    alice = server.user(quota=100)
    files = [(f"good_{i}.jpg", jpeg(i)) if i % 2 == 0 else (f"bad_{i}.jpg", truncated_jpeg(i)) for i in range(10)]
    job = alice.submit(alice.upload_ids(files)).json()
    done = alice.finished(job["id"])
    assert (done["status"], done["succeeded"], done["failed"]) == ("partially_succeeded", 5, 5)
    assert done["quota"] == {"charged": 10, "refunded": 5}
    assert alice.balance() == 95
    failures = alice.http.get(f"{API}/jobs/{job['id']}/failures", headers={"Accept-Language": "zh-CN"}).json()
    [cause] = failures["causes"]
    assert cause["count"] == 5
    assert "图片不完整或已损坏" in cause["sample"]["error"]
    english = alice.http.get(f"{API}/jobs/{job['id']}/items", params={"status": "failed"}).json()["items"]
    assert [i["index"] for i in english] == [1, 3, 5, 7, 9]
    assert all("truncated or damaged" in i["error"] for i in english)


def test_7_1_zip_download_holds_exactly_the_5_successes(server: ImagesServer) -> None:
    alice = server.user()
    files = [(f"图_{i}.jpg", jpeg(i)) if i < 5 else (f"坏_{i}.jpg", truncated_jpeg(i)) for i in range(10)]
    job = alice.submit(alice.upload_ids(files), format="webp").json()
    alice.finished(job["id"])
    response = alice.http.get(f"{API}/jobs/{job['id']}/download.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert f'filename="batch_{job["id"]}.zip"' in response.headers["content-disposition"]
    names = zip_names(response)
    assert names == [f"图_{i}.webp" for i in range(5)]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert all(info.flag_bits & 0x800 for info in archive.infolist()), "UTF-8 names flagged"
    assert Image.open(io.BytesIO(archive.read(names[0]))).format == "WEBP"


def test_7_1_task_list_shows_the_batch_with_its_5_of_10(server: ImagesServer) -> None:
    alice = server.user()
    files = [(f"ok_{i}.jpg", jpeg(i)) if i < 5 else (f"bad_{i}.jpg", truncated_jpeg(i)) for i in range(10)]
    job = alice.submit(alice.upload_ids(files)).json()
    alice.finished(job["id"])
    [listed] = alice.http.get(f"{API}/jobs", params={"type": "images"}).json()["jobs"]
    assert (listed["id"], listed["type"], listed["succeeded"], listed["total"]) == (job["id"], "images", 5, 10)


def test_7_1_retry_failed_reprocesses_the_5_failures_and_charges_5(server: ImagesServer, tmp_path: Path) -> None:
    alice = server.user(quota=100)
    ids = alice.upload_ids(photos(10))
    moved = hide_blobs(server, ids[5:], tmp_path / "aside")  # the storage lost 5 files for a while
    job = alice.submit(ids).json()
    first = alice.finished(job["id"])
    assert (first["succeeded"], first["failed"], alice.balance()) == (5, 5, 95)
    assert len(zip_names(alice.http.get(f"{API}/jobs/{job['id']}/download.zip"))) == 5
    restore(moved)
    retried = alice.http.post(f"{API}/jobs/{job['id']}/retry-failed")
    assert retried.status_code == 200
    assert retried.json()["quota"]["charged"] == 15
    assert alice.balance() == 90
    done = alice.finished(job["id"])
    assert (done["status"], done["succeeded"], done["failed"]) == ("succeeded", 10, 0)
    assert alice.balance() == 90
    assert zip_names(alice.http.get(f"{API}/jobs/{job['id']}/download.zip")) == [f"连衣裙_{i}.jpg" for i in range(10)]


def test_7_1_cancel_while_processing_refunds_the_unprocessed(server: ImagesServer) -> None:
    alice = server.user(quota=100)
    ids = alice.upload_ids([(f"p{i}.jpg", big_photo(i)) for i in range(20)])
    job = alice.submit(ids, sharpness=2.0, format="png").json()
    while alice.job(job["id"])["processed"] == 0:
        pass
    cancelled = alice.http.post(f"{API}/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200
    done = alice.finished(job["id"])
    assert done["status"] == "cancelled"
    assert 0 < done["succeeded"] < 20
    assert done["quota"] == {"charged": 20, "refunded": 20 - done["succeeded"]}
    assert alice.balance() == 100 - done["succeeded"]


# §7.3 security acceptance


def test_7_3_quota_is_exact_when_10_submits_race(server: ImagesServer) -> None:
    alice = server.user(quota=15)
    ids = alice.upload_ids(photos(5))
    answers = in_parallel(10, lambda: alice.submit(ids))
    assert Counter(a.status_code for a in answers) == Counter({202: 3, 403: 7})
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 403} == {"quota_insufficient"}
    assert alice.balance() == 0
    for accepted in (a.json() for a in answers if a.status_code == 202):
        assert alice.finished(accepted["id"])["status"] == "succeeded"
    assert alice.balance() == 0


def test_7_3_a_second_refund_of_a_round_refunds_nothing(server: ImagesServer) -> None:
    alice = server.user(quota=100)
    files = [(f"ok_{i}.jpg", jpeg(i)) if i < 2 else (f"bad_{i}.jpg", truncated_jpeg(i)) for i in range(4)]
    job = alice.submit(alice.upload_ids(files)).json()
    assert alice.finished(job["id"])["quota"] == {"charged": 4, "refunded": 2}
    yard = Yard(server.database_url)
    try:
        yard.store.finish_if_done(job["id"])  # the refund, asked for again
    finally:
        yard.close()
    assert alice.job(job["id"])["quota"] == {"charged": 4, "refunded": 2}
    ledger = alice.http.get(f"{API}/me/ledger").json()["entries"]
    assert Counter(e["kind"] for e in ledger if e["job_id"] == job["id"]) == Counter({"charge": 1, "refund": 1})
    assert alice.balance() == 98


def test_7_3_another_users_batch_and_uploads_are_403(server: ImagesServer) -> None:
    alice, bob = server.user(), server.user()
    ids = alice.upload_ids(photos(2))
    job = alice.submit(ids).json()
    alice.finished(job["id"])
    for path in ("", "/items", "/download.zip", "/items/0/output", "/errors.csv", "/artifacts"):
        response = bob.http.get(f"{API}/jobs/{job['id']}{path}", headers={"Accept-Language": "zh-CN"})
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"
    artifact = alice.http.get(f"{API}/jobs/{job['id']}/artifacts").json()[0]
    assert bob.http.get(f"{API}/artifacts/{artifact['id']}").status_code == 403
    assert alice.http.get(f"{API}/artifacts/{artifact['id']}").status_code == 200
    stolen = bob.submit(ids)
    assert stolen.status_code == 403, "an upload by A used in a job by B"
    assert bob.balance() == 100


def test_7_3_a_20mb_image_is_refused_over_the_10mb_limit(server: ImagesServer) -> None:
    alice = server.user()
    big = jpeg(1)[:-2] + b"\0" * 20_000_000 + b"\xff\xd9"
    response = alice.http.post(
        f"{API}/uploads",
        params={"job_type": "images"},
        files=[("files", ("huge.jpg", big, "image/jpeg"))],
        headers={"Accept-Language": "zh-CN"},
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "file_too_large"
    assert "10 MB" in error["message"]
    mixed = alice.upload([("huge.jpg", big), ("small.jpg", jpeg(2))], job_type="images")
    assert mixed.status_code == 201
    assert [u["filename"] for u in mixed.json()["uploads"]] == ["small.jpg"]
    assert mixed.json()["rejected"][0]["code"] == "file_too_large"


# The task card's verification list


def test_card_10_images_all_succeed_and_the_job_succeeds(server: ImagesServer) -> None:
    alice = server.user()
    job = alice.submit(alice.upload_ids(photos(10)), max_side=32, format="png").json()
    assert job["id"] > 0
    assert (job["type"], job["total"]) == ("images", 10)
    done = alice.finished(job["id"])
    assert (done["status"], done["succeeded"], done["failed"]) == ("succeeded", 10, 0)
    items = alice.http.get(f"{API}/jobs/{job['id']}/items").json()["items"]
    assert all(i["output"]["width"] == 32 and i["output"]["content_type"] == "image/png" for i in items)
    one = alice.http.get(f"{API}/jobs/{job['id']}/items/3/output")
    assert one.status_code == 200
    assert Image.open(io.BytesIO(one.content)).size == (32, 24)
    assert "filename*=UTF-8''%E8%BF%9E" in one.headers["content-disposition"], "the Chinese name, encoded"


def test_card_0_images_is_refused(server: ImagesServer) -> None:
    alice = server.user()
    response = alice.submit([])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_items"
    none_uploaded = alice.http.post(f"{API}/uploads", data={"field": "1"}, files={"files": ("", b"")})
    assert none_uploaded.status_code == 422
    elsewhere = alice.http.post(f"{API}/uploads", files={"other": ("x.jpg", jpeg(1))})
    assert elsewhere.status_code == 422
    assert elsewhere.json()["error"]["details"]["rejected"][0]["code"] == "wrong_form_field"


def test_card_51_images_is_refused(server: ImagesServer) -> None:
    alice = server.user()
    ids = alice.upload_ids(photos(50))
    response = alice.submit([*ids, ids[0]])
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["details"]["limit"], error["details"]["count"]) == ("too_many_items", 50, 51)
    assert alice.balance() == 100


def test_card_retry_without_enough_quota_is_refused(server: ImagesServer, tmp_path: Path) -> None:
    alice = server.user(quota=4)
    ids = alice.upload_ids(photos(4))
    moved = hide_blobs(server, ids[1:], tmp_path / "aside")
    job = alice.submit(ids).json()
    assert alice.finished(job["id"])["failed"] == 3
    restore(moved)
    assert alice.balance() == 3
    spend = alice.submit(ids[:1])  # leaves 2: not enough to retry 3
    assert spend.status_code == 202
    alice.finished(spend.json()["id"])
    retried = alice.http.post(f"{API}/jobs/{job['id']}/retry-failed")
    assert retried.status_code == 403
    assert retried.json()["error"]["code"] == "quota_insufficient"
    assert alice.balance() == 2


def test_card_nothing_to_download_is_400(server: ImagesServer) -> None:
    alice = server.user()
    job = alice.submit(alice.upload_ids([("bad.jpg", truncated_jpeg(1))])).json()
    assert alice.finished(job["id"])["status"] == "failed"
    response = alice.http.get(f"{API}/jobs/{job['id']}/download.zip", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "nothing_to_download"
    assert "没有可下载" in response.json()["error"]["message"]


def test_card_two_retries_at_once_charge_once(server: ImagesServer, tmp_path: Path) -> None:
    alice = server.user(quota=100)
    ids = alice.upload_ids(photos(6))
    moved = hide_blobs(server, ids[3:], tmp_path / "aside")
    job = alice.submit(ids).json()
    alice.finished(job["id"])
    restore(moved)
    answers = in_parallel(2, lambda: alice.http.post(f"{API}/jobs/{job['id']}/retry-failed"))
    assert sorted(a.status_code for a in answers) == [200, 409]
    done = alice.finished(job["id"])
    assert (done["succeeded"], done["quota"]) == (6, {"charged": 9, "refunded": 3})
    assert alice.balance() == 94


def test_card_cancel_during_a_retry_keeps_the_quota_exact(server: ImagesServer, tmp_path: Path) -> None:
    alice = server.user(quota=100)
    files = [(f"p{i}.jpg", big_photo(i)) for i in range(12)]
    ids = alice.upload_ids(files)
    moved = hide_blobs(server, ids[2:], tmp_path / "aside")
    job = alice.submit(ids, sharpness=2.0, format="png").json()
    assert alice.finished(job["id"])["succeeded"] == 2
    restore(moved)
    alice.http.post(f"{API}/jobs/{job['id']}/retry-failed").raise_for_status()
    alice.http.post(f"{API}/jobs/{job['id']}/cancel").raise_for_status()
    done = alice.finished(job["id"])
    assert done["status"] == "cancelled"
    assert done["quota"]["charged"] - done["quota"]["refunded"] == done["succeeded"]
    assert alice.balance() == 100 - done["succeeded"]


def test_card_errors_report_lists_the_failed_images_to_fix(server: ImagesServer) -> None:
    alice = server.user()
    files = [("ok.jpg", jpeg(1)), ("=1+2 HYPERLINK.jpg", truncated_jpeg(2))]
    job = alice.submit(alice.upload_ids(files)).json()
    alice.finished(job["id"])
    report = alice.http.get(f"{API}/jobs/{job['id']}/errors.csv", headers={"Accept-Language": "zh-CN"})
    assert report.status_code == 200
    text = report.content.decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert "错误原因" in header
    assert "filename" in header
    assert "'=1+2 HYPERLINK.jpg" in row, "a formula in a file name is neutralised"
    assert "图片不完整或已损坏" in row, "the reason in the caller's language"
    xlsx = alice.http.get(f"{API}/jobs/{job['id']}/errors.xlsx")
    assert xlsx.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(xlsx.content)).testzip() is None
