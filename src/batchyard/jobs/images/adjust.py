"""The look of the image: brightness, contrast and sharpness, and the PRD's clean-up to a white background."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

from PIL import Image, ImageChops, ImageEnhance


def enhancements(*, brightness: float, contrast: float, sharpness: float) -> list[Enhancement]:
    """The enhancements to apply, in order: those whose factor is not 1.0 (each costs a full-size copy).

    The caller applies them one at a time, rebinding its image, so that no more than one step's input, scratch
    image and output are alive at once.
    """
    steps = (
        (ImageEnhance.Brightness, brightness),
        (ImageEnhance.Contrast, contrast),
        (ImageEnhance.Sharpness, sharpness),
    )
    return [Enhancement(kind, factor) for kind, factor in steps if factor != 1.0]


class Enhancement(NamedTuple):
    """One ``ImageEnhance`` class and the factor to apply it with."""

    kind: Callable[[Image.Image], ImageEnhance.Brightness | ImageEnhance.Contrast | ImageEnhance.Sharpness]
    factor: float

    def apply(self, image: Image.Image) -> Image.Image:
        return self.kind(image).enhance(self.factor)


def whiten(image: Image.Image, threshold: int) -> Image.Image:
    """Turn every pixel whose channels are all at least ``threshold`` pure white, in place.

    Product photos shot on a white sweep come out light grey and uneven; this makes the background one white.
    ``image`` is L or RGB (transparency was flattened before).
    """
    lut = [255 if value >= threshold else 0 for value in range(256)]
    near_white = functools.reduce(ImageChops.darker, (band.point(lut) for band in image.split()))
    image.paste("white", mask=near_white)
    return image
