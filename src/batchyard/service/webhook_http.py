"""Posting one webhook attempt. A fresh connection each time, made only to addresses the SSRF rule allows (the
addresses actually connected to are the ones checked); no redirects, no proxy from the environment; the whole
attempt bounded in time however slowly the receiver trickles its answer; at most 1 KiB of the answer read.

It runs on httpcore, the transport under httpx, because only there can the connection itself be made by us.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from batchyard.errors import WebhookUrlRefused
from batchyard.service.addresses import reachable_addresses

ANSWER_BYTES = 1024  # of a refusal's body, to show in the delivery log
EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None
    error: str | None  # None: delivered (a 2xx)


class WebhookPoster:
    """``timeout``: seconds to connect, and between any two reads or writes; an attempt lasts at most three
    times that in all."""

    def __init__(self, *, timeout: float, allow_private: bool) -> None:
        self.timeout = timeout
        self._allow_private = allow_private
        self._ssl = httpx.create_ssl_context()

    @property
    def longest_attempt(self) -> float:
        return 3 * self.timeout

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        deadline = time.monotonic() + self.longest_attempt
        backend = _GuardedBackend(allow_private=self._allow_private, deadline=deadline)
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), self.timeout)
        sent = [("Host", urlsplit(url).netloc), *headers.items()]
        try:
            with (
                httpcore.ConnectionPool(ssl_context=self._ssl, network_backend=backend, max_connections=1) as pool,
                pool.stream("POST", url, headers=sent, content=body, extensions={"timeout": timeouts}) as response,
            ):
                status = response.status
                excerpt = "" if 200 <= status < 300 else _excerpt(response.iter_stream())
        except httpcore.TimeoutException:
            return Answer(None, f"timed out (a wait over {self.timeout:g} s, or {self.longest_attempt:g} s in all)")
        except WebhookUrlRefused as exc:
            return Answer(None, exc.message("en"))
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, OSError) as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}")
        if 200 <= status < 300:
            return Answer(status, None)
        return Answer(status, f"HTTP {status}" + (f": {excerpt}" if excerpt else ""))


def _excerpt(chunks: Iterable[bytes]) -> str:
    """The start of a refusal's body, on one line; whatever the receiver sends beyond it is never read."""
    received = b""
    try:
        for chunk in chunks:
            received += chunk
            if len(received) >= ANSWER_BYTES:
                break
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.TimeoutException):
        pass  # the status is what counts; the body was only a courtesy
    text = " ".join(received[:ANSWER_BYTES].decode("utf-8", "replace").split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


class _GuardedBackend(httpcore.NetworkBackend):
    """Connects to the host's addresses only when the SSRF rule allows them, each wait bounded by the deadline."""

    def __init__(self, *, allow_private: bool, deadline: float) -> None:
        self._allow_private = allow_private
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failures: list[httpcore.ConnectError] = []
        for address in reachable_addresses(host, port, allow_private=self._allow_private):
            bounded = _bounded(self._deadline, timeout, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(address, port, bounded, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failures.append(exc)
                continue
            return _DeadlineStream(stream, self._deadline)
        raise failures[-1] if failures else httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("webhooks are never sent over a unix socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every wait ends by the attempt's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(self._deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(self._deadline, timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _bounded(deadline: float, timeout: float | None, error: type[httpcore.TimeoutException]) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the attempt ran out of time")
    return left if timeout is None else min(timeout, left)
