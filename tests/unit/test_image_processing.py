"""The ``images`` job's processing against hostile files and for its every parameter.

Every file is made here with Pillow or by hand; nothing binary is checked in. The suite runs with warnings as
errors, so a Pillow warning escaping from processing fails the test that provoked it.
"""

from __future__ import annotations

import io
import random
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageCms
from pydantic import ValidationError

from batchyard.errors import (
    BatchyardError,
    EmptyFile,
    ImageDamaged,
    ImageTooLarge,
    ImageTooLargeForFormat,
    UnsupportedFileType,
)
from batchyard.jobs.images import ImageParams, ProcessedImage, process_image
from batchyard.jobs.images.decoding import decode, webp_canvas_size

MB = 1024 * 1024
BOMB_SIDE = 20_000


# ---------------------------------------------------------------------------------------------------- helpers


def _encode(image: Image.Image, format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def _noise(size: tuple[int, int] = (256, 256)) -> Image.Image:
    return Image.effect_noise(size, 60).convert("RGB")


def _process(data: bytes, **params: Any) -> ProcessedImage:
    return process_image(io.BytesIO(data), ImageParams(**params))


def _open(result: ProcessedImage) -> Image.Image:
    image = Image.open(io.BytesIO(result.data))
    image.load()
    return image


def _error(data: bytes, **params: Any) -> BatchyardError:
    with pytest.raises(BatchyardError) as caught:
        _process(data, **params)
    return caught.value


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_by_hand(width: int, height: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _zero_rows(width: int, height: int) -> Iterator[bytes]:
    """The compressed pixel data of an all-black image, made a row at a time so the test itself stays small."""
    compressor = zlib.compressobj(9)
    row = bytes(1 + width)  # filter byte 0, then the row
    for _ in range(height):
        if block := compressor.compress(row):
            yield block
    yield compressor.flush()


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    """A 20,000 × 20,000 PNG (400 million pixels) in about 400 KB."""
    return _png_by_hand(BOMB_SIDE, BOMB_SIDE, b"".join(_zero_rows(BOMB_SIDE, BOMB_SIDE)))


def _exif(*, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _halves(size: tuple[int, int], left: tuple[int, ...], right: tuple[int, ...]) -> Image.Image:
    image = Image.new("RGB", size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def _near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# ---------------------------------------------------------------------------------------------------- hostile files


def test_a_truncated_jpeg_is_damaged() -> None:
    jpeg = _encode(_noise(), "JPEG")
    assert isinstance(_error(jpeg[: len(jpeg) // 2]), ImageDamaged)


def test_a_png_named_jpg_is_processed_because_content_wins(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(_encode(Image.new("RGB", (30, 20), "navy"), "PNG"))
    with path.open("rb") as file:
        result = process_image(file, ImageParams(format="png"))
    assert (result.content_type, result.width, result.height) == ("image/png", 30, 20)
    assert _open(result).getpixel((0, 0)) == (0, 0, 128)


def test_an_html_page_named_jpg_is_refused_as_html(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xef\xbb\xbf\n  <!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>")
    with path.open("rb") as file, pytest.raises(UnsupportedFileType) as caught:
        process_image(file, ImageParams())
    assert "HTML" in caught.value.message("en")
    assert caught.value.details["found_zh"] == "HTML 网页"


def test_a_pdf_is_refused_as_a_pdf() -> None:
    error = _error(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n")
    assert isinstance(error, UnsupportedFileType)
    assert "PDF" in error.message("en")


def test_an_empty_file_is_empty() -> None:
    assert isinstance(_error(b""), EmptyFile)


def test_an_animated_gif_is_refused_as_a_gif() -> None:
    frames = [Image.new("P", (10, 10), index) for index in range(3)]
    gif = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    error = _error(gif)
    assert isinstance(error, UnsupportedFileType)
    assert "GIF" in error.message("en")


def test_an_animated_webp_is_refused_as_animated() -> None:
    frames = [Image.new("RGB", (10, 10), colour) for colour in ("red", "lime", "blue")]
    webp = _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(webp)).n_frames == 3
    error = _error(webp)
    assert isinstance(error, UnsupportedFileType)
    assert "animated" in error.message("en")


def test_an_animated_png_is_refused_as_animated() -> None:
    frames = [Image.new("RGB", (10, 10), colour) for colour in ("red", "lime")]
    apng = _encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100)
    assert isinstance(_error(apng), UnsupportedFileType)


def test_random_bytes_are_refused_as_unrecognised() -> None:
    error = _error(random.Random(42).randbytes(10_000))
    assert isinstance(error, UnsupportedFileType)
    assert "unrecognised" in error.message("en")


def test_a_png_with_a_bad_header_checksum_is_damaged() -> None:
    png = bytearray(_encode(Image.new("L", (8, 8), 7), "PNG"))
    png[29] ^= 0xFF  # the last byte of IHDR's CRC (8 signature + 4 length + 4 type + 13 data)
    assert isinstance(_error(bytes(png)), ImageDamaged)


def test_a_png_with_garbage_pixel_data_is_damaged() -> None:
    png = _png_by_hand(8, 8, random.Random(3).randbytes(200))
    assert isinstance(_error(png), ImageDamaged)


def test_a_png_bomb_is_refused_before_decoding_without_using_memory(png_bomb: bytes) -> None:
    assert len(png_bomb) < MB
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLarge) as caught:
            process_image(io.BytesIO(png_bomb), ImageParams())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.details == {"width": BOMB_SIDE, "height": BOMB_SIDE, "limit": 40_000_000}
    assert peak < 5 * MB


def test_a_png_bomb_read_from_a_file_raises_the_process_peak_by_little(png_bomb: bytes, tmp_path: Path) -> None:
    """Pillow allocates outside tracemalloc's sight, so the process's own high-water mark is measured, afresh."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb)
    script = textwrap.dedent(
        """
        import resource, sys
        from batchyard.errors import ImageTooLarge
        from batchyard.jobs.images import ImageParams, process_image
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with open(sys.argv[1], "rb") as file:
            try:
                process_image(file, ImageParams())
            except ImageTooLarge as error:
                print(error.code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
            else:
                print("processed", 0)
        """
    )
    command = [sys.executable, "-W", "error", "-c", script, str(path)]
    run = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    code, growth_kib = run.stdout.split()
    assert code == "image_too_large"
    assert int(growth_kib) * 1024 < 50 * MB


def test_a_jpeg_declaring_huge_dimensions_is_refused_before_decoding() -> None:
    jpeg = bytearray(_encode(Image.new("RGB", (16, 16), "red"), "JPEG"))
    frame = jpeg.index(b"\xff\xc0")  # baseline start-of-frame: marker, length, precision, height, width
    jpeg[frame + 5 : frame + 9] = struct.pack(">HH", 60_000, 60_000)
    with pytest.raises(ImageTooLarge) as caught:
        _process(bytes(jpeg))
    assert (caught.value.details["width"], caught.value.details["height"]) == (60_000, 60_000)


def test_a_webp_declaring_a_huge_canvas_is_refused_before_its_decoder_allocates_it() -> None:
    webp = bytearray(_encode(Image.new("RGBA", (16, 16), (1, 2, 3, 4)), "WEBP"))
    assert webp[12:16] == b"VP8X"
    webp[24:30] = (16_000 - 1).to_bytes(3, "little") * 2
    with pytest.raises(ImageTooLarge) as caught:
        _process(bytes(webp))
    assert (caught.value.details["width"], caught.value.details["height"]) == (16_000, 16_000)


@pytest.mark.parametrize(
    ("mode", "options", "chunk"),
    [("RGB", {}, b"VP8 "), ("RGB", {"lossless": True}, b"VP8L"), ("RGBA", {}, b"VP8X")],
)
def test_the_webp_canvas_size_is_read_from_each_kind_of_header(
    mode: str, options: dict[str, Any], chunk: bytes
) -> None:
    webp = _encode(Image.new(mode, (300, 7)), "WEBP", **options)
    assert webp[12:16] == chunk
    assert webp_canvas_size(webp[:30]) == (300, 7)


def test_an_image_just_over_a_lower_pixel_limit_is_refused() -> None:
    png = _encode(Image.new("RGB", (101, 100)), "PNG")
    with pytest.raises(ImageTooLarge):
        process_image(io.BytesIO(png), ImageParams(), max_pixels=100 * 100)
    assert process_image(io.BytesIO(png), ImageParams(), max_pixels=101 * 100).width == 101


def test_a_png_with_an_invalid_animation_chunk_after_its_pixels_is_processed_without_a_warning() -> None:
    png = _encode(Image.new("RGB", (8, 8), "teal"), "PNG")
    end = png.rindex(b"IEND") - 4
    hostile = png[:end] + _chunk(b"acTL", struct.pack(">II", 0, 0)) + png[end:]
    assert _process(hostile).width == 8


def test_a_jpeg_with_corrupt_exif_is_processed_and_still_turned_upright() -> None:
    make_points_past_the_end = struct.pack("<HHII", 0x010F, 2, 200, 5000)
    orientation_six = struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0)
    tiff = b"II*\x00" + struct.pack("<IH", 8, 2) + make_points_past_the_end + orientation_six + b"\x00" * 4
    jpeg = _encode(Image.new("RGB", (40, 20), "olive"), "JPEG", exif=b"Exif\x00\x00" + tiff)
    assert (_process(jpeg).width, _process(jpeg).height) == (20, 40)


# ---------------------------------------------------------------------------------------------------- odd but valid


def test_a_one_pixel_image_is_processed_with_every_enhancement() -> None:
    result = _process(_encode(Image.new("RGB", (1, 1), "white"), "PNG"), brightness=1.5, contrast=2, sharpness=3)
    assert (result.width, result.height) == (1, 1)
    assert _open(result).size == (1, 1)


def test_a_cmyk_jpeg_comes_out_rgb_in_about_the_right_colour() -> None:
    jpeg = _encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(jpeg)).mode == "CMYK"
    image = _open(_process(jpeg, format="png"))
    assert image.mode == "RGB"
    assert _near(image.getpixel((16, 16)), (255, 0, 0), tolerance=30)


def test_a_cmyk_colour_profile_is_dropped_when_the_pixels_become_rgb() -> None:
    cmyk_profile = bytes(16) + b"CMYK" + b"Lab " + bytes(104)
    jpeg = _encode(Image.new("CMYK", (8, 8), (0, 0, 0, 0)), "JPEG", icc_profile=cmyk_profile)
    assert Image.open(io.BytesIO(jpeg)).info["icc_profile"] == cmyk_profile
    assert "icc_profile" not in _open(_process(jpeg)).info


@pytest.mark.parametrize("format", ["jpeg", "png", "webp"])
def test_an_rgb_colour_profile_is_kept(format: str) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    png = _encode(Image.new("RGB", (8, 8), "red"), "PNG", icc_profile=srgb)
    assert _open(_process(png, format=format)).info.get("icc_profile") == srgb


def test_exif_orientation_six_turns_a_40_by_20_image_upright() -> None:
    jpeg = _encode(_halves((40, 20), (255, 0, 0), (0, 0, 255)), "JPEG", quality=95, exif=_exif(orientation=6))
    result = _process(jpeg, format="png")
    image = _open(result)
    assert (result.width, result.height) == image.size == (20, 40)
    assert _near(image.getpixel((10, 2)), (255, 0, 0)), "the left half must end up on top (turned clockwise)"
    assert _near(image.getpixel((10, 37)), (0, 0, 255))


def test_without_auto_orient_the_exif_orientation_is_ignored() -> None:
    jpeg = _encode(Image.new("RGB", (40, 20), "red"), "JPEG", exif=_exif(orientation=6))
    assert (_process(jpeg, auto_orient=False).width, _process(jpeg, auto_orient=False).height) == (40, 20)


@pytest.mark.parametrize("format", ["jpeg", "png", "webp"])
def test_exif_is_dropped_from_the_output(format: str) -> None:
    jpeg = _encode(Image.new("RGB", (40, 20), "red"), "JPEG", exif=_exif(orientation=6))
    assert dict(_open(_process(jpeg, format=format)).getexif()) == {}


def test_a_16_bit_greyscale_png_is_scaled_to_8_bits_not_clipped() -> None:
    ramp = b"".join((value * 257).to_bytes(2, "little") for value in range(256)) * 4
    png = _encode(Image.frombytes("I;16", (256, 4), ramp), "PNG")
    assert Image.open(io.BytesIO(png)).mode == "I;16"
    image = _open(_process(png, format="png"))
    assert image.mode == "L"
    assert [image.getpixel((x, 0)) for x in (0, 1, 128, 254, 255)] == [0, 1, 128, 254, 255]


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (16, 16), 0)
    image.putpalette([255, 0, 0, 0, 255, 0])
    image.paste(1, (8, 8, 16, 16))
    return _encode(image, "PNG", transparency=0)


def test_a_palette_png_with_transparency_stays_transparent_as_png() -> None:
    image = _open(_process(_palette_with_transparency(), format="png"))
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((12, 12)) == (0, 255, 0, 255)


def test_a_palette_png_with_transparency_is_flattened_on_white_as_jpeg() -> None:
    image = _open(_process(_palette_with_transparency(), format="jpeg", quality=95))
    assert image.mode == "RGB"
    assert _near(image.getpixel((2, 2)), (255, 255, 255))
    assert _near(image.getpixel((13, 13)), (0, 255, 0), tolerance=30)


def test_a_greyscale_png_with_alpha_keeps_it_as_png_and_loses_it_as_jpeg() -> None:
    png = _encode(Image.new("LA", (8, 8), (40, 0)), "PNG")
    assert _open(_process(png, format="png")).getpixel((0, 0)) == (40, 0)
    as_jpeg = _open(_process(png, format="jpeg"))
    assert as_jpeg.mode == "L"
    assert as_jpeg.getpixel((4, 4)) >= 250


def test_a_bilevel_png_is_processed_as_greyscale() -> None:
    image = _open(_process(_encode(Image.new("1", (8, 8), 1), "PNG"), format="png", contrast=1.5))
    assert (image.mode, image.getpixel((0, 0))) == ("L", 255)


# ---------------------------------------------------------------------------------------------------- parameters


def test_max_side_shrinks_the_longest_side_and_keeps_the_aspect_ratio() -> None:
    result = _process(_encode(_noise((400, 200)), "PNG"), max_side=100)
    assert (result.width, result.height) == _open(result).size == (100, 50)


def test_max_side_never_enlarges() -> None:
    result = _process(_encode(_noise((40, 20)), "PNG"), max_side=100)
    assert (result.width, result.height) == (40, 20)


def test_a_jpeg_that_will_be_shrunk_is_decoded_at_a_reduced_scale() -> None:
    jpeg = _encode(_noise((1600, 800)), "JPEG")
    decoded = decode(io.BytesIO(jpeg), "image/jpeg", max_pixels=40_000_000, max_side=100)
    assert decoded.image.size == (200, 100)  # 1/8 scale, still at least the 100 × 50 it is shrunk to
    assert (_process(jpeg, max_side=100).width, _process(jpeg, max_side=100).height) == (100, 50)


@pytest.mark.parametrize(
    ("format", "content_type", "extension", "pillow_format"),
    [
        ("jpeg", "image/jpeg", "jpg", "JPEG"),
        ("png", "image/png", "png", "PNG"),
        ("webp", "image/webp", "webp", "WEBP"),
    ],
)
@pytest.mark.parametrize("source_format", ["JPEG", "PNG", "WEBP"])
def test_each_output_format_decodes_back_to_the_expected_size_and_mode(
    source_format: str, format: str, content_type: str, extension: str, pillow_format: str
) -> None:
    result = _process(_encode(_noise((64, 48)), source_format), format=format)
    image = _open(result)
    assert (result.content_type, result.extension) == (content_type, extension)
    assert (image.format, image.mode, image.size) == (pillow_format, "RGB", (64, 48))


@pytest.mark.parametrize("format", ["jpeg", "webp"])
def test_quality_changes_the_file_size(format: str) -> None:
    png = _encode(_noise(), "PNG")
    assert len(_process(png, format=format, quality=20).data) < len(_process(png, format=format, quality=95).data) / 2


def test_brightness_contrast_and_sharpness_change_the_pixels() -> None:
    png = _encode(Image.new("RGB", (8, 8), (100, 100, 100)), "PNG")
    assert _open(_process(png, format="png", brightness=2.0)).getpixel((4, 4)) == (200, 200, 200)
    assert _open(_process(png, format="png", brightness=0.5)).getpixel((4, 4)) == (50, 50, 50)
    noise = _encode(_noise((32, 32)), "PNG")
    plain = _open(_process(noise, format="png"))
    assert _open(_process(noise, format="png", sharpness=3.0)).tobytes() != plain.tobytes()
    low_contrast = _open(_process(noise, format="png", contrast=0.2))
    assert max(high - low for low, high in low_contrast.getextrema()) < min(
        high - low for low, high in plain.getextrema()
    )


def test_white_background_turns_near_white_pure_white_and_leaves_the_rest() -> None:
    image = Image.new("RGB", (30, 10), (250, 250, 250))
    image.paste((100, 100, 100), (10, 0, 20, 10))
    image.paste((250, 250, 100), (20, 0, 30, 10))
    result = _open(_process(_encode(image, "PNG"), format="png", white_background=True))
    assert result.getpixel((5, 5)) == (255, 255, 255)
    assert result.getpixel((15, 5)) == (100, 100, 100)
    assert result.getpixel((25, 5)) == (250, 250, 100), "every channel must reach the threshold"


def test_white_background_respects_the_threshold() -> None:
    png = _encode(Image.new("RGB", (4, 4), (240, 240, 240)), "PNG")
    assert _open(_process(png, format="png", white_background=True)).getpixel((0, 0)) == (255, 255, 255)
    strict = _process(png, format="png", white_background=True, background_threshold=245)
    assert _open(strict).getpixel((0, 0)) == (240, 240, 240)


def test_white_background_flattens_transparency_even_as_png() -> None:
    png = _encode(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "PNG")
    image = _open(_process(png, format="png", white_background=True))
    assert (image.mode, image.getpixel((0, 0))) == ("RGB", (255, 255, 255))


def test_without_white_background_near_white_is_left_alone() -> None:
    png = _encode(Image.new("RGB", (4, 4), (250, 250, 250)), "PNG")
    assert _open(_process(png, format="png")).getpixel((0, 0)) == (250, 250, 250)


# ---------------------------------------------------------------------------------------------------- format limits


def _blank_png(width: int, height: int) -> bytes:
    return _encode(Image.new("RGB", (width, height), (200, 30, 30)), "PNG")


@pytest.mark.parametrize(
    ("size", "format", "label", "limit"),
    [
        ((17_000, 100), "webp", "WebP", 16_383),
        ((100, 17_000), "webp", "WebP", 16_383),
        ((70_000, 10), "jpeg", "JPEG", 65_500),
    ],
)
def test_an_image_larger_than_its_output_format_allows_is_refused_with_the_limit(
    size: tuple[int, int], format: str, label: str, limit: int
) -> None:
    with pytest.raises(ImageTooLargeForFormat) as caught:
        _process(_blank_png(*size), format=format)
    error = caught.value
    assert error.details == {"width": size[0], "height": size[1], "format": label, "limit": limit}
    assert f"{limit:,}" in error.message("en")
    assert error.message("zh-CN").startswith(f"图片为 {size[0]}×{size[1]} 像素；{label} 格式每边最多 {limit:,} 像素")


def test_webp_takes_an_image_as_wide_as_its_limit() -> None:
    result = _process(_blank_png(16_383, 1), format="webp")
    assert (result.width, result.height) == _open(result).size == (16_383, 1)


def test_max_side_brings_an_image_within_its_output_format() -> None:
    result = _process(_blank_png(17_000, 100), format="webp", max_side=8_000)
    assert (result.width, result.height) == (8_000, 47)


def test_png_takes_an_image_wider_than_jpeg_allows() -> None:
    result = _process(_blank_png(70_000, 10), format="png")
    assert (result.width, result.height) == (70_000, 10)


# ---------------------------------------------------------------------------------------------------- params model


@pytest.mark.parametrize(
    "params",
    [
        {"brightness": 0.1},
        {"brightness": 3.5},
        {"contrast": 0.0},
        {"sharpness": -0.1},
        {"sharpness": 4.5},
        {"max_side": 15},
        {"max_side": 8001},
        {"background_threshold": 199},
        {"background_threshold": 255},
        {"quality": 0},
        {"quality": 101},
        {"format": "gif"},
        {"resize": 100},
    ],
)
def test_image_params_refuse_out_of_range_values_and_unknown_fields(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ImageParams(**params)


def test_image_params_defaults_leave_the_image_as_it_is_as_a_jpeg() -> None:
    assert ImageParams().model_dump() == {
        "brightness": 1.0,
        "contrast": 1.0,
        "sharpness": 1.0,
        "auto_orient": True,
        "max_side": None,
        "white_background": False,
        "background_threshold": 235,
        "format": "jpeg",
        "quality": 90,
    }


def test_every_param_has_an_english_title_and_description_and_a_chinese_title() -> None:
    properties = ImageParams.model_json_schema()["properties"]
    assert len(properties) == 9
    for name, schema in properties.items():
        assert schema["title"], name
        assert schema["description"], name
        assert any("\u4e00" <= character <= "\u9fff" for character in schema["title_zh"]), name


# ---------------------------------------------------------------------------------------------------- messages


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html></html>",
        _png_by_hand(8, 8, b"not zlib at all"),
        _png_by_hand(10_000, 10_000, b""),
        _encode(Image.new("RGB", (4, 4)), "GIF"),
        _encode(Image.new("L", (70_000, 10)), "PNG"),
    ],
    ids=["empty", "html", "damaged", "too-large", "gif", "too-wide-for-jpeg"],
)
def test_every_error_reads_in_chinese(data: bytes) -> None:
    error = _error(data)
    assert any("\u4e00" <= character <= "\u9fff" for character in error.message("zh-CN")), error.message("zh-CN")
    assert error.message("en") != error.message("zh-CN")
