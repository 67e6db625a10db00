"""Wiring: the one place that turns settings into concrete classes (the SQL store, the blob store)."""

from __future__ import annotations

from datetime import timedelta

from batchyard.blobs import BlobStore, open_blob_store
from batchyard.service.files import FileLimits, FileService
from batchyard.settings import Settings
from batchyard.store.base import Store
from batchyard.store.sql import SqlStore
from batchyard.store.sql.database import Timeouts
from batchyard.store.sql.migrate import upgrade


def open_store(settings: Settings, *, create_schema: bool = True) -> SqlStore:
    timeouts = Timeouts(
        connect=settings.pg_connect_timeout,
        lock=settings.pg_lock_timeout,
        idle_in_transaction=settings.pg_idle_in_transaction_timeout,
    )
    return SqlStore(
        settings.resolved_database_url,
        planning_lease=settings.lease_seconds,
        create_schema=create_schema,
        timeouts=timeouts,
        durable_chunks=settings.pg_durable_chunk_commits,
        events_kept=timedelta(days=settings.events_retention_days),
    )


def upgrade_database(settings: Settings) -> str:
    """Apply all migrations; return the database URL (without password) that was upgraded."""
    store = open_store(settings, create_schema=False)
    try:
        upgrade(store.db)
        return store.db.writer.url.render_as_string(hide_password=True)
    finally:
        store.close()


def open_blobs(settings: Settings) -> BlobStore:
    return open_blob_store(settings.resolved_blob_url, default_root=settings.data_dir / "blobs")


def file_service(settings: Settings, store: Store, blobs: BlobStore) -> FileService:
    limits = FileLimits(
        max_file_bytes=int(settings.upload_max_file_mb * 1_000_000),
        upload_kept=timedelta(hours=settings.upload_retention_hours),
        artifacts_kept=timedelta(days=settings.artifact_retention_days),
        max_request_bytes=int(settings.upload_max_request_mb * 1_000_000),
        max_files=settings.upload_max_files,
    )
    return FileService(store, blobs, limits)
