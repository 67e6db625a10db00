"""Writing the finished image as JPEG, PNG or WebP, with its colour profile and without its old metadata."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """How one output format is named to Pillow, to HTTP and on disk."""

    pillow: str
    content_type: str
    extension: str


OUTPUT_FORMATS = {
    "jpeg": OutputFormat("JPEG", "image/jpeg", "jpg"),
    "png": OutputFormat("PNG", "image/png", "png"),
    "webp": OutputFormat("WEBP", "image/webp", "webp"),
}
# The colour space an ICC profile must describe (bytes 16–20 of its header) to fit an image of each mode.
_PROFILE_SPACES = {"L": b"GRAY", "LA": b"GRAY", "RGB": b"RGB ", "RGBA": b"RGB "}


def encode(image: Image.Image, format: str, *, quality: int, icc_profile: bytes | None) -> bytes:
    """The image as a file of ``format`` ("jpeg", "png" or "webp").

    EXIF is dropped (orientation is already applied, and it may carry GPS positions); the ICC profile is kept
    when it still describes the pixels — a CMYK profile does not survive the conversion to RGB.
    """
    if format == "webp" and image.mode in ("L", "LA"):
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")  # what WebP would do itself, made explicit
    options = _options(format, quality) | {"icc_profile": _fitting_profile(icc_profile, image.mode)}
    buffer = io.BytesIO()
    image.save(buffer, format=OUTPUT_FORMATS[format].pillow, **options)
    return buffer.getvalue()


def _options(format: str, quality: int) -> dict[str, Any]:
    if format == "jpeg":
        return {"quality": quality, "optimize": False, "progressive": False}
    return {"quality": quality} if format == "webp" else {}


def _fitting_profile(icc_profile: bytes | None, mode: str) -> bytes | None:
    if icc_profile and icc_profile[16:20] == _PROFILE_SPACES.get(mode):
        return icc_profile
    return None
