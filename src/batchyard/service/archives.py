"""A ZIP of many files, streamed: each byte is sent as soon as it is made, and each file is opened only when
its turn comes, so a 10 GB download costs the server a few hundred kilobytes and one open blob at a time.

Names must already be safe and unique (``core.filenames``); they are stored as UTF-8 with the language
encoding flag set, so ``连衣裙.jpg`` unpacks as ``连衣裙.jpg`` on Windows, macOS and Linux.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from stream_zip import ZIP_AUTO, MemberFile, Method, stream_zip

FILE_MODE = stat.S_IFREG | 0o644
PIECE_BYTES = 64 * 1024

# stream-zip can only *store* a file uncompressed when the whole file is buffered or its CRC-32 is known
# before it is read, so every entry is deflated. Level 0 writes stored deflate blocks: for JPEG and PNG,
# already compressed, that costs 5 bytes per 64 KiB and next to no CPU, where level 9 burns CPU for nothing.
_STORE_LEVEL = 0
_COMPRESS_LEVEL = 6  # zlib's default: nearly level 9's ratio at a fraction of its time
# ZIP_AUTO picks ZIP_64 for a size beyond what ZIP_32 can hold once deflated; an unknown size might be that.
_UNKNOWN_SIZE = 2**32


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """One file of an archive. ``chunks`` is called only when the entry is written, so an archive of 50 blobs
    has one blob open at a time; ``compress`` is for text and data, not for images that are compressed."""

    name: str
    chunks: Callable[[], Iterable[bytes]]
    modified: datetime
    size: int | None = None
    compress: bool = False


def zip_stream(entries: Iterable[ZipEntry]) -> Iterator[bytes]:
    """The archive of ``entries`` in pieces of about 64 KiB, made while it is read: never whole in memory."""
    yield from stream_zip(_member_files(entries), chunk_size=PIECE_BYTES)


def _member_files(entries: Iterable[ZipEntry]) -> Iterator[MemberFile]:
    for entry in entries:
        yield entry.name, entry.modified, FILE_MODE, _method(entry), _opened_when_read(entry.chunks)


def _method(entry: ZipEntry) -> Method:
    """ZIP_32 when the file is known to fit (more tools read it), ZIP_64 otherwise; ZIP_AUTO also moves to
    ZIP_64 when the archive itself passes 4 GiB."""
    size = _UNKNOWN_SIZE if entry.size is None else entry.size
    return ZIP_AUTO(size, level=_COMPRESS_LEVEL if entry.compress else _STORE_LEVEL)


def _opened_when_read(chunks: Callable[[], Iterable[bytes]]) -> Iterator[bytes]:
    yield from chunks()
