"""Real receivers for notices: a threaded HTTP server that records every webhook POST and answers from a
script, and a local SMTP server (aiosmtpd) that keeps every message it is given."""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does with ``X-Batchyard-Signature`` (the five lines of docs/reference/http.md)."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers the n-th POST with ``answers[n]`` (then ``default``). ``delay``: seconds before answering;
    ``drip``: send the answer's headers one byte every ``drip`` seconds, for ever; ``body_size``: bytes of
    body sent."""

    answers: list[int] = field(default_factory=list)
    default: int = 200
    delay: float = 0.0
    drip: float | None = None
    body_size: int = 2
    location: str | None = None  # sent as the Location header (a redirect)
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, hit: Hit) -> int:
        with self._lock:
            self.hits.append(hit)
            n = len(self.hits) - 1
        return self.answers[n] if n < len(self.answers) else self.default

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while len(self.hits) < count:
            assert time.monotonic() < deadline, f"{len(self.hits)} of {count} webhook calls arrived"
            time.sleep(0.02)
        return list(self.hits)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.answer(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            time.sleep(receiver.delay)
            if receiver.drip is not None:
                self._trickle(status, receiver.drip)
                return
            self.send_response(status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", str(receiver.body_size))
            self.end_headers()
            self._write(b"x" * receiver.body_size)

        def _trickle(self, status: int, every: float) -> None:
            """Headers that never end: each byte well within any read timeout, the whole for ever."""
            self._write(f"HTTP/1.1 {status} OK\r\nX-Slow: ".encode())
            while self._write(b"a"):
                time.sleep(every)

        def _write(self, data: bytes) -> bool:
            try:
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:  # the sender hung up: it had read enough
                return False
            return True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving(**options: Any) -> Iterator[Receiver]:
    receiver = Receiver(**options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Mailbox:
    """What a local SMTP server was given: (envelope recipients, message) per e-mail."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[tuple[list[str], EmailMessage]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} e-mails arrived"
            time.sleep(0.02)
        return list(self.received)


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A local SMTP server on a free port (plain, no authentication), and its mailbox."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
