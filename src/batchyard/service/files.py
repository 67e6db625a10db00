"""Files in and out of jobs: uploads checked by their content and kept in the blob store, items' outputs saved
as artifacts, both owned, read back and deleted once they expire."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import BinaryIO

from batchyard.blobs import BlobStore
from batchyard.core.filenames import safe_name
from batchyard.core.files import Artifact, NewArtifact, NewUpload, Upload
from batchyard.core.policies import Policies
from batchyard.core.sniff import SNIFF_BYTES, described, sniff
from batchyard.errors import (
    ArtifactNotFound,
    EmptyFile,
    FileTooLarge,
    UnsupportedFileType,
    UploadForbidden,
    UploadNotFound,
)
from batchyard.store.base import Store

log = logging.getLogger("batchyard.files")
READ_SIZE = 1 << 16
SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class FileLimits:
    max_file_bytes: int
    upload_kept: timedelta
    artifacts_kept: timedelta
    max_request_bytes: int = 1 << 30
    max_files: int = 100


class FileService:
    def __init__(self, store: Store, blobs: BlobStore, limits: FileLimits) -> None:
        self.store = store
        self.blobs = blobs
        self.limits = limits

    # uploads
    def upload(
        self,
        owner: str,
        filename: str,
        data: BinaryIO | Iterable[bytes],
        *,
        accepts: Sequence[str] | None = None,
        max_bytes: int | None = None,
    ) -> Upload:
        """Keep one file: its type found from its first bytes (``UnsupportedFileType`` when ``accepts`` does
        not list it), refused when empty or over ``max_bytes`` (the service's cap at most) — nothing is kept
        then."""
        chunks = _chunks(data)
        head, rest = _head(chunks)
        if not head:
            raise EmptyFile()
        found = sniff(head)
        if accepts is not None and found.content_type not in accepts:
            raise UnsupportedFileType(found=found.label, found_zh=found.label_zh, accepted=_labels(accepts))
        cap = min(max_bytes or self.limits.max_file_bytes, self.limits.max_file_bytes)
        key = f"uploads/{secrets.token_hex(16)}"
        stored = self.blobs.put(key, chain([head], rest), max_bytes=cap)
        new = NewUpload(
            owner=owner,
            filename=safe_name(filename, fallback=f"file.{found.extension}"),
            content_type=found.content_type,
            size=stored.size,
            sha256=stored.sha256,
            blob_key=key,
            expires_at=_now() + self.limits.upload_kept,
        )
        try:
            return self.store.add_upload(new)
        except BaseException:
            self.blobs.delete(key)
            raise

    def discard(self, uploads: Sequence[Upload]) -> None:
        """Forget uploads no one will use (their request failed after they were kept): rows, then bytes. No job
        can read them yet: their ids were never sent."""
        if uploads:
            ids, never = [u.id for u in uploads], _now() + timedelta(days=36500)
            for key in self.store.delete_uploads(ids, never, after_finish=self.limits.artifacts_kept):
                self._delete_blob(key)

    def uploads_for(
        self, owner: str, upload_ids: Sequence[int], accepts: Sequence[str] | None, max_bytes: int | None = None
    ) -> list[Upload]:
        """The uploads a job of ``owner``'s will read, in the order given: each must exist and not have expired,
        be theirs (an admin's too: a job reads files as its owner), be of a type the job accepts and within
        its size. The job's creation checks and holds them again, in its own transaction."""
        found = {u.id: u for u in self.store.get_uploads(upload_ids)}
        now = _now()
        for upload_id in upload_ids:
            _check_usable(found.get(upload_id), upload_id, owner, now)
        chosen = [found[upload_id] for upload_id in upload_ids]
        for upload in chosen:
            if accepts is not None and upload.content_type not in accepts:
                kind = described(upload.content_type)
                raise UnsupportedFileType(found=kind.label, found_zh=kind.label_zh, accepted=_labels(accepts))
            if max_bytes is not None and upload.size > max_bytes:
                raise FileTooLarge(limit_mb=max_bytes / 1_000_000, upload_id=upload.id)
        return chosen

    def max_file_bytes(self, policies: Policies | None = None) -> int:
        """The largest file kept: this server's cap, or a job type's tighter one (``max_file_mb``)."""
        cap = self.limits.max_file_bytes
        if policies is not None and policies.max_file_mb is not None:
            cap = min(cap, int(policies.max_file_mb * 1_000_000))
        return cap

    def kept_until(self) -> datetime:
        """How long the uploads of a job submitted now are kept at least."""
        return _now() + self.limits.artifacts_kept

    def open_upload(self, owner: str, upload_id: int) -> BinaryIO:
        return self.blobs.open(self._owned_upload(owner, upload_id).blob_key)

    def read_upload(self, owner: str, upload_id: int, offset: int, length: int) -> bytes:
        return self.blobs.read_range(self._owned_upload(owner, upload_id).blob_key, offset, length)

    def _owned_upload(self, owner: str, upload_id: int) -> Upload:
        found = self.store.get_uploads([upload_id])
        if not found:
            raise UploadNotFound(upload_id=upload_id)
        if found[0].owner != owner:
            raise UploadForbidden(upload_id=upload_id)
        return found[0]

    # artifacts
    def save_output(
        self, job_id: int, item_index: int, name: str, data: bytes | BinaryIO, content_type: str
    ) -> Artifact:
        return self.save_artifact(job_id, name, data, content_type, kind="output", item_index=item_index)

    def save_artifact(
        self,
        job_id: int,
        name: str,
        data: bytes | BinaryIO | Iterable[bytes],
        content_type: str,
        *,
        kind: str,
        item_index: int | None = None,
    ) -> Artifact:
        """Keep a file of the job's under ``jobs/{id}/``; an item's output replaces the one an earlier run of
        the item saved, whose bytes are deleted."""
        name = safe_name(name)
        where = f"{_outputs(job_id)}{item_index}" if item_index is not None else f"jobs/{job_id}/files"
        key = f"{where}/{secrets.token_hex(8)}"
        stored = self.blobs.put(key, _chunks(data))
        new = NewArtifact(
            job_id=job_id,
            item_index=item_index,
            name=name,
            kind=kind,
            content_type=content_type,
            size=stored.size,
            sha256=stored.sha256,
            blob_key=key,
            expires_at=_now() + self.limits.artifacts_kept,
        )
        try:
            artifact, replaced = self.store.put_artifact(new)
        except BaseException:
            self.blobs.delete(key)
            raise
        if replaced is not None:
            self._delete_blob(replaced)
        return artifact

    def save_file(self, job_id: int, name: str, data: Iterable[bytes], content_type: str, *, kind: str) -> Artifact:
        return self.save_artifact(job_id, name, data, content_type, kind=kind)

    def open_file(self, job_id: int, name: str) -> BinaryIO:
        return self.blobs.open(self._job_file(job_id, name).blob_key)

    def read_file(self, job_id: int, name: str, offset: int, length: int) -> bytes:
        return self.blobs.read_range(self._job_file(job_id, name).blob_key, offset, length)

    def list_files(self, job_id: int) -> list[Artifact]:
        return [a for a in self.store.artifacts(job_id) if a.item_index is None]

    def delete_files(self, job_id: int, names: Iterable[str]) -> None:
        wanted = {safe_name(n) for n in names}
        ids = [a.id for a in self.list_files(job_id) if a.name in wanted]
        if ids:
            for key in self.store.delete_artifacts(ids, datetime.max.replace(tzinfo=UTC)):
                self._delete_blob(key)

    def _job_file(self, job_id: int, name: str) -> Artifact:
        wanted = safe_name(name)
        for artifact in self.store.artifacts(job_id):
            if artifact.item_index is None and artifact.name == wanted:
                return artifact
        raise ArtifactNotFound(artifact_id=f"{job_id}/{wanted}")

    def stored_outputs(self, job_id: int) -> set[str]:
        """The blob keys of the job's item outputs that are in the blob store: one listing."""
        return set(self.blobs.keys(_outputs(job_id)))

    def artifact(self, artifact_id: int) -> Artifact:
        found = self.store.get_artifact(artifact_id)
        if found is None:
            raise ArtifactNotFound(artifact_id=artifact_id)
        return found

    def read(self, blob_key: str) -> Iterator[bytes]:
        """The stored bytes in pieces; opened now, so that a missing file is an error before any byte is sent."""
        return _pieces(self.blobs.open(blob_key))

    # expiry
    def sweep(self) -> int:
        """Delete a batch of expired uploads and artifacts: rows first, then the bytes of the rows deleted, so
        that no row (and no job) is ever left pointing at deleted bytes. A crash in between leaves bytes nothing
        points at: storage, not data, is lost."""
        now, after_finish = _now(), self.limits.artifacts_kept
        keys: list[str] = []
        if uploads := self.store.expired_uploads(now, SWEEP_BATCH, after_finish=after_finish):
            keys += self.store.delete_uploads([u.id for u in uploads], now, after_finish=after_finish)
        if artifacts := self.store.expired_artifacts(now, SWEEP_BATCH):
            keys += self.store.delete_artifacts([a.id for a in artifacts], now)
        for key in keys:
            self._delete_blob(key)
        return len(keys)

    def _delete_blob(self, key: str) -> None:
        try:
            self.blobs.delete(key)
        except Exception:
            log.warning("deleting stored file %s failed", key, exc_info=True)


def _check_usable(upload: Upload | None, upload_id: int, owner: str, now: datetime) -> None:
    if upload is None or upload.expires_at <= now:  # expired: the sweep may be deleting it now
        raise UploadNotFound(upload_id=upload_id)
    if upload.owner != owner:
        raise UploadForbidden(upload_id=upload_id)


def _outputs(job_id: int) -> str:
    """Where a job's item outputs are kept: ``jobs/{id}/items/{index}/{token}``."""
    return f"jobs/{job_id}/items/"


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(data: bytes | BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    """Bytes, a binary file or an iterable of bytes, as pieces (a file is read, never iterated by lines)."""
    if isinstance(data, bytes | bytearray):
        return iter([bytes(data)])
    read = getattr(data, "read", None)
    if callable(read):
        return iter(lambda: read(READ_SIZE), b"")
    return iter(data)


def _pieces(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        yield from iter(lambda: handle.read(READ_SIZE), b"")


def _head(chunks: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first ``SNIFF_BYTES`` (or all, if fewer) and the rest of the stream."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    return head, chunks


def _labels(accepts: Sequence[str]) -> str:
    return ", ".join(sniff_label(t) for t in accepts)


def sniff_label(content_type: str) -> str:
    """A content type as people name it (``image/jpeg`` → JPEG)."""
    return content_type.rpartition("/")[2].upper()
