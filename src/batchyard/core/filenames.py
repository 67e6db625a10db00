"""File names users download: safe on Windows, macOS and Linux and inside a ZIP, unique within one archive,
and carried in a ``Content-Disposition`` header that every browser reads the same way.

Names come from uploads, so they are hostile until cleaned: a path (``../../etc/passwd``), a device
(``CON.txt``), control characters, or 300 bytes of Chinese. Non-ASCII names are kept: ``连衣裙 白色.jpg`` is a
good name.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from urllib.parse import quote

MAX_NAME_BYTES = 180  # well under the 255 bytes of ext4/APFS/NTFS, leaving room for " (12)" from UniqueNames
_MAX_EXTENSION_CHARS = 16  # a longer "extension" is part of the name, not a file type worth keeping

_SEPARATORS = re.compile(r"[/\\]")
_FORBIDDEN = frozenset('<>:"|?*')
# Bidirectional overrides make "gpj.exe" display as "exe.jpg"; they have no place in a file name.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{device}{n}" for device in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]]
)


def safe_name(name: str, *, fallback: str = "file") -> str:
    """The last path component of ``name``, cleaned so every file system and unzip tool accepts it as it is."""
    cleaned = _strip_ends(_drop_unsafe_characters(_last_component(unicodedata.normalize("NFC", name))))
    if not cleaned:
        return fallback
    return _strip_ends(_truncate(_unreserve(cleaned))) or fallback


def _last_component(name: str) -> str:
    return _SEPARATORS.split(name)[-1]


def _drop_unsafe_characters(name: str) -> str:
    return "".join(char for char in name if _is_safe(char))


def _is_safe(char: str) -> bool:
    # Cc: control characters (NUL, CR, LF, DEL, C1); Cs: lone surrogates, which cannot even be encoded as UTF-8.
    return char not in _FORBIDDEN and char not in _BIDI_CONTROLS and unicodedata.category(char) not in ("Cc", "Cs")


def _strip_ends(name: str) -> str:
    """Windows drops trailing dots and spaces, and a leading dot hides a file elsewhere; ``.``/``..`` vanish."""
    return name.strip(" .")


def _unreserve(name: str) -> str:
    """``CON.txt`` opens the console on Windows, whatever the extension; ``_CON.txt`` is a file."""
    device = name.split(".", 1)[0].rstrip(" ").upper()
    return f"_{name}" if device in _RESERVED else name


def _truncate(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, extension = _split_extension(name)
    budget = MAX_NAME_BYTES - len(extension.encode())
    # Decoding with "ignore" drops a character cut in half, so the cut falls on a character boundary.
    return stem.encode()[:budget].decode(errors="ignore").rstrip(" .") + extension


def _split_extension(name: str) -> tuple[str, str]:
    stem, extension = posixpath.splitext(name)
    if len(extension) > _MAX_EXTENSION_CHARS or extension == ".":
        return name, ""
    return stem, extension


def with_extension(name: str, extension: str) -> str:
    """``name`` with its extension replaced (or added): an image converted to PNG is ``x.png``, not ``x.jpg``."""
    suffix = extension.lstrip(".")
    stem = posixpath.splitext(name)[0]
    return f"{stem}.{suffix}" if suffix else stem


class UniqueNames:
    """Gives each name in turn a name no earlier one has, compared as Windows and macOS compare names
    (ignoring case): ``a.jpg, a (2).jpg, a.jpg`` → ``a.jpg, a (2).jpg, a (3).jpg``. The same inputs in the
    same order always get the same names, so a download is reproducible."""

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._next_number: dict[str, int] = {}

    def assign(self, name: str) -> str:
        """``name`` if no earlier name is the same ignoring case, else ``stem (n).ext`` with the lowest free n."""
        key = _fold(name)
        if key not in self._taken:
            self._taken.add(key)
            return name
        return self._numbered(name, key)

    def _numbered(self, name: str, key: str) -> str:
        stem, extension = _split_extension(name)
        number = self._next_number.get(key, 2)
        while _fold(candidate := f"{stem} ({number}){extension}") in self._taken:
            number += 1
        self._next_number[key] = number + 1
        self._taken.add(_fold(candidate))
        return candidate


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """The header that names a download: an ASCII ``filename`` for old clients and the exact name in
    ``filename*`` (RFC 6266, RFC 5987), which every current browser prefers. No control character survives,
    so the value can never split the header."""
    name = _drop_controls(unicodedata.normalize("NFC", filename)) or "download"
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


def _drop_controls(name: str) -> str:
    return "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cs"))


def _ascii_fallback(name: str) -> str:
    # Some clients percent-decode the plain parameter (RFC 6266 appendix D), so "%" is replaced too.
    ascii_name = "".join(char if " " <= char < "\x7f" and char != "%" else "_" for char in name)
    return ascii_name.replace("\\", "\\\\").replace('"', '\\"')
