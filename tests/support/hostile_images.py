"""Files that lie, break or explode, made on the spot (nothing binary is kept in the repository)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from functools import cache
from typing import Any

from PIL import Image

BOMB_SIDE = 20_000


def encoded(image: Image.Image, format: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **options)
    return out.getvalue()


def truncated_jpeg() -> bytes:
    whole = encoded(Image.effect_noise((256, 192), 40).convert("RGB"), "JPEG")
    return whole[: len(whole) // 2]


def png_named_jpg() -> bytes:
    return encoded(Image.new("RGB", (30, 20), "blue"), "PNG")


def html_page() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "green", "blue")]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def one_pixel() -> bytes:
    return encoded(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG")


def cmyk_jpeg() -> bytes:
    return encoded(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG")  # red, in ink


def exif_orientation_6() -> bytes:
    """A 40 × 20 photo that a camera held on its side tagged "rotate 90° to show"."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(Image.new("RGB", (40, 20), "yellow"), "JPEG", exif=exif.tobytes())


@cache
def png_bomb() -> bytes:
    """A 20,000 × 20,000 PNG (400 million pixels, 400 MB to decode) in about 400 KB."""
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = b"".join(_zero_rows(BOMB_SIDE, BOMB_SIDE))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zero_rows(width: int, height: int) -> Iterator[bytes]:
    compressor = zlib.compressobj(9)
    row = bytes(1 + width)
    for _ in range(height):
        if block := compressor.compress(row):
            yield block
    yield compressor.flush()
