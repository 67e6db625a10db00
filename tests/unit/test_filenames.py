"""Download names: hostile upload names made safe, duplicates numbered, and the header that carries them."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

import pytest

from batchyard.core.filenames import MAX_NAME_BYTES, UniqueNames, content_disposition, safe_name, with_extension


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\x\\y.jpg", "y.jpg"),
        ("a\x00b.jpg", "ab.jpg"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ('what<>:"|?*.jpg', "what.jpg"),
        ("..hidden.txt. ", "hidden.txt"),
        ("gpj\u202e.exe", "gpj.exe"),
        ("bad\udcff.jpg", "bad.jpg"),
        ("连衣裙 白色.jpg", "连衣裙 白色.jpg"),
        ("Ünïcödé.png", "Ünïcödé.png"),
    ],
)
def test_hostile_names_become_plain_file_names(name: str, safe: str) -> None:
    assert safe_name(name) == safe


@pytest.mark.parametrize("name", ["CON.txt", "con", "NUL.tar.gz", "com1.jpg", "LPT9", "aux .txt", "COM¹.jpg"])
def test_windows_device_names_get_an_underscore(name: str) -> None:
    assert safe_name(name) == f"_{name}"


@pytest.mark.parametrize("name", ["CONSOLE.txt", "icon.png", "NULL", "COM10.txt"])
def test_names_that_merely_start_like_a_device_are_kept(name: str) -> None:
    assert safe_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "...", "   ", "a/", "..\\..\\", "\x00\x01", "<>"])
def test_nothing_left_gives_the_fallback(name: str) -> None:
    assert safe_name(name, fallback="image.png") == "image.png"


def test_names_are_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "café.jpg")
    assert safe_name(decomposed) == "café.jpg"
    assert safe_name(decomposed) != decomposed


def test_a_long_chinese_name_is_cut_on_a_character_boundary_keeping_its_extension() -> None:
    name = "连衣裙" * 34 + ".jpeg"  # 306 bytes of Chinese
    safe = safe_name(name)
    assert len(safe.encode()) <= MAX_NAME_BYTES
    assert safe.endswith(".jpeg")
    assert set(safe.removesuffix(".jpeg")) <= set("连衣裙")
    assert safe.startswith("连衣裙连衣裙")


def test_a_long_name_with_an_overlong_extension_is_cut_as_a_whole() -> None:
    safe = safe_name("a." + "b" * 300)
    assert safe == ("a." + "b" * 300)[:MAX_NAME_BYTES]


def test_a_cut_never_leaves_a_trailing_dot_or_space() -> None:
    name = "x" * (MAX_NAME_BYTES - 5) + ". . . . . . . .txt"
    safe = safe_name(name)
    assert len(safe.encode()) <= MAX_NAME_BYTES
    assert not safe.removesuffix(".txt").endswith((".", " "))


def test_duplicates_are_numbered_in_order() -> None:
    names = UniqueNames()
    assert [names.assign(n) for n in ["a.jpg", "b.jpg", "a.jpg", "a.jpg", "README", "README"]] == [
        "a.jpg",
        "b.jpg",
        "a (2).jpg",
        "a (3).jpg",
        "README",
        "README (2)",
    ]


def test_a_number_never_collides_with_a_name_seen_literally() -> None:
    names = UniqueNames()
    assert [names.assign(n) for n in ["a.jpg", "a (2).jpg", "a.jpg"]] == ["a.jpg", "a (2).jpg", "a (3).jpg"]


def test_a_literal_name_taken_by_an_earlier_number_is_numbered_itself() -> None:
    names = UniqueNames()
    assert [names.assign(n) for n in ["a.jpg", "a.jpg", "a (2).jpg"]] == ["a.jpg", "a (2).jpg", "a (2) (2).jpg"]


def test_names_differing_only_by_case_are_duplicates() -> None:
    names = UniqueNames()
    assert [names.assign(n) for n in ["Photo.JPG", "photo.jpg", "PHOTO.jpg"]] == [
        "Photo.JPG",
        "photo (2).jpg",
        "PHOTO (3).jpg",
    ]


def test_names_differing_only_by_normalisation_are_duplicates() -> None:
    names = UniqueNames()
    names.assign(unicodedata.normalize("NFC", "café.jpg"))
    assert names.assign(unicodedata.normalize("NFD", "café.jpg")).endswith(" (2).jpg")


def test_many_duplicates_stay_unique() -> None:
    names = UniqueNames()
    assigned = [names.assign("x.png") for _ in range(500)]
    assert len({n.casefold() for n in assigned}) == 500
    assert assigned[-1] == "x (500).png"


@pytest.mark.parametrize(
    ("name", "extension", "renamed"),
    [
        ("x.jpg", "png", "x.png"),
        ("x.jpeg", ".png", "x.png"),
        ("x", "png", "x.png"),
        ("x.PNG", "png", "x.png"),
        ("archive.tar.gz", "png", "archive.tar.png"),
        ("连衣裙.webp", "png", "连衣裙.png"),
        ("x.jpg", "", "x"),
    ],
)
def test_with_extension_replaces_or_adds_the_extension(name: str, extension: str, renamed: str) -> None:
    assert with_extension(name, extension) == renamed


def test_an_ascii_name_is_sent_as_it_is() -> None:
    assert content_disposition("batch_12.zip") == "attachment; filename=\"batch_12.zip\"; filename*=UTF-8''batch_12.zip"


def test_inline_disposition() -> None:
    assert content_disposition("x.png", inline=True).startswith('inline; filename="x.png"')


def test_a_chinese_name_has_an_ascii_fallback_and_the_exact_name_encoded() -> None:
    header = content_disposition("连衣裙 白色.jpg")
    assert header.startswith("attachment; filename=\"___ __.jpg\"; filename*=UTF-8''")
    assert header.isascii()
    assert unquote(header.split("UTF-8''", 1)[1]) == "连衣裙 白色.jpg"


def test_quotes_and_backslashes_are_escaped_in_the_fallback() -> None:
    header = content_disposition('say "hi"\\.txt')
    assert 'filename="say \\"hi\\"\\\\.txt"' in header
    assert unquote(header.split("UTF-8''", 1)[1]) == 'say "hi"\\.txt'


def test_percent_signs_cannot_be_decoded_from_the_fallback() -> None:
    assert 'filename="100_41.txt"' in content_disposition("100%41.txt")


@pytest.mark.parametrize("name", ["a\r\nSet-Cookie: x=1.txt", "a\rb\nc\x00.txt", "\r\n"])
def test_no_line_break_can_reach_the_header(name: str) -> None:
    header = content_disposition(name)
    assert "\r" not in header
    assert "\n" not in header
    assert "\x00" not in header
    assert "filename=" in header
