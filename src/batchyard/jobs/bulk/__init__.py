"""Bulk updates: ``bulk_update`` changes a resource's matching rows (previewed, chunked or atomic, every change
logged with its before and after images) and ``bulk_rollback`` undoes one, listing rows changed since."""

from __future__ import annotations

from batchyard.jobs.bulk.rollback import bulk_rollback_job_type
from batchyard.jobs.bulk.transforms import register_transform
from batchyard.jobs.bulk.updating import bulk_update_job_type

__all__ = ["bulk_rollback_job_type", "bulk_update_job_type", "register_transform"]
