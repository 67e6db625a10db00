"""Bringing every decoded image to one of four 8-bit modes — L, LA, RGB, RGBA — that the later steps and all three
output formats handle.
"""

from __future__ import annotations

from PIL import Image

_SIXTEEN_BIT = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
_GREY = frozenset({"1", "L", "LA"})
_SIXTEEN_TO_EIGHT = 1 / 257  # maps 0–65535 onto 0–255 exactly: 65535 / 257 == 255


def standard_mode(image: Image.Image, *, keep_alpha: bool) -> Image.Image:
    """The image in L, LA, RGB or RGBA; transparency flattened onto white unless ``keep_alpha``.

    CMYK (Adobe's inverted kind included) and other colour spaces become RGB, 16-bit grey is scaled rather than
    clipped, a palette with transparency becomes RGBA.
    """
    if image.mode in _SIXTEEN_BIT:
        image = _sixteen_to_eight_bit(image)
    target = _eight_bit_mode(image)
    if image.mode != target:
        image = image.convert(target)
    if "A" in image.mode and not keep_alpha:
        image = flatten_on_white(image)
    return image


def flatten_on_white(image: Image.Image) -> Image.Image:
    """An LA or RGBA image composed onto a white background, as L or RGB."""
    background = Image.new(image.mode.removesuffix("A"), image.size, "white")
    background.paste(image, mask=image.getchannel("A"))
    return background


def _eight_bit_mode(image: Image.Image) -> str:
    grey = image.mode in _GREY
    if image.has_transparency_data:
        return "LA" if grey else "RGBA"
    return "L" if grey else "RGB"


def _sixteen_to_eight_bit(image: Image.Image) -> Image.Image:
    """16-bit grey to 8-bit L by scaling: a plain conversion clips, turning everything above 255 white."""
    return image.convert("I").point(lambda value: value * _SIXTEEN_TO_EIGHT).convert("L")
