"""Streamed ZIPs: read back by the standard library exactly, with UTF-8 names, made lazily in little memory."""

from __future__ import annotations

import io
import random
import stat
import tracemalloc
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from batchyard.service.archives import ZipEntry, zip_stream

MODIFIED = datetime(2026, 11, 30, 8, 15, 42, tzinfo=UTC)
MiB = 1024 * 1024
ZIP64_EXTRA = b"\x01\x00"


def _entry(name: str, data: bytes, *, size: int | None = None, compress: bool = False) -> ZipEntry:
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 4096):
            yield data[start : start + 4096]

    return ZipEntry(name, chunks, MODIFIED, size=size, compress=compress)


def _read(entries: Iterable[ZipEntry]) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(zip_stream(entries))))


def test_chinese_names_round_trip_with_the_utf8_flag() -> None:
    names = ["连衣裙 白色.jpg", "商品/图片.png", "naïve café.txt"]
    archive = _read(_entry(name, name.encode()) for name in names)
    assert archive.namelist() == names
    for info in archive.infolist():
        assert info.flag_bits & 0x800, info.filename
        assert archive.read(info) == info.filename.encode()


def test_two_hundred_generated_entries_read_back_exactly() -> None:
    rng = random.Random(7)
    contents = {f"item-{i:03}.bin": rng.randbytes(rng.randrange(0, 20_000)) for i in range(200)}
    entries = [
        _entry(name, data, size=len(data) if i % 2 else None, compress=i % 3 == 0)
        for i, (name, data) in enumerate(contents.items())
    ]
    archive = _read(entries)
    assert archive.testzip() is None
    assert archive.namelist() == list(contents)
    assert {name: archive.read(name) for name in archive.namelist()} == contents


def test_entries_are_regular_files_readable_by_all_with_their_time() -> None:
    info = _read([_entry("a.txt", b"a")]).infolist()[0]
    assert info.external_attr >> 16 == stat.S_IFREG | 0o644
    assert info.date_time == (2026, 11, 30, 8, 15, 42)


def test_an_entry_of_unknown_size_is_zip64_and_a_known_small_one_is_not() -> None:
    unknown, known = _read([_entry("unknown.bin", b"x" * 10), _entry("known.bin", b"x" * 10, size=10)]).infolist()
    assert ZIP64_EXTRA in unknown.extra[:2]
    assert ZIP64_EXTRA not in known.extra[:2]


def test_compress_shrinks_data_and_images_are_stored_as_they_are() -> None:
    text = b"the same line again\n" * 50_000
    compressed, stored = _read([_entry("data.csv", text, compress=True), _entry("photo.jpg", text)]).infolist()
    assert compressed.compress_size < compressed.file_size // 50
    assert stored.file_size <= stored.compress_size < stored.file_size * 1.01


def test_an_empty_archive_and_an_empty_entry_are_valid() -> None:
    assert _read([]).namelist() == []
    assert _read([_entry("empty.txt", b"", size=0)]).read("empty.txt") == b""


def test_an_entry_is_opened_only_when_the_one_before_it_is_written() -> None:
    calls: list[str] = []

    def opened(name: str, data: bytes) -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            calls.append(f"open {name}")
            return sent(name, data)

        return chunks

    def sent(name: str, data: bytes) -> Iterator[bytes]:
        yield data
        calls.append(f"end {name}")

    data = random.Random(1).randbytes(300_000)  # incompressible: several pieces while the entry is open
    entries = [ZipEntry(name, opened(name, data), MODIFIED) for name in ("1", "2", "3")]
    seen_after_each_piece = [tuple(calls) for _ in zip_stream(entries)]
    assert seen_after_each_piece[0] == ()  # the first header goes out before any file is opened
    assert ("open 1",) in seen_after_each_piece  # entry 1 is sent while it is the only one open
    assert calls == ["open 1", "end 1", "open 2", "end 2", "open 3", "end 3"]


def test_a_hundred_megabytes_stream_in_under_sixteen_megabytes_of_memory() -> None:
    def five_mebibytes(seed: int) -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            rng = random.Random(seed)
            for _ in range(5 * MiB // 65536):
                yield rng.randbytes(65536)

        return chunks

    entries = (ZipEntry(f"{i}.jpg", five_mebibytes(i), MODIFIED) for i in range(20))
    tracemalloc.start()
    try:
        sent = sum(len(piece) for piece in zip_stream(entries))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sent > 100 * MiB
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
