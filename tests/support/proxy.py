"""A small TCP proxy in front of PostgreSQL that a test can cut: every connection dropped at once, and new ones
closed on arrival for a while, as a network partition, a server restart or a fail-over looks to a client.

It binds an ephemeral port on 127.0.0.1, forwards bytes with two threads per connection, and stops by itself
when its ``with`` block ends or, at the latest, after ``lifetime`` seconds.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

UPSTREAM = ("127.0.0.1", 5432)


class Proxy:
    def __init__(self, upstream: tuple[str, int] = UPSTREAM, *, lifetime: float = 300.0) -> None:
        self.upstream = upstream
        self.accepted = 0
        self._deadline = time.monotonic() + lifetime
        self._refuse_until = 0.0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="pg-proxy", daemon=True)
        self._thread.start()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def url(self, database_url: str) -> str:
        """``database_url`` (a PostgreSQL URL) pointed at the proxy instead of the server."""
        parts = urlsplit(database_url)
        user = parts.netloc.rpartition("@")[0]
        netloc = f"{user}@127.0.0.1:{self.port}" if user else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def drop_all(self) -> None:
        """Cut every open connection, both the client's side and the server's."""
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            _close(sock)

    def outage(self, seconds: float) -> None:
        """Drop everything, and close each new connection on arrival for ``seconds``."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds
        self.drop_all()

    @property
    def refusing(self) -> bool:
        with self._lock:
            return time.monotonic() < self._refuse_until

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        self.drop_all()

    def _accept_loop(self) -> None:
        try:
            while not self._closed.is_set() and time.monotonic() < self._deadline:
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                self._serve(client)
        finally:
            self._listener.close()
            self.drop_all()

    def _serve(self, client: socket.socket) -> None:
        if self.refusing:
            _close(client)
            return
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _close(client)
            return
        server.settimeout(None)
        client.settimeout(None)
        with self._lock:
            self.accepted += 1
            self._open.update((client, server))
        for source, target in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, target), name="pg-proxy-pump", daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        """Forward bytes one way until either side closes; then close both."""
        with suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with self._lock:
            self._open.difference_update((source, target))
        _close(source)
        _close(target)


def _close(sock: socket.socket) -> None:
    """Shut down first: that wakes a thread blocked in ``recv`` on the socket, which ``close`` alone does not."""
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()
