"""Where an image's pixels go: turned upright, then shrunk to fit, never enlarged."""

from __future__ import annotations

from PIL import Image

_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def fit_within(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """``size`` scaled so that its longest side is at most ``max_side``, keeping the aspect ratio."""
    width, height = size
    longest = max(width, height)
    if max_side is None or longest <= max_side:
        return size
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def orient(image: Image.Image, orientation: int) -> Image.Image:
    """Turn the image upright as its EXIF orientation says.

    The same table as ``ImageOps.exif_transpose``, which we do not call: it copies the whole image when there is
    nothing to turn, and re-parses (and re-warns about) the EXIF block to rewrite it — we drop EXIF on output.
    """
    method = _TRANSPOSES.get(orientation)
    return image if method is None else image.transpose(method)


def shrink(image: Image.Image, max_side: int | None) -> Image.Image:
    """Resize with LANCZOS so that the longest side is at most ``max_side``; a smaller image is left alone."""
    size = fit_within(image.size, max_side)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
