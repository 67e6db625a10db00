"""Uploads and artifacts over the real store and the local blob store, on SQLite and PostgreSQL: kept with their
hash and sniffed type, refused whole, owned, replaced without leftovers, and swept once expired."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from batchyard import Yard
from batchyard.errors import EmptyFile, FileTooLarge, Forbidden, UnsupportedFileType, UploadNotFound
from batchyard.service.files import FileService


def _png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, "PNG")
    return out.getvalue()


def _blob_files(yard: Yard) -> list[Path]:
    root = Path(yard.settings.resolved_blob_url)
    return sorted(p for p in root.rglob("*") if p.is_file())


def _expiring(yard: Yard, *, uploads: timedelta | None = None, artifacts: timedelta | None = None) -> FileService:
    files = yard.files
    limits = replace(
        files.limits,
        upload_kept=uploads if uploads is not None else files.limits.upload_kept,
        artifacts_kept=artifacts if artifacts is not None else files.limits.artifacts_kept,
    )
    return FileService(yard.store, yard.blobs, limits)


def test_an_upload_is_kept_with_its_hash_and_the_type_its_bytes_say(yard: Yard, tmp_path: Path) -> None:
    path = tmp_path / "../产品图.jpg"
    path.write_bytes(_png())
    upload = yard.upload(path, owner="alice")
    assert (upload.owner, upload.filename, upload.content_type) == ("alice", "产品图.jpg", "image/png")
    assert (upload.size, upload.sha256) == (len(_png()), hashlib.sha256(_png()).hexdigest())
    with yard.files.open_upload("alice", upload.id) as stored:
        assert stored.read() == _png()


def test_a_refused_upload_leaves_nothing_behind(yard: Yard) -> None:
    files = yard.files
    with pytest.raises(EmptyFile):
        files.upload("alice", "empty.png", b"")
    with pytest.raises(UnsupportedFileType) as refused:
        files.upload("alice", "page.png", b"<html><body>hi</body></html>", accepts=("image/png",))
    assert "HTML" in refused.value.message()
    assert "HTML" in refused.value.message("zh-CN")
    with pytest.raises(FileTooLarge):
        files.upload("alice", "big.png", _png() + b"\0" * 2000, max_bytes=1000)
    assert _blob_files(yard) == []
    assert yard.store.expired_uploads(datetime.now(UTC) + timedelta(days=3650), 100, after_finish=timedelta(0)) == [], (
        "no upload row"
    )


def test_another_owners_upload_cannot_be_read_or_used(yard: Yard) -> None:
    upload = yard.upload(io.BytesIO(_png()), owner="alice", filename="a.png")
    with pytest.raises(Forbidden):
        yard.files.open_upload("bob", upload.id)
    with pytest.raises(Forbidden):
        yard.submit("images", owner="bob", upload_ids=[upload.id])
    with pytest.raises(UploadNotFound):
        yard.submit("images", owner="alice", upload_ids=[upload.id, 987654])


def test_items_that_name_another_owners_upload_fail_instead_of_reading_it(yard: Yard) -> None:
    upload = yard.upload(io.BytesIO(_png()), owner="alice", filename="a.png")
    job = yard.submit("images", owner="bob", items=[{"upload_id": upload.id, "filename": "a.png"}])
    done = yard.run_until_done(job.id, timeout=30)
    assert (done.status, done.failed) == ("failed", 1)
    [item] = yard.items(job.id)
    assert "Forbidden" in (item.error or "")
    assert yard.artifacts(job.id) == []


def test_an_items_output_run_again_replaces_the_first_and_its_bytes(yard: Yard) -> None:
    job = yard.submit("images", owner="alice", upload_ids=[yard.upload(io.BytesIO(_png()), owner="alice").id])
    first = yard.files.save_output(job.id, 0, "out.png", b"first", "image/png")
    second = yard.files.save_output(job.id, 0, "out.png", b"second", "image/png")
    assert [a.id for a in yard.artifacts(job.id)] == [first.id]
    assert second.id == first.id
    assert second.blob_key != first.blob_key
    with yard.open_artifact(first.id) as opened:
        assert opened.read() == b"second"
    assert not (Path(yard.settings.resolved_blob_url) / first.blob_key).exists(), "the first bytes are deleted"


def test_the_sweep_deletes_expired_uploads_and_artifacts_with_their_bytes(yard: Yard) -> None:
    gone = _expiring(yard, uploads=timedelta(seconds=-1), artifacts=timedelta(seconds=-1))
    kept = yard.files
    stale = gone.upload("alice", "old.png", _png("red"))
    fresh = kept.upload("alice", "new.png", _png("blue"))
    used = kept.upload("alice", "used.png", _png("green"))
    job = yard.submit("images", owner="alice", upload_ids=[used.id])  # a job keeps what it reads
    old_output = gone.save_output(job.id, 0, "old.png", b"x", "image/png")
    new_output = kept.save_artifact(job.id, "report.json", b"{}", "application/json", kind="report")
    assert gone.sweep() == 2
    assert {u.id for u in yard.store.get_uploads([stale.id, fresh.id, used.id])} == {fresh.id, used.id}
    assert [a.id for a in yard.artifacts(job.id)] == [new_output.id]
    on_disk = {p.relative_to(yard.settings.resolved_blob_url).as_posix() for p in _blob_files(yard)}
    assert stale.blob_key not in on_disk
    assert old_output.blob_key not in on_disk
    assert {fresh.blob_key, used.blob_key, new_output.blob_key} <= on_disk
    assert gone.sweep() == 0


def test_a_worker_sweeps_expired_files_as_it_reaps(yard: Yard) -> None:
    gone = _expiring(yard, uploads=timedelta(seconds=-1))
    stale = gone.upload("alice", "old.png", _png())
    worker = yard.worker()
    worker.files = gone
    worker._reap_now_and_then()
    assert yard.store.get_uploads([stale.id]) == []
    assert _blob_files(yard) == []
