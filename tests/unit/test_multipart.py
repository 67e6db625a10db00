"""The multipart reader of ``POST /uploads``: files in order, caps, and bodies that are cut, mislabelled or odd."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from batchyard.api.multipart import Caps, MultipartFiles, ReceivedFile
from batchyard.errors import FileTooLarge, InvalidParams

BOUNDARY = b"----batchyard7MA4YWxk"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY.decode()}"
CAPS = Caps(file_bytes=1_000, request_bytes=100_000, files=5)
CLOSING = b"--" + BOUNDARY + b"--\r\n"


def _part(name: str, data: bytes, filename: bytes | None = None) -> bytes:
    disposition = b'form-data; name="' + name.encode() + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    headers = b"Content-Disposition: " + disposition + b"\r\nContent-Type: application/octet-stream\r\n"
    return b"--" + BOUNDARY + b"\r\n" + headers + b"\r\n" + data + b"\r\n"


def _file(data: bytes, filename: bytes = b"a.png", name: str = "files") -> bytes:
    return _part(name, data, filename)


async def _pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _receive(
    body: bytes, *, content_type: str = CONTENT_TYPE, caps: Caps = CAPS, piece: int = 7
) -> list[tuple[ReceivedFile, bytes]]:
    """Each file as yielded, with the bytes its spool held (read before it is closed, as the route would)."""

    async def collect() -> list[tuple[ReceivedFile, bytes]]:
        received = []
        async for file in MultipartFiles(content_type, caps).read(_pieces(body, piece)):
            try:
                received.append((file, file.spool.read()))
            finally:
                file.close()
        return received

    return asyncio.run(collect())


def _reason(body: bytes, *, caps: Caps = CAPS, piece: int = 7) -> str:
    with pytest.raises(InvalidParams) as caught:
        _receive(body, caps=caps, piece=piece)
    return str(caught.value.details["reason"])


# ---------------------------------------------------------------------------------------------------- as before


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_files_arrive_in_order_with_their_bytes_and_plain_fields_are_skipped(piece: int) -> None:
    body = _file(b"one", b"1.png") + _part("note", b"hello") + _file(b"two\r\n--", b"2.png", "file") + CLOSING
    received = _receive(body, piece=piece)
    assert [(file.filename, data, file.too_large) for file, data in received] == [
        ("1.png", b"one", False),
        ("2.png", b"two\r\n--", False),
    ]


def test_a_file_past_its_cap_is_marked_too_large_and_not_kept() -> None:
    body = _file(b"x" * 1_001, b"big.png") + _file(b"small", b"small.png", "files[]") + CLOSING
    received = _receive(body)
    assert [(file.filename, file.size, file.too_large) for file, data in received] == [
        ("big.png", 1_001, True),
        ("small.png", 5, False),
    ]
    assert len(received[0][1]) <= 1_000  # nothing past the cap is kept
    assert received[1][1] == b"small"


def test_a_body_past_the_request_cap_stops_being_read() -> None:
    body = _file(b"x" * 900) + _file(b"y" * 900) + CLOSING
    with pytest.raises(FileTooLarge):
        _receive(body, caps=Caps(file_bytes=1_000, request_bytes=1_500, files=5))


def test_more_files_than_allowed_are_refused() -> None:
    body = b"".join(_file(b"x", f"{i}.png".encode()) for i in range(3)) + CLOSING
    reason = _reason(body, caps=Caps(file_bytes=1_000, request_bytes=100_000, files=2))
    assert reason == "at most 2 files may be sent at once"


def test_a_malformed_body_is_refused() -> None:
    assert _reason(b"--" + BOUNDARY + b"\r\nno colon here\r\n\r\n") == "the multipart body is malformed"


def test_a_content_type_without_a_boundary_is_refused() -> None:
    with pytest.raises(InvalidParams):
        MultipartFiles("multipart/form-data", CAPS)


# ---------------------------------------------------------------------------------------------------- cut bodies

CUT = "the multipart body ended before its closing boundary"


def test_a_body_cut_inside_its_last_file_is_refused_not_shortened() -> None:
    body = _file(b"complete", b"1.png") + _file(b"cut off here", b"2.png")
    assert _reason(body[:-8]) == CUT


def test_a_body_cut_anywhere_before_its_closing_boundary_is_refused() -> None:
    body = _file(b"one", b"1.png") + _file(b"two", b"2.png") + CLOSING
    whole = len(body) - 2  # the CRLF after the closing boundary is optional
    for cut in range(whole):
        assert _reason(body[:cut], piece=5) == CUT, cut
    assert len(_receive(body[:whole])) == 2


def test_an_empty_body_is_refused_as_cut() -> None:
    assert _reason(b"") == CUT


def test_a_body_with_no_parts_but_its_closing_boundary_is_read_as_no_files() -> None:
    assert _receive(CLOSING) == []


# ---------------------------------------------------------------------------------------------------- wrong field


def test_files_under_another_field_are_yielded_as_wrong_field_without_their_bytes() -> None:
    body = _file(b"kept", b"1.png") + _file(b"elsewhere", b"2.png", "image") + _file(b"k2", b"3.png") + CLOSING
    received = _receive(body)
    assert [(file.filename, file.form_field, file.wrong_field, data) for file, data in received] == [
        ("1.png", "files", False, b"kept"),
        ("2.png", "image", True, b""),
        ("3.png", "files", False, b"k2"),
    ]
    assert not received[1][0].too_large


def test_a_large_file_under_another_field_is_not_kept_and_not_too_large() -> None:
    received = _receive(_file(b"x" * 5_000, b"big.png", "upload") + CLOSING)
    assert [(file.wrong_field, file.too_large, data) for file, data in received] == [(True, False, b"")]


def test_files_under_another_field_count_towards_the_files_cap() -> None:
    body = _file(b"x", b"1.png", "image") + _file(b"y", b"2.png", "image") + _file(b"z", b"3.png") + CLOSING
    reason = _reason(body, caps=Caps(file_bytes=1_000, request_bytes=100_000, files=2))
    assert reason == "at most 2 files may be sent at once"


# ---------------------------------------------------------------------------------------------------- media type


@pytest.mark.parametrize(
    "content_type",
    [
        f"text/plain; boundary={BOUNDARY.decode()}",
        f"multipart/mixed; boundary={BOUNDARY.decode()}",
        f"application/x-www-form-urlencoded; boundary={BOUNDARY.decode()}",
    ],
)
def test_a_body_that_is_not_multipart_form_data_is_refused(content_type: str) -> None:
    with pytest.raises(InvalidParams) as caught:
        MultipartFiles(content_type, CAPS)
    assert caught.value.details["reason"] == "the body must be multipart/form-data with a boundary"


def test_the_media_type_is_matched_whatever_its_case() -> None:
    body = _file(b"one") + CLOSING
    assert len(_receive(body, content_type=f"Multipart/Form-Data; boundary={BOUNDARY.decode()}")) == 1


# ---------------------------------------------------------------------------------------------------- file names


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("连衣裙.png".encode(), "连衣裙.png"),
        ("连衣裙.png".encode("gbk"), "连衣裙.png"),  # Windows browsers and curl on Chinese Windows
        ("白色T恤-正面.jpg".encode("gb18030"), "白色T恤-正面.jpg"),
        (b"plain.png", "plain.png"),
        (b"a\xffb.png", "a\ufffdb.png"),  # neither UTF-8 nor GB18030
    ],
)
def test_file_names_are_read_as_utf8_then_gb18030(raw: bytes, name: str) -> None:
    [(file, _)] = _receive(_file(b"x", raw) + CLOSING)
    assert file.filename == name


@pytest.mark.parametrize("charset", ["rot13", "base64", "hex", "utf-16", "no-such-charset"])
def test_a_declared_charset_that_cannot_have_written_a_header_is_ignored(charset: str) -> None:
    content_type = f"{CONTENT_TYPE}; charset={charset}"
    [(file, _)] = _receive(_file(b"x", "连衣裙.png".encode()) + CLOSING, content_type=content_type)
    assert file.filename == "连衣裙.png"


def test_a_declared_gbk_charset_is_read_first() -> None:
    content_type = f"{CONTENT_TYPE}; charset=GBK"
    [(file, _)] = _receive(_file(b"x", "连衣裙.png".encode("gbk")) + CLOSING, content_type=content_type)
    assert file.filename == "连衣裙.png"
