"""Sniffing a file's type from its first bytes: images, documents, archives, markup and text, whatever its name."""

from __future__ import annotations

import gzip
import io
import random
import zipfile

import pytest
from PIL import Image

from batchyard.core.sniff import IMAGE_TYPES, SNIFF_BYTES, sniff


def _pillow_file(format: str, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (8, 8), "red" if mode == "RGB" else 1).save(buffer, format)
    return buffer.getvalue()


def _zip_file(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(name, "<x/>" * 50)
    return buffer.getvalue()


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00\x00\x00\x08mdat"


@pytest.mark.parametrize(
    ("head", "content_type", "extension"),
    [
        (_pillow_file("JPEG"), "image/jpeg", "jpg"),
        (_pillow_file("PNG"), "image/png", "png"),
        (_pillow_file("WEBP"), "image/webp", "webp"),
        (_pillow_file("GIF"), "image/gif", "gif"),
        (_pillow_file("BMP"), "image/bmp", "bmp"),
        (_pillow_file("TIFF"), "image/tiff", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff", "tiff"),
        (_ftyp(b"heic", b"mif1", b"heic"), "image/heic", "heic"),
        (_ftyp(b"mif1", b"mif1", b"avif"), "image/avif", "avif"),
        (_ftyp(b"avif", b"avif"), "image/avif", "avif"),
        (_ftyp(b"isom", b"isom", b"mp41"), "video/mp4", "mp4"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf", "pdf"),
        (gzip.compress(b"a,b\n1,2\n", mtime=0), "application/gzip", "gz"),
        (_zip_file("notes.txt", "more.txt"), "application/zip", "zip"),
    ],
)
def test_binary_formats_are_known_by_their_magic_bytes(head: bytes, content_type: str, extension: str) -> None:
    sniffed = sniff(head[:SNIFF_BYTES])
    assert (sniffed.content_type, sniffed.extension) == (content_type, extension)


@pytest.mark.parametrize(
    ("names", "extension"),
    [
        (("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml"), "xlsx"),
        (("docProps/app.xml", "docProps/core.xml", "xl/styles.xml"), "xlsx"),
        (("[Content_Types].xml", "word/document.xml"), "docx"),
        (("[Content_Types].xml", "ppt/presentation.xml"), "pptx"),
        (("[Content_Types].xml",), "xlsx"),
    ],
)
def test_office_files_are_told_apart_from_plain_zips_by_their_entry_names(
    names: tuple[str, ...], extension: str
) -> None:
    assert sniff(_zip_file(*names)[:SNIFF_BYTES]).extension == extension


@pytest.mark.parametrize(
    "head",
    [
        b"<!DOCTYPE html><html><body>hi</body></html>",
        b"\xef\xbb\xbf \r\n\t<!doctype HTML>",
        b"   <HTML lang='en'>",
        b"<head><title>x</title></head>",
        b"<script>alert(1)</script>",
        b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">',
        "<html><body>".encode("utf-16"),
    ],
)
def test_html_is_recognised_after_whitespace_and_byte_order_marks_in_any_case(head: bytes) -> None:
    sniffed = sniff(head)
    assert (sniffed.content_type, sniffed.label) == ("text/html", "an HTML page")


def test_svg_and_other_xml_are_told_apart() -> None:
    assert sniff(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>').content_type == "image/svg+xml"
    assert sniff(b'<svg width="1" height="1"></svg>').content_type == "image/svg+xml"
    assert sniff(b'<?xml version="1.0"?>\n<orders><order id="1"/></orders>').content_type == "application/xml"


@pytest.mark.parametrize(
    "head",
    [
        b"name,price\nshirt,9.90\n",
        "名字,价格\n衬衫,9.90\n".encode(),
        "名字,价格\n衬衫,9.90\n".encode("gbk"),
        "\ufeff名字,价格\n".encode("utf-8"),
        "\ufeff名字,价格\n".encode("utf-16"),
        "\ufeff名字,价格\n".encode("utf-16-be"),
        b"BM is how this line starts, and it is still text\n",
    ],
)
def test_csv_and_other_text_in_common_encodings_is_plain_text(head: bytes) -> None:
    sniffed = sniff(head)
    assert (sniffed.content_type, sniffed.extension, sniffed.label) == ("text/plain", "txt", "a text file")


def test_text_cut_inside_a_multibyte_character_at_the_sniff_limit_is_still_text() -> None:
    text = ("价格," * 2000).encode()
    assert len(text) > SNIFF_BYTES
    assert text[:SNIFF_BYTES].decode("utf-8", "ignore").encode() != text[:SNIFF_BYTES], "the cut must split a character"
    assert sniff(text[:SNIFF_BYTES]).content_type == "text/plain"


def test_random_bytes_and_text_with_nul_bytes_are_binary() -> None:
    assert sniff(random.Random(7).randbytes(SNIFF_BYTES)).content_type == "application/octet-stream"
    assert sniff(b"name,price\x00\x01\x02\x03").content_type == "application/octet-stream"


def test_an_empty_head_is_an_empty_file() -> None:
    assert sniff(b"").label == "an empty file"


@pytest.mark.parametrize(
    ("head", "label"),
    [
        (_pillow_file("GIF"), "a GIF image"),
        (b"<html>", "an HTML page"),
        (b"%PDF-1.4", "a PDF document"),
        (_pillow_file("JPEG"), "a JPEG image"),
    ],
)
def test_labels_read_well_in_an_error_message(head: bytes, label: str) -> None:
    sniffed = sniff(head)
    assert sniffed.label == label
    assert any("\u4e00" <= character <= "\u9fff" for character in sniffed.label_zh)


def test_the_images_job_accepts_jpeg_png_and_webp_only() -> None:
    assert frozenset({"image/jpeg", "image/png", "image/webp"}) == IMAGE_TYPES
    assert sniff(_pillow_file("GIF")).content_type not in IMAGE_TYPES


def test_every_kind_a_stored_upload_can_have_is_named_in_both_languages() -> None:
    from batchyard.core.sniff import BINARY, TEXT, described

    assert (described(TEXT.content_type).label, described(TEXT.content_type).label_zh) == ("a text file", "文本文件")
    assert described(BINARY.content_type).label_zh == "无法识别的二进制数据"
    assert described("application/x-unknown").label == "X-UNKNOWN"
