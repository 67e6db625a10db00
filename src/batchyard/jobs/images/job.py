"""The ``images`` job type: each item is an uploaded photo, cleaned up and enhanced as the params say, its result
kept as the item's output file (downloadable alone or in the job's ZIP)."""

from __future__ import annotations

import shutil
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO, cast

from batchyard.core.context import Context
from batchyard.core.filenames import with_extension
from batchyard.core.jobtype import JobType, define_job_type
from batchyard.core.sniff import IMAGE_TYPES
from batchyard.jobs.images.params import ImageParams
from batchyard.jobs.images.processing import process_image

# The PRD's limits: 50 images a job, 1 quota each, 5 at once, 5 jobs an hour and 20 a day per user, 10 MB a file.
POLICIES: dict[str, Any] = {
    "chunk_size": 1,
    "max_items": 50,
    "unit_cost": 1,
    "max_concurrency": 5,
    "jobs_per_hour": 5,
    "jobs_per_day": 20,
    "max_attempts": 1,
    "timeout": 120.0,
    "accepts": tuple(sorted(IMAGE_TYPES)),
    "max_file_mb": 10.0,
}
IN_MEMORY = 16 * 1024 * 1024  # a source up to this size is copied to memory, larger ones to a temporary file


class Images:
    """服装清理增强 — clean up and enhance product photos."""

    Params = ImageParams

    def process(self, item: dict[str, Any], ctx: Context) -> dict[str, Any]:
        ctx.current = str(item.get("filename") or "")
        with ctx.open_upload(int(item["upload_id"])) as stored, SpooledTemporaryFile(IN_MEMORY) as source:
            shutil.copyfileobj(stored, source, 1 << 20)  # Pillow seeks; an object store's stream cannot
            source.seek(0)
            result = process_image(cast(BinaryIO, source), ctx.params)
        name = with_extension(str(item.get("filename") or f"image_{ctx.index + 1}"), result.extension)
        artifact = ctx.save_output(name, result.data, result.content_type)
        return {
            "artifact_id": artifact.id,
            "name": artifact.name,
            "content_type": result.content_type,
            "size": artifact.size,
            "width": result.width,
            "height": result.height,
        }


def images_job_type(**overrides: Any) -> JobType:
    """The ``images`` job type with the PRD's limits, any of which ``overrides`` may change."""
    return define_job_type("images", Images, title="Images: clean up and enhance", **{**POLICIES, **overrides})
