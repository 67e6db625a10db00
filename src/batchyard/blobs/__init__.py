"""Where uploads and artifacts live: a BlobStore, on the local disk or in S3-compatible object storage."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from batchyard.blobs.base import BlobStore, StoredBlob
from batchyard.blobs.local import LocalBlobStore
from batchyard.errors import ConfigurationError

__all__ = ["BlobStore", "StoredBlob", "open_blob_store"]

_S3_OPTIONS = frozenset({"endpoint_url", "region"})


def open_blob_store(url: str, *, default_root: Path) -> BlobStore:
    """The store a URL names: ``s3://bucket/prefix?endpoint_url=…&region=…``, ``file:///abs/path`` or a
    plain path (a relative one from the working directory, as ``data_dir`` is); an empty URL is ``default_root``."""
    url = url.strip()
    if not url:
        return LocalBlobStore(default_root)
    if url.startswith("s3://"):
        return _s3_store(url)
    if url.startswith("file:"):
        return _local_store(_file_path(url))
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ConfigurationError(reason=f"unsupported blob store URL scheme {scheme!r}; use s3://, file:// or a path")
    return _local_store(url)


def _local_store(path: str) -> BlobStore:
    return LocalBlobStore(Path(path).expanduser())


def _file_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigurationError(reason=f"a file:// blob store URL names no host; got {parts.netloc!r}")
    return unquote(parts.path)


def _s3_store(url: str) -> BlobStore:
    """The S3 module, and with it boto3, is imported only here, so that a local store never loads it."""
    from batchyard.blobs.s3 import S3BlobStore

    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigurationError(reason="an s3:// blob store URL needs a bucket: s3://bucket/prefix")
    if "@" in parts.netloc:  # not echoed: it would be a secret
        raise ConfigurationError(reason="credentials do not belong in an s3:// URL; use the AWS environment")
    options = dict(parse_qsl(parts.query))
    if unknown := sorted(set(options) - _S3_OPTIONS):
        raise ConfigurationError(reason=f"unknown s3:// URL options {unknown}; known: {sorted(_S3_OPTIONS)}")
    return S3BlobStore(
        parts.netloc,
        unquote(parts.path),
        endpoint_url=options.get("endpoint_url"),
        region=options.get("region"),
    )
