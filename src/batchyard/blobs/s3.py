"""Blobs in S3-compatible object storage (AWS S3, MinIO, Ceph, R2…), the store shared by many hosts.

The only module that imports boto3; it is imported only when an ``s3://`` URL is opened, and it translates
botocore's errors into batchyard's. Credentials come from boto3's usual chain (environment, config files,
instance roles) and never appear in a URL, a log line or an error.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from batchyard.blobs.base import StoredBlob, Tally, check_key, chunks_of, directory_prefix, read_chunks
from batchyard.errors import BlobNotFound, BlobStorageError, ConfigurationError, InvalidBlobKey

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        CreateMultipartUploadRequestTypeDef,
        ObjectIdentifierTypeDef,
        UploadPartRequestTypeDef,
    )

MIB = 1 << 20
MIN_PART_SIZE = 5 * MIB  # S3 refuses smaller parts, except the last
DEFAULT_PART_SIZE = 8 * MIB
LIST_PAGE_SIZE = 1000  # also the most keys one DeleteObjects call takes, so a page is one batch
READ_BUFFER = 256 * 1024
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})


class S3BlobStore:
    """A BlobStore in one bucket, under an optional prefix. A put of at most one part is one PutObject; a
    larger one is a multipart upload, a part in memory at a time, aborted on any failure. Either way S3 makes
    the new object visible at once, so a reader sees the old blob or the new one."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ConfigurationError(reason=f"the S3 part size must be at least {MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.prefix = _namespace(prefix)
        self._part_size = part_size
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "max_attempts": max_attempts},
            # Servers other than AWS (MinIO, Ceph) seldom have a DNS name per bucket.
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        # A session of its own: boto3's default session is not safe to share between threads.
        session = boto3.session.Session()
        self._client: S3Client = session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
        # As boto3's own upload manager does: parts carry CRC32 unless the configuration turns checksums off
        # (botocore before 1.36 has no such setting, and sends none).
        calculation = getattr(self._client.meta.config, "request_checksum_calculation", "when_required")
        self._checksums = calculation != "when_required"

    def put(self, key: str, chunks: Iterable[bytes] | BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        """One PutObject when the stream fits one part, a multipart upload when it does not."""
        name = self._name(key)
        tally = Tally(max_bytes)
        parts = _Parts(tally.count(chunks_of(chunks)), self._part_size)
        with _s3_errors(key):
            parts.advance()
            if parts.more:
                self._put_in_parts(name, parts)
            else:
                self._client.put_object(Bucket=self.bucket, Key=name, Body=parts.current)
        return tally.stored(key)

    def open(self, key: str) -> BinaryIO:
        """The response body, buffered: ``read(n)`` returns at most n bytes, ``close()`` ends the download."""
        name = self._name(key)
        with _s3_errors(key):
            body = self._client.get_object(Bucket=self.bucket, Key=name)["Body"]
        return io.BufferedReader(_BodyReader(body, key), buffer_size=READ_BUFFER)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        name = self._name(key)
        with _s3_errors(key):
            try:
                body = self._client.get_object(
                    Bucket=self.bucket, Key=name, Range=f"bytes={offset}-{offset + length - 1}"
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "InvalidRange":  # from past the end: nothing
                    return b""
                raise
            with io.BufferedReader(_BodyReader(body["Body"], key), buffer_size=READ_BUFFER) as reader:
                return reader.read()

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Requested here, read lazily: a missing blob is reported at the call, not at the first ``next``."""
        return read_chunks(self.open(key), chunk_size)

    def size(self, key: str) -> int:
        name = self._name(key)
        with _s3_errors(key):
            return self._client.head_object(Bucket=self.bucket, Key=name)["ContentLength"]

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except BlobNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        name = self._name(key)
        with _s3_errors(key):
            self._client.delete_object(Bucket=self.bucket, Key=name)

    def keys(self, prefix: str) -> Iterator[str]:
        directory = self.prefix + directory_prefix(prefix)
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=directory, PaginationConfig={"PageSize": LIST_PAGE_SIZE})
        with _s3_errors(prefix):
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"].removeprefix(self.prefix)

    def delete_prefix(self, prefix: str) -> int:
        """List the directory's objects a page at a time and delete each page with one call."""
        directory = self.prefix + directory_prefix(prefix)
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=directory, PaginationConfig={"PageSize": LIST_PAGE_SIZE})
        deleted = 0
        with _s3_errors(prefix):
            for page in pages:
                deleted += self._delete_objects([{"Key": item["Key"]} for item in page.get("Contents", [])], prefix)
        return deleted

    def close(self) -> None:
        self._client.close()

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _put_in_parts(self, name: str, parts: _Parts) -> None:
        request: CreateMultipartUploadRequestTypeDef = {"Bucket": self.bucket, "Key": name}
        if self._checksums:
            request["ChecksumAlgorithm"] = "CRC32"
        upload_id = self._client.create_multipart_upload(**request)["UploadId"]
        try:
            uploaded = [self._upload_part(name, upload_id, parts)]
            while parts.more:
                parts.advance()
                uploaded.append(self._upload_part(name, upload_id, parts))
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": uploaded}
            )
        except BaseException:
            self._abort(name, upload_id)
            raise

    def _upload_part(self, name: str, upload_id: str, parts: _Parts) -> CompletedPartTypeDef:
        request: UploadPartRequestTypeDef = {
            "Bucket": self.bucket,
            "Key": name,
            "UploadId": upload_id,
            "PartNumber": parts.number,
            "Body": parts.current,
        }
        if self._checksums:
            request["ChecksumAlgorithm"] = "CRC32"
        response = self._client.upload_part(**request)
        part: CompletedPartTypeDef = {"ETag": response["ETag"], "PartNumber": parts.number}
        if "ChecksumCRC32" in response:
            part["ChecksumCRC32"] = response["ChecksumCRC32"]
        return part

    def _abort(self, name: str, upload_id: str) -> None:
        """Drop the parts stored so far. Should this fail too, the error that caused it is the one worth
        reporting, and the bucket's AbortIncompleteMultipartUpload lifecycle rule collects the parts."""
        with suppress(BotoCoreError, ClientError):
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)

    def _delete_objects(self, objects: list[ObjectIdentifierTypeDef], prefix: str) -> int:
        if not objects:
            return 0
        response = self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
        if errors := response.get("Errors", []):
            code = errors[0].get("Code", "unknown")
            raise BlobStorageError(reason=f"object storage kept {len(errors)} blobs under {prefix!r} ({code})")
        return len(objects)


class _Parts:
    """The stream cut into parts of at least ``size`` bytes, one in memory at a time, read one chunk ahead
    so that the last part is known to be the last (a stream that fits one part becomes one PutObject)."""

    def __init__(self, chunks: Iterable[bytes], size: int) -> None:
        self._chunks = iter(chunks)
        self._size = size
        self._ahead = b""
        self.current = b""
        self.number = 0

    @property
    def more(self) -> bool:
        """Whether any bytes follow the current part."""
        return bool(self._ahead)

    def advance(self) -> None:
        """Make the next part current; the stream's chunks are never empty, so an empty one is its end."""
        self.current = b""  # let the previous part go before the next one is gathered
        if self.number == 0:
            self._ahead = next(self._chunks, b"")
        # BytesIO hands its buffer over without a copy: one part in memory, not a list of chunks and their join.
        part = io.BytesIO()
        while self._ahead and part.tell() < self._size:
            part.write(self._ahead)
            self._ahead = next(self._chunks, b"")
        self.current = part.getvalue()
        self.number += 1


class _BodyReader(io.RawIOBase):
    """A GetObject body as a raw file, so that io.BufferedReader gives it the whole file-object interface,
    with a dropped connection in the middle of a read reported as a BlobStorageError."""

    def __init__(self, body: StreamingBody, key: str) -> None:
        super().__init__()
        self._body = body
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        with _s3_errors(self._key):
            data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Release the connection, whether or not the body was read to its end."""
        if not self.closed:
            self._body.close()
        super().close()


def _namespace(prefix: str) -> str:
    """The store's prefix inside the bucket as ``a/b/``, or empty for the bucket's root."""
    prefix = prefix.strip("/")
    try:
        return directory_prefix(prefix) if prefix else ""
    except InvalidBlobKey as exc:
        raise ConfigurationError(reason=f"the S3 prefix {prefix!r} is not valid: {exc.details['reason']}") from None


@contextmanager
def _s3_errors(key: str) -> Iterator[None]:
    """Missing objects become BlobNotFound; refusals and unreachable endpoints become BlobStorageError. Neither
    botocore's messages nor ours carry credentials."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code", "") in _NOT_FOUND:
            raise BlobNotFound(key=key) from None
        raise BlobStorageError(reason=f"object storage: {exc}") from exc
    except BotoCoreError as exc:
        raise BlobStorageError(reason=f"object storage: {exc}") from exc
