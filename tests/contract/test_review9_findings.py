"""Defects a review of the files change found, each reproduced first, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import update

from batchyard import Context, Yard
from batchyard.errors import BlobNotFound, FileTooLarge, UploadNotFound
from batchyard.store.sql.tables import jobs, uploads


def _png(side: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), "red").save(out, "PNG")
    return out.getvalue()


def _expire(yard: Yard, upload_id: int) -> None:
    """As if the upload's time had run out (the sweep has not come by yet)."""
    with yard.store.db.write() as conn:  # type: ignore[attr-defined]
        past = datetime.now(UTC) - timedelta(seconds=1)
        conn.execute(update(uploads).where(uploads.c.id == upload_id).values(expires_at=past))


def _finished_long_ago(yard: Yard, job_id: int) -> None:
    with yard.store.db.write() as conn:  # type: ignore[attr-defined]
        long_ago = datetime.now(UTC) - timedelta(days=30)
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(finished_at=long_ago))


# 2
def test_a_job_types_file_cap_holds_for_uploads_made_without_naming_it(yard: Yard) -> None:
    upload = yard.upload(io.BytesIO(_png() + b"\0" * 11_000_000), owner="alice", filename="big.png")
    with pytest.raises(FileTooLarge):
        yard.submit("images", owner="alice", upload_ids=[upload.id])


# 3
def test_an_expired_upload_not_swept_yet_cannot_be_used(yard: Yard) -> None:
    upload = yard.upload(io.BytesIO(_png()), owner="alice", filename="a.png")
    _expire(yard, upload.id)
    with pytest.raises(UploadNotFound):
        yard.submit("images", owner="alice", upload_ids=[upload.id])


# 3, the sweep's side: a submit racing the sweep is refused, never left with a job reading deleted bytes
def test_a_submit_racing_the_sweep_of_its_upload_is_refused_whole(yard: Yard) -> None:
    upload = yard.upload(io.BytesIO(_png()), owner="alice", filename="a.png")
    _expire(yard, upload.id)
    real_delete = yard.store.delete_uploads
    refused: list[BaseException] = []

    def a_submit_comes_in_between(ids, now, **kwargs):  # type: ignore[no-untyped-def]
        try:
            yard.submit("images", owner="alice", upload_ids=[upload.id])
        except UploadNotFound as exc:
            refused.append(exc)
        return real_delete(ids, now, **kwargs)

    yard.store.delete_uploads = a_submit_comes_in_between  # type: ignore[method-assign]
    try:
        assert yard.files.sweep() == 1
    finally:
        yard.store.delete_uploads = real_delete  # type: ignore[method-assign]
    assert len(refused) == 1
    assert yard.store.list_jobs(owner="alice") == [], "no job, and nothing charged"


# 4
def test_uploads_of_a_job_not_finished_are_not_swept(yard: Yard) -> None:
    upload = yard.upload(io.BytesIO(_png()), owner="alice", filename="a.png")
    job = yard.submit("images", owner="alice", upload_ids=[upload.id])
    yard.pause(job.id)
    _expire(yard, upload.id)
    assert yard.files.sweep() == 0, "a paused job still needs its files"
    yard.resume(job.id)
    assert yard.run_until_done(job.id, timeout=30).status == "succeeded"
    _expire(yard, upload.id)
    assert yard.files.sweep() == 0, "kept for a retry as long as the job's files"
    _finished_long_ago(yard, job.id)
    assert yard.files.sweep() == 1, "then it goes"


# 5
def test_two_saves_of_one_items_output_at_once_leave_one_artifact_and_no_error(yard: Yard) -> None:
    job = yard.submit("images", owner="alice", upload_ids=[yard.upload(io.BytesIO(_png()), owner="alice").id])
    errors: list[BaseException] = []
    start = threading.Barrier(2)
    for i in range(20):  # half of them saved once already: the racing saves replace a row
        yard.files.save_output(job.id, i, "out.png", b"first", "image/png")

    def save(tag: bytes) -> None:
        for i in range(40):
            start.wait()  # both at the same item at the same moment
            try:
                yard.files.save_output(job.id, i, "out.png", tag, "image/png")
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=save, args=(tag,)) for tag in (b"a", b"b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    outputs = yard.artifacts(job.id)
    assert sorted(a.item_index for a in outputs) == list(range(40))
    root = Path(yard.settings.resolved_blob_url)
    on_disk = sorted(p.relative_to(root).as_posix() for p in (root / "jobs").rglob("*") if p.is_file())
    assert on_disk == sorted(a.blob_key for a in outputs), "replaced bytes are deleted"


# 12
def test_an_output_saved_before_its_item_failed_is_not_served_as_its_output(yard: Yard) -> None:
    def saves_then_fails(item: int, ctx: Context) -> int:
        ctx.save_output(f"out_{item}.txt", b"half done", "text/plain")
        if item == 0:
            raise ValueError("failed after saving")
        return item

    yard.job("saves_then_fails", chunk_size=1, max_attempts=1)(saves_then_fails)
    job = yard.submit("saves_then_fails", owner="alice", items=[0, 1])
    yard.run_until_done(job.id, timeout=30)
    from batchyard.service.downloads import Downloads

    downloads = Downloads(yard.store, yard.files)
    with pytest.raises(Exception, match="no output file") as found:
        downloads.item_output(yard.get(job.id), 0)
    assert found.value.__class__.__name__ == "NoItemOutput"
    assert downloads.item_output(yard.get(job.id), 1).name == "out_1.txt"


# 6
def test_a_zip_whose_file_is_missing_fails_before_its_first_byte(yard: Yard) -> None:
    yard.job("saves", chunk_size=1)(lambda item, ctx: ctx.save_output(f"{item}.txt", b"x", "text/plain").id)
    job = yard.submit("saves", owner="alice", items=[0, 1])
    yard.run_until_done(job.id, timeout=30)
    second = yard.artifacts(job.id)[1]
    yard.blobs.delete(second.blob_key)
    from batchyard.service.downloads import Downloads

    with pytest.raises(BlobNotFound):
        Downloads(yard.store, yard.files).archive(yard.get(job.id))


# 15
def test_a_missing_files_message_does_not_show_where_it_was_kept() -> None:
    missing = BlobNotFound(key="uploads/0123456789abcdef")
    assert "uploads/" not in missing.message()
    assert "uploads/" not in missing.message("zh-CN")


# second review, C1: a job's uploads are checked and tied to it in the transaction that creates it
def test_idempotent_repeats_of_a_submit_with_uploads_all_get_the_one_job(yard: Yard) -> None:
    ids = [yard.upload(io.BytesIO(_png()), owner="alice", filename=f"{i}.png").id for i in range(3)]
    start = threading.Barrier(4)
    answers: list[object] = []

    def submit() -> None:
        start.wait()
        try:
            answers.append(yard.submit("images", owner="alice", upload_ids=ids, idempotency_key="once").id)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            answers.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(answers)) == 1, answers
    assert all(isinstance(a, int) for a in answers), answers


# second review, C3: an output saved again after the sweep listed it is not deleted
def test_the_sweep_spares_an_output_saved_again_after_it_looked(yard: Yard) -> None:
    from batchyard.service.files import FileService

    job = yard.submit("images", owner="alice", upload_ids=[yard.upload(io.BytesIO(_png()), owner="alice").id])
    expiring = FileService(yard.store, yard.blobs, replace(yard.files.limits, artifacts_kept=timedelta(seconds=-1)))
    expiring.save_output(job.id, 0, "out.png", b"old", "image/png")
    real_delete = yard.store.delete_artifacts

    def saved_again_in_between(ids, now):  # type: ignore[no-untyped-def]
        yard.files.save_output(job.id, 0, "out.png", b"new", "image/png")
        return real_delete(ids, now)

    yard.store.delete_artifacts = saved_again_in_between  # type: ignore[method-assign]
    try:
        expiring.sweep()
    finally:
        yard.store.delete_artifacts = real_delete  # type: ignore[method-assign]
    [kept] = yard.artifacts(job.id)
    with yard.open_artifact(kept.id) as opened:
        assert opened.read() == b"new"


# second review, C4: a retry after the uploads were swept is refused before any charge
def test_a_retry_whose_uploads_are_gone_is_refused_before_charging(yard: Yard) -> None:
    from tests.support.hostile_images import truncated_jpeg

    from batchyard.errors import UploadsGone

    good = yard.upload(io.BytesIO(_png()), owner="alice", filename="good.png")
    bad = yard.upload(io.BytesIO(truncated_jpeg()), owner="alice", filename="bad.jpg")
    job = yard.submit("images", owner="alice", upload_ids=[good.id, bad.id])
    assert yard.run_until_done(job.id, timeout=30).failed == 1
    assert yard.files.sweep() == 0, "a job finished just now keeps its uploads"
    _finished_long_ago(yard, job.id)
    _expire(yard, good.id)
    _expire(yard, bad.id)
    assert yard.files.sweep() == 2
    with pytest.raises(UploadsGone):
        yard.retry_failed(job.id)
    assert yard.get(job.id).status == "partially_succeeded"


# second review, S1: an item failed by the file storage does not show its endpoint, bucket or keys
def test_an_item_failed_by_the_file_storage_keeps_its_details_out_of_the_reason() -> None:
    from batchyard.engine.runner import describe, describe_zh
    from batchyard.errors import BlobStorageError

    failure = BlobStorageError(reason='Could not connect to "http://10.0.0.5/private-bucket/uploads/0123abcd"')
    assert "private-bucket" not in describe(failure)
    assert "private-bucket" not in (describe_zh(failure) or "")
    assert describe(failure).startswith("BlobStorageError: The file storage failed")
