"""Files in and out of jobs: uploads a user sends, artifacts a job produces. The bytes live in the blob store;
these records say whose they are, what they hold and when they go."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol

# A job's working files (an export's pages before they are joined, a workbook's rows spooled for an import):
# kept with its artifacts, swept with them, but not shown as what the job produced.
WORKING_KINDS = frozenset({"part", "spool"})


@dataclass(frozen=True, slots=True)
class NewUpload:
    owner: str
    filename: str  # as the user named it, made safe (``core.filenames.safe_name``)
    content_type: str  # found by sniffing the bytes, never taken from the request
    size: int
    sha256: str
    blob_key: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Upload:
    id: int
    owner: str
    filename: str
    content_type: str
    size: int
    sha256: str
    blob_key: str
    created_at: datetime
    expires_at: datetime

    def as_item(self) -> dict[str, Any]:
        """The item a job gets for this upload: what its code needs to find and name the file."""
        return {
            "upload_id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True)
class NewArtifact:
    job_id: int
    item_index: int | None  # None: the job's own file (an export, a report), not one item's output
    name: str
    kind: str
    content_type: str
    size: int
    sha256: str
    blob_key: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Artifact:
    id: int
    job_id: int
    item_index: int | None
    name: str
    kind: str
    content_type: str
    size: int
    sha256: str
    blob_key: str
    created_at: datetime
    expires_at: datetime


class JobFiles(Protocol):
    """What a running item may do with files (``ctx.open_upload``, ``ctx.save_output``); the service provides
    it, over the blob store."""

    def open_upload(self, owner: str, upload_id: int) -> BinaryIO:
        """The upload's bytes; ``Forbidden`` when it is not ``owner``'s, ``UploadNotFound`` once it is gone."""

    def read_upload(self, owner: str, upload_id: int, offset: int, length: int) -> bytes:
        """``length`` bytes of the upload from ``offset``, checked as ``open_upload`` checks."""

    def save_output(
        self, job_id: int, item_index: int, name: str, data: bytes | BinaryIO, content_type: str
    ) -> Artifact:
        """Keep ``data`` as the item's output file ``name``, replacing what an earlier run of it saved."""

    def save_file(self, job_id: int, name: str, data: Iterable[bytes], content_type: str, *, kind: str) -> Artifact:
        """Keep a file of the job's own (an export, a workbook's rows spooled for an import), replacing the one of
        the same name an earlier run saved."""

    def open_file(self, job_id: int, name: str) -> BinaryIO:
        """The job's own file ``name``, to read; ``ArtifactNotFound`` when there is none."""

    def read_file(self, job_id: int, name: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the job's own file ``name`` from ``offset``."""

    def list_files(self, job_id: int) -> list[Artifact]:
        """The job's own files (not its items' outputs)."""

    def delete_files(self, job_id: int, names: Iterable[str]) -> None:
        """Delete the job's own files of these names, rows and bytes."""

    def sweep(self) -> int:
        """Delete a batch of expired uploads and artifacts, bytes and rows; how many rows went."""
