"""A scripted SMTP server on raw sockets, for the misbehaving servers aiosmtpd cannot play: one that accepts and
never greets, one that trickles its greeting for ever (each line in time), one that refuses some recipients, one
that answers QUIT with something other than 221, or not at all. Leaving the block hangs up on every client."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO


@dataclass
class Script:
    greet: bool = True  # False: accept the connection and never say a word
    trickle: float | None = None  # send a "220-" line this often, for ever, never the final "220 " line
    refuse_rcpt: str | None = None  # recipients containing this are refused (550)
    quit_reply: bytes | None = b"221 bye"  # None: QUIT is never answered
    messages: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)
    _open: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self._open.append(conn)
        with contextlib.suppress(OSError), conn, conn.makefile("rb") as lines:
            if self._greet(conn):
                self._converse(conn, lines)

    def hang_up(self) -> None:
        self.stopped.set()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def _greet(self, conn: socket.socket) -> bool:
        if not self.greet:
            self.stopped.wait()
            return False
        if self.trickle is not None:
            while not self.stopped.wait(self.trickle):
                conn.sendall(b"220-still greeting, please wait\r\n")
            return False
        conn.sendall(b"220 scripted ESMTP\r\n")
        return True

    def _converse(self, conn: socket.socket, lines: BinaryIO) -> None:
        while line := lines.readline():
            verb = line[:4].upper()
            if verb == b"QUIT":
                if self.quit_reply is None:
                    self.stopped.wait()
                else:
                    conn.sendall(self.quit_reply + b"\r\n")
                return
            conn.sendall(self._answer(verb, line, conn, lines))

    def _answer(self, verb: bytes, line: bytes, conn: socket.socket, lines: BinaryIO) -> bytes:
        if verb in (b"EHLO", b"HELO"):
            return b"250 scripted\r\n"
        if verb == b"RCPT" and self.refuse_rcpt and self.refuse_rcpt.encode() in line:
            return b"550 no such user\r\n"
        if verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
            return b"250 ok\r\n"
        if verb == b"DATA":
            return self._data(conn, lines)
        return b"502 not implemented\r\n"

    def _data(self, conn: socket.socket, lines: BinaryIO) -> bytes:
        conn.sendall(b"354 go on\r\n")
        data = b""
        for chunk in iter(lines.readline, b""):
            if chunk == b".\r\n":
                break
            data += chunk
        with self._lock:
            self.messages.append(data)
        return b"250 queued\r\n"


@contextmanager
def scripted_smtp(**options: Any) -> Iterator[Script]:
    """A server on a free port of 127.0.0.1 playing ``Script(**options)``."""
    script = Script(**options)
    listener = socket.create_server(("127.0.0.1", 0))
    script.port = listener.getsockname()[1]

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=script.serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield script
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (closing alone would not, on Linux)
        listener.close()
        script.hang_up()
