"""Writing the finished image as JPEG, PNG or WebP, with its colour profile and without its old metadata."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

from batchyard.errors import ImageTooLargeForFormat


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """How one output format is named to Pillow, to HTTP, on disk and to people, and the longest side it holds."""

    pillow: str
    content_type: str
    extension: str
    label: str
    max_side: int


# The sides are the encoders' own limits (libwebp's WEBP_MAX_DIMENSION, libjpeg's JPEG_MAX_DIMENSION; PNG's is
# 2**31 - 1): past them Pillow fails with its raw "encoding error 5" or "broken data stream".
OUTPUT_FORMATS = {
    "jpeg": OutputFormat("JPEG", "image/jpeg", "jpg", "JPEG", 65_500),
    "png": OutputFormat("PNG", "image/png", "png", "PNG", 2**31 - 1),
    "webp": OutputFormat("WEBP", "image/webp", "webp", "WebP", 16_383),
}
# The colour space an ICC profile must describe (bytes 16–20 of its header) to fit an image of each mode.
_PROFILE_SPACES = {"L": b"GRAY", "LA": b"GRAY", "RGB": b"RGB ", "RGBA": b"RGB "}


def encode(image: Image.Image, format: str, *, quality: int, icc_profile: bytes | None) -> bytes:
    """The image as a file of ``format`` ("jpeg", "png" or "webp").

    EXIF is dropped (orientation is already applied, and it may carry GPS positions); the ICC profile is kept
    when it still describes the pixels — a CMYK profile does not survive the conversion to RGB. Raises
    :class:`ImageTooLargeForFormat` when a side is longer than ``format`` holds.
    """
    check_fits(image, format)
    if format == "webp" and image.mode in ("L", "LA"):
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")  # what WebP would do itself, made explicit
    options = _options(format, quality) | {"icc_profile": _fitting_profile(icc_profile, image.mode)}
    buffer = io.BytesIO()
    image.save(buffer, format=OUTPUT_FORMATS[format].pillow, **options)
    return buffer.getvalue()


def check_fits(image: Image.Image, format: str) -> None:
    """Refuse, with a reason a user can act on, an image with a side longer than ``format`` holds."""
    output = OUTPUT_FORMATS[format]
    if max(image.size) > output.max_side:
        raise ImageTooLargeForFormat(width=image.width, height=image.height, format=output.label, limit=output.max_side)


def _options(format: str, quality: int) -> dict[str, Any]:
    if format == "jpeg":
        return {"quality": quality, "optimize": False, "progressive": False}
    return {"quality": quality} if format == "webp" else {}


def _fitting_profile(icc_profile: bytes | None, mode: str) -> bytes | None:
    if icc_profile and icc_profile[16:20] == _PROFILE_SPACES.get(mode):
        return icc_profile
    return None
