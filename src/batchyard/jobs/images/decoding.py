"""Decoding an upload without trusting it: its size is checked before a pixel is decoded, every way a decoder
can fail becomes :class:`ImageDamaged`, and Pillow's warnings about odd files stay inside.

Pillow is asked for one format only — the one the content was sniffed as — and through that format's class rather
than ``Image.open``, so Pillow's own decompression-bomb check (a warning, then an error, at a global limit we must
not change) never fires: we check against the caller's ``max_pixels`` ourselves.
"""

from __future__ import annotations

import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, NamedTuple

from PIL import ExifTags, Image, ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from batchyard.errors import ImageDamaged, ImageTooLarge, UnsupportedFileType
from batchyard.jobs.images.geometry import fit_within

ACCEPTED = "JPEG, PNG, WebP"

_OPENERS: dict[str, type[ImageFile.ImageFile]] = {
    "image/jpeg": JpegImagePlugin.JpegImageFile,
    "image/png": PngImagePlugin.PngImageFile,
    "image/webp": WebPImagePlugin.WebPImageFile,
}
# What Pillow raises on truncated or corrupt data (UnidentifiedImageError is an OSError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
_WEBP_HEADER_BYTES = 30
_WARNING_FILTERS = threading.Lock()


class Decoded(NamedTuple):
    """A fully decoded image with what was read from its metadata before it is transformed.

    A tuple so that the caller can unpack it and hold no reference to the decoded image once it is replaced.
    """

    image: Image.Image
    orientation: int
    icc_profile: bytes | None


def decode(source: BinaryIO, content_type: str, *, max_pixels: int, max_side: int | None) -> Decoded:
    """Decode the image at ``source``'s position, which sniffing found to be ``content_type``.

    ``max_side`` lets a JPEG decode at 1/2, 1/4 or 1/8 scale when the result will be shrunk anyway.
    """
    with _quiet_pillow():
        try:
            return _decode(source, content_type, max_pixels=max_pixels, max_side=max_side)
        except Image.DecompressionBombError as exc:  # only if Pillow someday checks where it does not today
            raise ImageTooLarge(width="?", height="?", limit=max_pixels) from exc
        except _DECODE_ERRORS as exc:
            raise ImageDamaged() from exc


@contextmanager
def _quiet_pillow() -> Iterator[None]:
    """Keep Pillow's warnings about hostile metadata ("corrupt EXIF", "invalid APNG") from escaping.

    The warning filters are global to the process, so concurrent threads take turns here; decoding barely runs
    in parallel anyway (two threads decode a 9 MP JPEG hardly faster than one).
    """
    with _WARNING_FILTERS, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _decode(source: BinaryIO, content_type: str, *, max_pixels: int, max_side: int | None) -> Decoded:
    if content_type == "image/webp":
        _check_webp_canvas(source, max_pixels)
    image = _OPENERS[content_type](source)
    _check_pixels(image.size, max_pixels)
    _refuse_animation(image)
    if max_side is not None and image.format == "JPEG":
        image.draft(image.mode, fit_within(image.size, max_side))
    image.load()
    return Decoded(image, _orientation(image), image.info.get("icc_profile"))


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageTooLarge(width=width, height=height, limit=max_pixels)


def _check_webp_canvas(source: BinaryIO, max_pixels: int) -> None:
    """WebP's decoder allocates its canvas as soon as it is created, so the declared size is checked first."""
    start = source.tell()
    header = source.read(_WEBP_HEADER_BYTES)
    source.seek(start)
    if size := webp_canvas_size(header):
        _check_pixels(size, max_pixels)


def webp_canvas_size(header: bytes) -> tuple[int, int] | None:
    """The canvas size the first chunk of a WebP file declares (lossy, lossless or extended), if it is readable."""
    chunk = header[12:16]
    if chunk == b"VP8X" and len(header) >= 30:
        return int.from_bytes(header[24:27], "little") + 1, int.from_bytes(header[27:30], "little") + 1
    if chunk == b"VP8L" and len(header) >= 25:
        bits = int.from_bytes(header[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(header) >= 30:
        return int.from_bytes(header[26:28], "little") & 0x3FFF, int.from_bytes(header[28:30], "little") & 0x3FFF
    return None


def _refuse_animation(image: ImageFile.ImageFile) -> None:
    """Which frame of an animation is "the" product photo is anybody's guess; refusing is honest."""
    if int(getattr(image, "n_frames", 1)) > 1:
        raise UnsupportedFileType(found="an animated image", found_zh="动图", accepted=ACCEPTED)


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1–8); a broken EXIF block costs the rotation, not the image."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except _DECODE_ERRORS:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1
