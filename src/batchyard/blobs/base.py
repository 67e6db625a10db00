"""The BlobStore protocol, and what every store shares: key rules, and counting and hashing a stream as it
passes, with a size limit enforced on the way in rather than after the file has landed."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO, Protocol

from batchyard.errors import FileTooLarge, InvalidBlobKey

MAX_KEY_LENGTH = 512
MAX_SEGMENT_BYTES = 255  # the longest file name most file systems take
READ_SIZE = 1 << 20  # what is read at a time from a file object handed to ``put``


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """What a ``put`` stored: its key, its length in bytes and the sha256 of its content (hex)."""

    key: str
    size: int
    sha256: str


class BlobStore(Protocol):
    """Files kept by key, streamed in and out, never held whole in memory.

    Keys are relative POSIX-style paths our own code builds from ids (``uploads/alice/5f3a…``,
    ``jobs/12/items/3/out.jpg``); a file name from a user never becomes a key.
    """

    def put(self, key: str, chunks: Iterable[bytes] | BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        """Store the stream under ``key``, replacing any blob there at once (a reader never sees half a file).
        More than ``max_bytes`` raises FileTooLarge and leaves nothing behind."""

    def open(self, key: str) -> BinaryIO:
        """A binary file object that reads the blob as a stream; close it when done."""

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the blob from ``offset`` (fewer at its end): a chunk's part of a big file, read
        without reading what comes before it."""

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The blob's content in pieces of at most ``chunk_size`` bytes (BlobNotFound is raised at the call)."""

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the blob; a missing one is not an error."""

    def keys(self, prefix: str) -> Iterator[str]:
        """The keys of every blob under the directory ``prefix`` (as ``delete_prefix`` reads it), in no order:
        one listing instead of a look per blob (on S3, a page of 1,000 per request)."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every blob under the directory ``prefix`` (``jobs/1/``; the slash is added when missing, so
        ``jobs/1`` never touches ``jobs/10/``) and return how many there were."""

    def close(self) -> None: ...


def check_key(key: str) -> str:
    """Refuse a key that could leave the store, alias another key or trip a backend; return it unchanged."""
    reason = _key_problem(key)
    if reason:
        raise InvalidBlobKey(key=key[:100], reason=reason)
    return key


def directory_prefix(prefix: str) -> str:
    """The prefix as a checked directory ending in one slash: ``jobs/1`` and ``jobs/1/`` both give ``jobs/1/``."""
    return check_key(prefix.removesuffix("/")) + "/"


def _key_problem(key: str) -> str | None:
    if not key:
        return "it is empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"it is longer than {MAX_KEY_LENGTH} characters"
    if "\\" in key:
        return "it contains a backslash"
    if any(unicodedata.category(c) == "Cc" for c in key):
        return "it contains a control character"
    if key.startswith("/"):
        return "it starts with a slash"
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        return "it has an empty, '.' or '..' segment"
    if any(len(segment.encode()) > MAX_SEGMENT_BYTES for segment in key.split("/")):
        return f"a part of it is longer than {MAX_SEGMENT_BYTES} bytes"
    return None


class Tally:
    """Counts and hashes the bytes that pass, and stops the stream once it grows past ``max_bytes``."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.size = 0
        self._max_bytes = max_bytes
        self._sha256 = hashlib.sha256()

    def count(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass the chunks through, skipping empty ones; FileTooLarge as soon as the limit is crossed."""
        for chunk in chunks:
            if chunk:
                self._add(chunk)
                yield chunk

    def stored(self, key: str) -> StoredBlob:
        return StoredBlob(key=key, size=self.size, sha256=self._sha256.hexdigest())

    def _add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._max_bytes is not None and self.size > self._max_bytes:
            raise FileTooLarge(limit_mb=self._max_bytes / 1_000_000)
        self._sha256.update(chunk)


def chunks_of(source: Iterable[bytes] | BinaryIO) -> Iterable[bytes]:
    """Read a file object in pieces: iterating a binary file would yield lines, and a file without newlines
    would then be one line held whole in memory."""
    read = getattr(source, "read", None)
    if callable(read):
        return iter(partial(read, READ_SIZE), b"")
    return source


def read_chunks(file: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """Yield the file's content in pieces, closing it at the end or when the consumer stops early."""
    with file:
        while chunk := file.read(chunk_size):
            yield chunk
