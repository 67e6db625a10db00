"""The built-in ``images`` job: clean up and enhance product photos (the PRD's 服装清理增强)."""

from __future__ import annotations

from batchyard.jobs.images.params import ImageParams
from batchyard.jobs.images.processing import MAX_PIXELS, ProcessedImage, process_image

__all__ = ["MAX_PIXELS", "ImageParams", "ProcessedImage", "process_image"]
