"""One image through the ``images`` job: check what it is, decode it safely, clean it up, encode it.

Memory is bounded by ``max_pixels``, not by the file: the size is checked before a pixel is decoded, and each step
keeps at most its input, its scratch copy and its output alive — full-size images of up to ``max_pixels`` × 4 bytes
each (Pillow keeps RGB in 4 bytes a pixel). Measured on a 36 MP photo: 160 MiB JPEG to JPEG, 420 MiB with all
three enhancements, 880 MiB when writing WebP (libwebp keeps copies of its own). The source is read by Pillow as it
decodes; only its first :data:`SNIFF_BYTES` are read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from batchyard.core.sniff import IMAGE_TYPES, SNIFF_BYTES, Sniffed, sniff
from batchyard.errors import EmptyFile, UnsupportedFileType
from batchyard.jobs.images.adjust import enhancements, whiten
from batchyard.jobs.images.decoding import ACCEPTED, decode
from batchyard.jobs.images.encoding import OUTPUT_FORMATS, check_fits, encode
from batchyard.jobs.images.geometry import orient, shrink
from batchyard.jobs.images.modes import standard_mode
from batchyard.jobs.images.params import ImageParams

MAX_PIXELS = 40_000_000


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """The finished file and what to call it."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def process_image(source: BinaryIO, params: ImageParams, *, max_pixels: int = MAX_PIXELS) -> ProcessedImage:
    """Clean up and enhance the image in ``source`` (seekable, read from its current position) as ``params`` say.

    Raises :class:`EmptyFile`, :class:`UnsupportedFileType` (judged by content, never by name),
    :class:`ImageTooLarge` (before decoding), :class:`ImageDamaged` or :class:`ImageTooLargeForFormat`.
    """
    sniffed = _accepted_type(_read_head(source))
    image, orientation, icc_profile = decode(
        source, sniffed.content_type, max_pixels=max_pixels, max_side=params.max_side
    )
    # Each step rebinds `image`, so only the step's input and output (and its own scratch) are alive at once.
    image = orient(image, orientation if params.auto_orient else 1)
    image = standard_mode(image, keep_alpha=params.format != "jpeg" and not params.white_background)
    image = shrink(image, params.max_side)
    check_fits(image, params.format)  # the size is final now: no enhancement is spent on an image it cannot write
    for enhancement in enhancements(brightness=params.brightness, contrast=params.contrast, sharpness=params.sharpness):
        image = enhancement.apply(image)
    if params.white_background:
        image = whiten(image, params.background_threshold)
    data = encode(image, params.format, quality=params.quality, icc_profile=icc_profile)
    output = OUTPUT_FORMATS[params.format]
    return ProcessedImage(data, output.content_type, output.extension, image.width, image.height)


def _read_head(source: BinaryIO) -> bytes:
    start = source.tell()
    head = source.read(SNIFF_BYTES)
    source.seek(start)
    return head


def _accepted_type(head: bytes) -> Sniffed:
    """What the head says the file is, if the images job takes it."""
    if not head:
        raise EmptyFile()
    sniffed = sniff(head)
    if sniffed.content_type not in IMAGE_TYPES:
        raise UnsupportedFileType(found=sniffed.label, found_zh=sniffed.label_zh, accepted=ACCEPTED)
    return sniffed
