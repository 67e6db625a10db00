"""One BlobStore suite, run on a local directory and on S3 (moto's server over real HTTP): streamed in and out
in bounded memory, replaced atomically, size limits that leave nothing behind, keys that cannot escape."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from batchyard.blobs import BlobStore, StoredBlob, open_blob_store
from batchyard.blobs.local import LocalBlobStore
from batchyard.blobs.s3 import MIN_PART_SIZE, S3BlobStore
from batchyard.errors import BlobNotFound, ConfigurationError, FileTooLarge, InvalidBlobKey, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1 << 20
HOSTILE_KEYS = [
    "",
    "../x",
    "a/../../x",
    "/abs",
    "a//b",
    "a/./b",
    "./a",
    "a/",
    "a\\b",
    "a\x00b",
    "a\nb",
    "x" * 600,
    "x" * 256,
]


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    blobs: BlobStore
    if request.param == "local":
        blobs = LocalBlobStore(tmp_path / "blobs")
    else:
        endpoint: str = request.getfixturevalue("s3_endpoint")
        bucket: str = request.getfixturevalue("s3_bucket")
        blobs = S3BlobStore(bucket, endpoint_url=endpoint, region="us-east-1", part_size=MIN_PART_SIZE)
    yield blobs
    blobs.close()


@pytest.fixture
def s3_store(s3_endpoint: str, s3_bucket: str) -> Iterator[S3BlobStore]:
    blobs = S3BlobStore(bucket=s3_bucket, prefix="tenant/a", endpoint_url=s3_endpoint, part_size=MIN_PART_SIZE)
    yield blobs
    blobs.close()


def pattern(total: int, chunk: int = MIB) -> Iterator[bytes]:
    """``total`` bytes made on the fly, a chunk at a time, never all at once; no two chunks alike."""
    for start in range(0, total, chunk):
        size = min(chunk, total - start)
        yield (start // chunk).to_bytes(4, "big") * (size // 4) + b"\xab" * (size % 4)


def digest(chunks: Iterator[bytes]) -> tuple[int, str]:
    sha, size = hashlib.sha256(), 0
    for chunk in chunks:
        sha.update(chunk)
        size += len(chunk)
    return size, sha.hexdigest()


def failing_after(total: int) -> Iterator[bytes]:
    yield from pattern(total)
    raise ConnectionResetError("the client went away")


def read_all(store: BlobStore, key: str) -> bytes:
    with store.open(key) as file:
        return file.read()


# Round trips


def test_put_reports_size_and_sha256_and_reads_back(store: BlobStore) -> None:
    data = b"hello, blobs\n" * 1000

    stored = store.put("uploads/alice/5f3a", [data[:100], data[100:]])

    assert stored == StoredBlob("uploads/alice/5f3a", len(data), hashlib.sha256(data).hexdigest())
    assert read_all(store, "uploads/alice/5f3a") == data
    assert store.size("uploads/alice/5f3a") == len(data)
    assert store.exists("uploads/alice/5f3a")


def test_put_reads_a_file_object_in_pieces(store: BlobStore) -> None:
    data = os.urandom(3 * MIB + 17)  # no line structure: iterating it by lines would hold it whole

    stored = store.put("jobs/12/items/3/out.jpg", io.BytesIO(data))

    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert read_all(store, "jobs/12/items/3/out.jpg") == data


def test_large_stream_goes_in_parts_and_reads_back_equal(store: BlobStore) -> None:
    total = 20 * MIB

    stored = store.put("jobs/1/export.csv", pattern(total))

    assert (stored.size, stored.sha256) == digest(pattern(total))
    assert digest(store.iter_chunks("jobs/1/export.csv")) == digest(pattern(total))


def test_s3_large_stream_is_a_multipart_upload(s3_store: S3BlobStore, s3_client: S3Client) -> None:
    s3_store.put("big", pattern(12 * MIB))

    head = s3_client.head_object(Bucket=s3_store.bucket, Key="tenant/a/big")
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB


def test_stream_of_exactly_one_part_is_a_single_put(s3_store: S3BlobStore, s3_client: S3Client) -> None:
    s3_store.put("one", pattern(MIN_PART_SIZE))

    head = s3_client.head_object(Bucket=s3_store.bucket, Key="tenant/a/one")
    assert "-" not in head["ETag"]
    assert head["ContentLength"] == MIN_PART_SIZE


def test_empty_stream_stores_an_empty_blob(store: BlobStore) -> None:
    stored = store.put("uploads/empty", iter([b"", b""]))

    assert stored == StoredBlob("uploads/empty", 0, hashlib.sha256(b"").hexdigest())
    assert store.exists("uploads/empty")
    assert store.size("uploads/empty") == 0
    assert read_all(store, "uploads/empty") == b""
    assert list(store.iter_chunks("uploads/empty")) == []


def test_unusual_but_valid_keys_are_kept_apart(store: BlobStore) -> None:
    keys = ["a", "a.b/c", "报表/2024 年.csv", "/".join(["k" * 255, "k" * 255]), ".hidden/x"]
    for number, key in enumerate(keys):
        store.put(key, [str(number).encode()])

    assert [read_all(store, key) for key in keys] == [str(n).encode() for n in range(len(keys))]


# Reading


def test_open_returns_a_streaming_file_object(store: BlobStore) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    store.put("k", [data])

    with store.open("k") as file:
        assert file.readable()
        first = file.read(1000)
        sizes = [len(file.read(n)) for n in (1, 7, 300_000)]
        rest = file.read()
        assert file.read(10) == b""

    assert first == data[:1000]
    assert all(size <= n for size, n in zip(sizes, (1, 7, 300_000), strict=True))
    assert len(first) + sum(sizes) + len(rest) == len(data)
    assert file.closed


def test_a_file_closed_early_releases_the_download(store: BlobStore) -> None:
    store.put("k", pattern(3 * MIB))
    for _ in range(20):  # more than the connection pool holds: each close must give its connection back
        with store.open("k") as file:
            assert len(file.read(10)) == 10

    assert digest(store.iter_chunks("k")) == digest(pattern(3 * MIB))


def test_iter_chunks_yields_pieces_of_at_most_chunk_size(store: BlobStore) -> None:
    store.put("k", pattern(MIB + 5))

    sizes = [len(chunk) for chunk in store.iter_chunks("k", chunk_size=300_000)]

    assert sizes == [300_000, 300_000, 300_000, 148_581]


def test_missing_blob_is_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound) as found:
        store.open("uploads/nobody/none")
    assert found.value.details == {"key": "uploads/nobody/none"}
    with pytest.raises(BlobNotFound):
        store.size("uploads/nobody/none")
    with pytest.raises(BlobNotFound):
        store.iter_chunks("uploads/nobody/none")  # at the call, before the first chunk is asked for
    assert not store.exists("uploads/nobody/none")
    store.delete("uploads/nobody/none")


def test_a_directory_of_blobs_is_not_a_blob(store: BlobStore) -> None:
    store.put("jobs/5/a", [b"x"])

    assert not store.exists("jobs/5")
    with pytest.raises(BlobNotFound):
        store.open("jobs/5")
    with pytest.raises(BlobNotFound):
        store.size("jobs/5")


# Size limits and failures


@pytest.mark.parametrize(("limit", "total"), [(1_000, 1_001), (7_000_000, 20 * MIB)], ids=["one-part", "multipart"])
def test_more_than_max_bytes_is_refused_and_leaves_nothing(store: BlobStore, limit: int, total: int) -> None:
    with pytest.raises(FileTooLarge) as refused:
        store.put("uploads/alice/big", pattern(total, chunk=1_000), max_bytes=limit)

    assert refused.value.details == {"limit_mb": limit / 1_000_000}
    assert not store.exists("uploads/alice/big")
    assert store.delete_prefix("uploads/") == 0


def test_a_refused_multipart_upload_is_aborted(s3_store: S3BlobStore, s3_client: S3Client) -> None:
    with pytest.raises(FileTooLarge):
        s3_store.put("big", pattern(20 * MIB), max_bytes=12 * MIB)
    with pytest.raises(ConnectionResetError):
        s3_store.put("big", failing_after(11 * MIB))

    assert "Uploads" not in s3_client.list_multipart_uploads(Bucket=s3_store.bucket)
    assert "Contents" not in s3_client.list_objects_v2(Bucket=s3_store.bucket)


def test_exactly_max_bytes_is_accepted(store: BlobStore) -> None:
    stored = store.put("k", pattern(6 * MIB), max_bytes=6 * MIB)

    assert stored.size == 6 * MIB


@pytest.mark.parametrize("total", [1_000, 12 * MIB], ids=["one-part", "multipart"])
def test_a_failed_put_over_a_blob_keeps_the_old_one(store: BlobStore, total: int) -> None:
    store.put("jobs/3/out", [b"old content"])

    with pytest.raises(ConnectionResetError):
        store.put("jobs/3/out", failing_after(total))
    with pytest.raises(FileTooLarge):
        store.put("jobs/3/out", pattern(total + 1), max_bytes=total)

    assert read_all(store, "jobs/3/out") == b"old content"


def test_a_put_replaces_the_blob(store: BlobStore) -> None:
    store.put("k", [b"old"])

    store.put("k", pattern(6 * MIB))

    assert digest(store.iter_chunks("k")) == digest(pattern(6 * MIB))


def test_a_reader_sees_the_old_blob_or_the_new_one_never_a_mix(store: BlobStore) -> None:
    size = 64 * 1024
    store.put("k", [b"a" * size])
    stop = threading.Event()

    def replace() -> None:
        for n in range(40):
            store.put("k", [bytes([ord("a") + n % 2]) * 1024] * (size // 1024))
        stop.set()

    writer = threading.Thread(target=replace)
    writer.start()
    seen = set()
    while not stop.is_set():
        content = read_all(store, "k")
        assert len(content) == size
        assert len(set(content)) == 1, "a reader saw a blob half replaced"
        seen.add(content[:1])
    writer.join()
    assert seen <= {b"a", b"b"}


def test_a_reader_that_opened_before_a_replace_reads_the_old_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("k", pattern(2 * MIB))

    with store.open("k") as file:
        store.put("k", [b"new"])
        assert len(file.read()) == 2 * MIB


# Memory


def test_put_streams_in_bounded_memory(store: BlobStore) -> None:
    store.exists("warm-up")  # the first request loads the client's models: not the put's memory
    tracemalloc.start()
    try:
        stored = store.put("jobs/9/huge.bin", pattern(50 * MIB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored.size == 50 * MIB
    assert peak < 20 * MIB, f"peak {peak / MIB:.1f} MiB while putting 50 MiB"


def test_reading_streams_in_bounded_memory(store: BlobStore) -> None:
    store.put("jobs/9/huge.bin", pattern(30 * MIB))
    store.exists("warm-up")
    tracemalloc.start()
    try:
        size, _ = digest(store.iter_chunks("jobs/9/huge.bin"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert size == 30 * MIB
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB while reading 30 MiB"


# Keys


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=repr)
def test_hostile_keys_are_refused(store: BlobStore, key: str) -> None:
    for attempt in (
        lambda: store.put(key, [b"x"]),
        lambda: store.open(key),
        lambda: store.iter_chunks(key),
        lambda: store.size(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(InvalidBlobKey):
            attempt()


@pytest.mark.parametrize("prefix", ["", "/", "../", "jobs/../", "/jobs/1/", "jobs//1/", "jobs\\1/"], ids=repr)
def test_hostile_prefixes_are_refused(store: BlobStore, prefix: str) -> None:
    with pytest.raises(InvalidBlobKey):
        store.delete_prefix(prefix)


# Deleting


@pytest.mark.parametrize("prefix", ["jobs/1/", "jobs/1"])
def test_delete_prefix_deletes_exactly_that_directory(store: BlobStore, prefix: str) -> None:
    doomed = ["jobs/1/a", "jobs/1/items/0/out.jpg", "jobs/1/items/1/out.jpg"]
    kept = ["jobs/10/a", "jobs/1x", "jobs/2/a", "other/jobs/1/a"]
    for key in doomed + kept:
        store.put(key, [key.encode()])

    assert store.delete_prefix(prefix) == len(doomed)

    assert [key for key in doomed + kept if store.exists(key)] == kept
    assert store.delete_prefix(prefix) == 0


def test_delete_prefix_deletes_more_than_one_page(s3_store: S3BlobStore) -> None:
    with ThreadPoolExecutor(8) as pool:  # one client shared by threads, as workers share it
        list(pool.map(lambda n: s3_store.put(f"jobs/7/items/{n}", [b"x"]), range(1_005)))
    s3_store.put("jobs/70/keep", [b"x"])

    assert s3_store.delete_prefix("jobs/7/") == 1_005

    assert not s3_store.exists("jobs/7/items/1004")
    assert s3_store.exists("jobs/70/keep")


def test_delete_removes_one_blob(store: BlobStore) -> None:
    store.put("jobs/1/a", [b"a"])
    store.put("jobs/1/b", [b"b"])

    store.delete("jobs/1/a")

    assert not store.exists("jobs/1/a")
    assert store.exists("jobs/1/b")


# Local store


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret").write_bytes(b"not yours")
    return directory


def test_local_symlink_out_of_the_root_is_refused(tmp_path: Path, outside: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    (store.root / "jobs").mkdir()
    (store.root / "jobs" / "9").symlink_to(outside, target_is_directory=True)
    (store.root / "leak").symlink_to(outside / "secret")

    for attempt in (
        lambda: store.open("jobs/9/secret"),
        lambda: store.open("leak"),
        lambda: store.put("jobs/9/new", [b"x"]),
        lambda: store.exists("jobs/9/secret"),
        lambda: store.delete("jobs/9/secret"),
        lambda: store.delete_prefix("jobs/9/"),
    ):
        with pytest.raises(InvalidBlobKey):
            attempt()
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_local_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.put("real/a", [b"a"])
    (store.root / "alias").symlink_to(store.root / "real", target_is_directory=True)

    assert read_all(store, "alias/a") == b"a"


def test_local_put_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("jobs/1/a", [b"a"])
    with pytest.raises(FileTooLarge):
        store.put("jobs/1/b", pattern(3_000), max_bytes=2_000)
    with pytest.raises(ConnectionResetError):
        store.put("jobs/1/a", failing_after(3_000))

    assert os.listdir(tmp_path / "jobs" / "1") == ["a"]


def test_local_blob_where_a_directory_should_be_is_a_storage_error(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("jobs/1", [b"a blob"])

    with pytest.raises(StorageError):
        store.put("jobs/1/a", [b"x"])


def test_local_store_never_imports_boto3(tmp_path: Path) -> None:
    code = (
        "import sys, pathlib; from batchyard.blobs import open_blob_store; "
        f"s = open_blob_store({str(tmp_path)!r}, default_root=pathlib.Path('.')); s.put('a', [b'x']); "
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# S3 store


def test_s3_keys_live_under_the_store_prefix(s3_store: S3BlobStore, s3_client: S3Client) -> None:
    s3_client.put_object(Bucket=s3_store.bucket, Key="tenant/b/jobs/1/x", Body=b"another tenant")
    s3_store.put("jobs/1/x", [b"ours"])

    listed = s3_client.list_objects_v2(Bucket=s3_store.bucket)
    assert sorted(item["Key"] for item in listed["Contents"]) == ["tenant/a/jobs/1/x", "tenant/b/jobs/1/x"]
    assert s3_store.delete_prefix("jobs/") == 1
    assert s3_client.get_object(Bucket=s3_store.bucket, Key="tenant/b/jobs/1/x")["Body"].read() == b"another tenant"


@pytest.mark.usefixtures("aws_credentials")
def test_s3_unreachable_endpoint_is_a_storage_error() -> None:
    store = S3BlobStore("bucket", endpoint_url="http://127.0.0.1:9", connect_timeout=0.5, max_attempts=1)

    for attempt in (lambda: store.put("k", [b"x"]), lambda: store.open("k"), lambda: store.delete_prefix("jobs/")):
        with pytest.raises(StorageError) as failed:
            attempt()
        assert "testing-secret" not in str(failed.value)
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_s3_missing_bucket_is_a_storage_error(s3_endpoint: str) -> None:
    store = S3BlobStore("no-such-bucket", endpoint_url=s3_endpoint)

    with pytest.raises(StorageError, match="NoSuchBucket"):
        store.put("k", [b"x"])
    with pytest.raises(StorageError, match="NoSuchBucket"):
        store.open("k")
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_s3_part_size_below_the_minimum_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        S3BlobStore("bucket", part_size=MIN_PART_SIZE - 1)


# open_blob_store


@pytest.mark.usefixtures("aws_credentials")
def test_open_blob_store_s3_url() -> None:
    store = open_blob_store(
        "s3://my-bucket/some/prefix/?endpoint_url=http://127.0.0.1:9000&region=eu-west-3", default_root=Path(".")
    )

    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == ("my-bucket", "some/prefix/")
    assert store._client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert store._client.meta.region_name == "eu-west-3"
    store.close()


@pytest.mark.usefixtures("aws_credentials")
def test_open_blob_store_s3_url_without_prefix() -> None:
    store = open_blob_store("s3://my-bucket", default_root=Path("."))

    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == ("my-bucket", "")
    store.close()


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3:///prefix", "s3://key:secret@bucket/", "s3://bucket/?endpoint=x", "s3://bucket/a/../b"],
)
@pytest.mark.usefixtures("aws_credentials")
def test_open_blob_store_refuses_bad_s3_urls(url: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        open_blob_store(url, default_root=Path("."))
    assert "secret" not in str(refused.value)


def test_open_blob_store_file_url_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cases = {
        f"file://{tmp_path}/a": tmp_path / "a",
        f"file://localhost{tmp_path}/b": tmp_path / "b",
        str(tmp_path / "c"): tmp_path / "c",
        "relative/d": tmp_path / "relative" / "d",
        "file:relative/e": tmp_path / "relative" / "e",
        "": tmp_path / "root",
    }
    for url, root in cases.items():
        store = open_blob_store(url, default_root=tmp_path / "root")
        assert isinstance(store, LocalBlobStore)
        assert store.root == root.resolve(), url


@pytest.mark.parametrize("url", ["ftp://host/x", "gs://bucket/x", "http://127.0.0.1:9000/b", "file://host/x"])
def test_open_blob_store_refuses_unknown_schemes(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        open_blob_store(url, default_root=tmp_path)


def test_keys_lists_exactly_the_blobs_under_a_directory(store: BlobStore) -> None:
    for key in ("jobs/1/items/0/a", "jobs/1/items/12/b", "jobs/10/items/0/c", "uploads/x"):
        store.put(key, [b"x"])
    assert sorted(store.keys("jobs/1")) == ["jobs/1/items/0/a", "jobs/1/items/12/b"]
    assert sorted(store.keys("jobs/1/items/")) == ["jobs/1/items/0/a", "jobs/1/items/12/b"]
    assert list(store.keys("nothing/here")) == []
