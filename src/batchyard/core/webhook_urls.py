"""What a webhook URL may be: http or https, a host, no credentials, not too long; and which addresses count as
public (only those are called unless the server allows private ones)."""

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


_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")  # the only IPv6 space on the public internet
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix: the IPv4 address it carries decides
_NOT_PUBLIC = (
    ipaddress.IPv6Network("3fff::/20"),  # documentation (RFC 9637), newer than Python 3.11's tables
)


def is_public(address: IpAddress) -> bool:
    """True for an address on the public internet. For IPv6 that is global unicast (2000::/3) outside its
    special ranges; an address that carries an IPv4 one (mapped, well-known NAT64, 6to4) is judged by that:
    ``64:ff9b::7f00:1`` is 127.0.0.1 to whoever translates it. Everything else — the local-use NAT64 prefix
    64:ff9b:1::/48 (translated where its operator chooses), IPv4-translated, site-local, SRv6 — is not."""
    if isinstance(address, ipaddress.IPv6Address):
        return _is_public_v6(address)
    return address.is_global and not address.is_multicast


def _is_public_v6(address: ipaddress.IPv6Address) -> bool:
    carried = _carried_ipv4(address)
    if carried is not None:
        return is_public(carried)
    if address not in _GLOBAL_UNICAST or any(address in network for network in _NOT_PUBLIC):
        return False
    inner = address.sixtofour
    return address.is_global and (inner is None or is_public(inner))


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a socket or a translator reaches through ``address``, for the forms outside 2000::/3."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
