"""What a webhook URL may be: http or https, a host, no credentials, not too long; and which addresses count as
private (never called unless the server allows it: loopback, private, link-local, reserved, multicast)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from batchyard.errors import WebhookUrlRefused

MAX_URL_LENGTH = 2048

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def refuse(reason: str, reason_zh: str) -> WebhookUrlRefused:
    return WebhookUrlRefused(reason=reason, reason_zh=reason_zh)


def check_webhook_url(url: str) -> tuple[str, int]:
    """The URL's host and port, if it may be a webhook's; else ``WebhookUrlRefused`` saying why."""
    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"it is longer than {MAX_URL_LENGTH} characters", f"长度超过 {MAX_URL_LENGTH} 个字符")
    if not url.isascii():
        raise refuse(
            "it must be ASCII: a host in punycode, other characters percent-encoded",
            "必须是 ASCII：主机名用 punycode，其他字符用百分号编码",
        )
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise refuse("it contains spaces or control characters", "包含空白或控制字符")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse("it is not a valid URL", "不是有效的 URL") from None
    if parts.scheme not in ("http", "https"):
        raise refuse("only http and https URLs are allowed", "只允许 http 和 https 地址")
    if parts.username is not None or parts.password is not None:
        raise refuse("it must not contain a user name or password", "不能包含用户名或密码")
    if not parts.hostname:
        raise refuse("it has no host", "缺少主机名")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def literal_address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated, never public


def is_public(address: IpAddress) -> bool:
    """True for an address on the public internet. An IPv6 address that carries an IPv4 one (mapped, NAT64,
    6to4) is judged by that too: ``64:ff9b::7f00:1`` is 127.0.0.1 to whoever translates it."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _IPV4_COMPATIBLE:
            return False
        if not all(is_public(inner) for inner in _embedded_ipv4(address)):
            return False
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    embedded = [address.ipv4_mapped, address.sixtofour]
    if address in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [inner for inner in embedded if inner is not None]
