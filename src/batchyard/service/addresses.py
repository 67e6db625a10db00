"""Which addresses a webhook may reach: a host's addresses as resolved now, all of them public, unless the
server allows private ones. Checked when a webhook is made and again on every connection (a name can be made to
resolve elsewhere later: the addresses connected to are the ones checked)."""

from __future__ import annotations

import ipaddress
import logging
import socket

from batchyard.core.webhook_urls import check_webhook_url, is_public, refuse
from batchyard.errors import WebhookUrlRefused

log = logging.getLogger("batchyard.webhooks")


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses, in the resolver's order, each once (``WebhookUrlRefused`` when there is none)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        log.info("webhook host %r does not resolve: %s", host, exc)
        raise unreachable(host) from None
    addresses: list[str] = []
    for *_, sockaddr in found:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def reachable_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses to connect to; ``WebhookUrlRefused`` when the host resolves to any non-public address and
    those are not allowed (a name with one private address among public ones is refused as a whole)."""
    addresses = resolve(host, port)
    if not allow_private:
        private = [a for a in addresses if not is_public(ipaddress.ip_address(a.partition("%")[0]))]
        if private:
            log.info("webhook host %r resolves to %s, which is not public", host, ", ".join(private))
            raise unreachable(host)
    return addresses


def unreachable(host: str) -> WebhookUrlRefused:
    """One answer whether the host does not resolve or resolves to a private address: telling which, or which
    address, would tell any user what the server's resolver knows of internal names (the log has it)."""
    return refuse(
        f"{host!r} does not resolve, or resolves to a loopback, private or link-local address",
        f"{host!r} 无法解析，或解析为回环、私有或链路本地地址",
    )


def check_new_webhook_url(url: str, *, allow_private: bool) -> None:
    """``WebhookUrlRefused`` unless ``url`` may be a new webhook's: well formed and, unless private addresses
    are allowed, resolving to public addresses only."""
    host, port = check_webhook_url(url)
    if not allow_private:
        reachable_addresses(host, port, allow_private=False)
