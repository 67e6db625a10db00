"""What a file really is, judged from its first bytes — never from its name or the type its uploader claimed.

Plain Python on purpose: uploads are checked with it before any decoder sees them, and an error message can say
"the file is an HTML page" instead of "cannot identify image file".
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable
from dataclasses import dataclass

SNIFF_BYTES = 4096
"""How many leading bytes a caller must pass to :func:`sniff` (fewer only when the file is shorter)."""


@dataclass(frozen=True, slots=True)
class Sniffed:
    """A file's type as its content shows it: a MIME type, the extension to store it under, and its name for people."""

    content_type: str
    extension: str
    label: str
    label_zh: str = ""


JPEG = Sniffed("image/jpeg", "jpg", "a JPEG image", "JPEG 图片")
PNG = Sniffed("image/png", "png", "a PNG image", "PNG 图片")
WEBP = Sniffed("image/webp", "webp", "a WebP image", "WebP 图片")
GIF = Sniffed("image/gif", "gif", "a GIF image", "GIF 图片")
BMP = Sniffed("image/bmp", "bmp", "a BMP image", "BMP 图片")
TIFF = Sniffed("image/tiff", "tiff", "a TIFF image", "TIFF 图片")
HEIC = Sniffed("image/heic", "heic", "a HEIC image", "HEIC 图片")
AVIF = Sniffed("image/avif", "avif", "an AVIF image", "AVIF 图片")
MP4 = Sniffed("video/mp4", "mp4", "an MP4 media file", "MP4 媒体文件")
PDF = Sniffed("application/pdf", "pdf", "a PDF document", "PDF 文档")
ZIP = Sniffed("application/zip", "zip", "a ZIP archive", "ZIP 压缩包")
XLSX = Sniffed(
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", "an Excel workbook", "Excel 工作簿"
)
DOCX = Sniffed(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", "a Word document", "Word 文档"
)
PPTX = Sniffed(
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pptx",
    "a PowerPoint presentation",
    "PowerPoint 演示文稿",
)
GZIP = Sniffed("application/gzip", "gz", "a gzip archive", "gzip 压缩包")
HTML = Sniffed("text/html", "html", "an HTML page", "HTML 网页")
SVG = Sniffed("image/svg+xml", "svg", "an SVG image", "SVG 图片")
XML = Sniffed("application/xml", "xml", "an XML document", "XML 文档")
TEXT = Sniffed("text/plain", "txt", "a text file", "文本文件")
BINARY = Sniffed("application/octet-stream", "bin", "unrecognised binary data", "无法识别的二进制数据")
EMPTY = Sniffed("application/x-empty", "", "an empty file", "空文件")

_KINDS: tuple[Sniffed, ...] = (
    *(JPEG, PNG, WEBP, GIF, BMP, TIFF, HEIC, AVIF, MP4, PDF, ZIP, XLSX, DOCX, PPTX, GZIP, HTML, SVG, XML),
    *(TEXT, BINARY, EMPTY),
)
_KNOWN = {kind.content_type: kind for kind in _KINDS}


def described(content_type: str) -> Sniffed:
    """The kind a stored content type stands for, with its names for people in both languages."""
    short = content_type.rpartition("/")[2].upper()
    return _KNOWN.get(content_type) or Sniffed(content_type, "", short, short)


IMAGE_TYPES = frozenset({JPEG.content_type, PNG.content_type, WEBP.content_type})
"""The content types the built-in ``images`` job accepts."""

_PREFIXES: tuple[tuple[bytes, Sniffed], ...] = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"%PDF-", PDF),
    (b"\x1f\x8b", GZIP),
)
_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})  # the DIB header sizes real BMP files use
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_OFFICE_FOLDERS = (("xl/", XLSX), ("word/", DOCX), ("ppt/", PPTX))
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HTML_STARTS = ("<!doctype html", "<html", "<head", "<body", "<script", "<iframe")
_TEXT_BYTES = bytes(range(0x20, 0x7F)) + b"\t\n\r\f\x1b" + bytes(range(0x80, 0x100))
_MAX_CONTROL_RATIO = 0.01  # a stray control character or two is still text; binary formats are full of them


def sniff(head: bytes) -> Sniffed:
    """The type of a file whose first :data:`SNIFF_BYTES` bytes (or all of it, when shorter) are ``head``."""
    if not head:
        return EMPTY
    for check in _BINARY_CHECKS:
        if found := check(head):
            return found
    return _sniff_text(head)


def _by_prefix(head: bytes) -> Sniffed | None:
    return next((found for prefix, found in _PREFIXES if head.startswith(prefix)), None)


def _webp(head: bytes) -> Sniffed | None:
    return WEBP if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else None


def _bmp(head: bytes) -> Sniffed | None:
    """A "BM" prefix alone would catch text starting with those letters; a known DIB header size after it won't."""
    if not head.startswith(b"BM") or len(head) < 18:
        return None
    return BMP if struct.unpack_from("<I", head, 14)[0] in _BMP_HEADER_SIZES else None


def _iso_media(head: bytes) -> Sniffed | None:
    """HEIC, AVIF and MP4 share one container (an ``ftyp`` box first); its brands say which it is."""
    if head[4:8] != b"ftyp" or len(head) < 12:
        return None
    box_end = min(struct.unpack_from(">I", head, 0)[0], len(head))
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if brands & _AVIF_BRANDS:
        return AVIF
    return HEIC if brands & _HEIC_BRANDS else MP4


def _zip(head: bytes) -> Sniffed | None:
    """A ZIP archive; an Office file when one of the entries named in the head lives in its folder."""
    if not head.startswith((_ZIP_LOCAL_HEADER, b"PK\x05\x06")):
        return None
    names = _zip_entry_names(head)
    for folder, found in _OFFICE_FOLDERS:
        if any(name.startswith(folder) for name in names):
            return found
    # Excel writes "[Content_Types].xml" first and the workbook's own parts may lie past the head.
    return XLSX if "[Content_Types].xml" in names else ZIP


def _zip_entry_names(head: bytes) -> list[str]:
    """The names of the local file headers that start inside ``head`` (found by signature, not by walking)."""
    names: list[str] = []
    start = head.find(_ZIP_LOCAL_HEADER)
    while start != -1 and start + 30 <= len(head):
        name_length = struct.unpack_from("<H", head, start + 26)[0]
        names.append(head[start + 30 : start + 30 + name_length].decode("utf-8", "replace"))
        start = head.find(_ZIP_LOCAL_HEADER, start + 4)
    return names


_BINARY_CHECKS: tuple[Callable[[bytes], Sniffed | None], ...] = (_by_prefix, _webp, _bmp, _iso_media, _zip)


def _sniff_text(head: bytes) -> Sniffed:
    """Markup or plain text when the head reads as text; anything else is binary."""
    text = _as_text(head)
    if text is None:
        return BINARY
    return _markup(text.lstrip("\ufeff \t\r\n\f").lower()) or TEXT


def _as_text(head: bytes) -> str | None:
    """The head decoded, or ``None`` for binary. A multi-byte character cut off at the end is no reason to refuse."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            try:
                return codecs.getincrementaldecoder(encoding)().decode(head[len(bom) :], final=False)
            except UnicodeDecodeError:
                return None
    if b"\x00" in head or len(head.translate(None, _TEXT_BYTES)) > len(head) * _MAX_CONTROL_RATIO:
        return None
    # Text in a legacy encoding (GBK, Latin-1) is still text; only the markup checks read it, and they are ASCII.
    return head.decode("latin-1")


def _markup(start: str) -> Sniffed | None:
    """HTML, SVG or XML by how the (lower-cased, left-trimmed) text begins."""
    if start.startswith(_HTML_STARTS):
        return HTML
    if start.startswith(("<svg", "<!doctype svg")):
        return SVG
    if start.startswith("<?xml"):
        return _xml_kind(start)
    return None


def _xml_kind(start: str) -> Sniffed:
    """An XML prolog is followed by the document's root: an SVG or XHTML one matters to whoever opens it."""
    if "<svg" in start:
        return SVG
    return HTML if "<html" in start else XML
