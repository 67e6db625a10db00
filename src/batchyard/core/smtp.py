"""The SMTP server notices are e-mailed through, as configured by a URL: ``smtp://user:pass@host:port``
(``?starttls=true`` to upgrade the connection) or ``smtps://…`` for TLS from the start."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    tls: bool = False  # smtps: TLS from the first byte
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpServer:
    """The server a URL names; ``ValueError`` (never quoting the password) when it names none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("the SMTP URL is not a valid URL") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError("the SMTP URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("the SMTP URL has no host")
    return SmtpServer(
        host=parts.hostname,
        port=port or _DEFAULT_PORTS[parts.scheme],
        tls=parts.scheme == "smtps",
        starttls=_starttls(parts.query),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _starttls(query: str) -> bool:
    options = parse_qs(query)
    unknown = set(options) - {"starttls"}
    if unknown:
        raise ValueError(f"the SMTP URL has an unknown option {sorted(unknown)[0]!r}; known: starttls")
    value = options.get("starttls", ["false"])[-1].lower()
    if value not in _TRUE + _FALSE:
        raise ValueError("starttls in the SMTP URL must be true or false")
    return value in _TRUE
