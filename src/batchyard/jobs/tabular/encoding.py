"""Which text encoding an uploaded table is in, judged from its first bytes, or checked when the user names one.

The order matters: UTF-8 is tried before GB18030 because nearly any UTF-8 text is also valid GB18030 (as mojibake),
and GB18030 before charset-normalizer because Excel in China writes GBK, which a statistical guess often takes for
something else on short files.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

from batchyard.errors import InvalidParams

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def detect_encoding(head: bytes) -> str:
    """The codec name to read a text file starting with ``head`` (a few KiB or all of it) with.

    A multi-byte character cut off at the end of ``head`` is no reason to refuse an encoding: the head is a cut.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(_UTF16_BOMS):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        if _decodes(head, encoding):
            return encoding
    return _best_guess(head)


def check_encoding(name: str, head: bytes = b"") -> str:
    """``name``, the encoding a user asked for, once Python knows it; UTF-8 reads past a BOM when ``head`` has one."""
    try:
        codec = codecs.lookup(name)
    except LookupError:
        raise InvalidParams(reason=f"unknown encoding {name!r}") from None
    if not getattr(codec, "_is_text_encoding", True):  # rot13, hex, zlib: codecs, but not of text
        raise InvalidParams(reason=f"{name!r} is not a text encoding")
    if codec.name == "utf-8" and head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"  # a BOM left in the first header name would make it match no field
    return name


def _decodes(head: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _best_guess(head: bytes) -> str:
    guess = from_bytes(head).best()
    if guess is None:
        raise InvalidParams(
            reason="the file's text encoding could not be recognised; save it as UTF-8 or name its encoding"
        )
    return guess.encoding
