"""Blobs as files under one directory: the embedded default (``./.batchyard/blobs``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from batchyard.blobs.base import StoredBlob, Tally, check_key, chunks_of, directory_prefix, read_chunks
from batchyard.errors import BlobNotFound, BlobStorageError, InvalidBlobKey

# Half-written files sit next to their target (so the rename stays on one file system) under names no key
# of ours takes: our keys are built from ids, never from a leading "~".
_TEMP_PREFIX = ".~part-"
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalBlobStore:
    """A BlobStore on the local file system: a put is written to a temporary file, synced, then renamed
    over the target, so readers see the old file or the new one and never a part of either."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()

    def put(self, key: str, chunks: Iterable[bytes] | BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        """Stream into a temporary file and rename it into place; on any failure the temporary file goes."""
        target = self._path(key)
        tally = Tally(max_bytes)
        with _os_errors(key):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=target.parent, prefix=_TEMP_PREFIX)
        try:
            _write(fd, tally.count(chunks_of(chunks)), key)
            with _os_errors(key):
                os.replace(temp, target)
                _sync_directory(target.parent)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return tally.stored(key)

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return path.open("rb")
        except _MISSING:
            raise BlobNotFound(key=key) from None

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        with self.open(key) as file, _os_errors(key):
            file.seek(offset)
            return file.read(max(length, 0))

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Opened here, read lazily: a missing blob is reported at the call, not at the first ``next``."""
        return read_chunks(self.open(key), chunk_size)

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise BlobNotFound(key=key)
        return path.stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        with _os_errors(key), suppress(*_MISSING):
            path.unlink()

    def keys(self, prefix: str) -> Iterator[str]:
        directory = self._path(directory_prefix(prefix).removesuffix("/"))
        if not directory.is_dir():
            return
        with _os_errors(prefix):
            for folder, _, names in os.walk(directory):
                for name in names:
                    if not name.startswith(_TEMP_PREFIX):
                        yield (Path(folder) / name).relative_to(self.root).as_posix()

    def delete_prefix(self, prefix: str) -> int:
        """Remove the prefix's directory tree; the count leaves out half-written files of puts in flight."""
        directory = self._path(directory_prefix(prefix).removesuffix("/"))
        if not directory.is_dir():
            return 0
        with _os_errors(prefix):
            count = _count_blobs(directory)
            shutil.rmtree(directory)
        return count

    def close(self) -> None:
        """Nothing is held open between calls."""

    def _path(self, key: str) -> Path:
        """The key's path, refused when a symbolic link on the way leads out of the root."""
        path = self.root.joinpath(*check_key(key).split("/"))
        if not path.resolve().is_relative_to(self.root):
            raise InvalidBlobKey(key=key, reason="a symbolic link leads it out of the blob store")
        return path


def _write(fd: int, chunks: Iterable[bytes], key: str) -> None:
    """Write and fsync before the rename: after a crash the new name must not point at missing data. Only the
    file's own failures become BlobStorageError; the source's errors (a client that went away) pass unchanged."""
    with os.fdopen(fd, "wb") as file:
        for chunk in chunks:
            with _os_errors(key):
                file.write(chunk)
        with _os_errors(key):
            file.flush()
            os.fsync(file.fileno())


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _count_blobs(directory: Path) -> int:
    return sum(1 for _, _, files in os.walk(directory) for name in files if not name.startswith(_TEMP_PREFIX))


@contextmanager
def _os_errors(key: str) -> Iterator[None]:
    """A full disk or a blob where a directory should be is a storage failure, reported without the path."""
    try:
        yield
    except OSError as exc:
        raise BlobStorageError(reason=f"the blob store failed on {key!r}: {exc.strerror or exc}") from exc
