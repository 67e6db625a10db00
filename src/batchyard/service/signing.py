"""Webhook secrets and signatures.

A webhook's signing secret is never stored. It is HMAC-SHA256(server key, "webhook:{id}:{nonce}") with a random
nonce kept on the webhook's row, shown to its user once and derived again for each delivery: a copy of the
database alone cannot sign a request. The server key comes from the ``secret_key`` setting or, unset, from
``data_dir/secret_key``, generated once (mode 0600); every API host must have the same key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from batchyard.errors import ConfigurationError

log = logging.getLogger("batchyard.signing")

SECRET_PREFIX = "whsec_"
KEY_FILE = "secret_key"
MIN_KEY_LENGTH = 32


class Signer:
    """Derives webhook secrets from the server key; ``key_id`` tells which key (a fingerprint, not the key)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.key_id = hashlib.sha256(b"batchyard key id:" + key).hexdigest()[:16]

    def webhook_secret(self, webhook_id: int, nonce: str) -> str:
        derived = hmac.new(self._key, f"webhook:{webhook_id}:{nonce}".encode(), hashlib.sha256).hexdigest()
        return SECRET_PREFIX + derived


def new_nonce() -> str:
    return secrets.token_hex(16)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Batchyard-Signature`` of ``body``: ``sha256=`` and the hex HMAC-SHA256 keyed by the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def load_secret_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else the one in ``data_dir/secret_key``, made on first use. Several processes
    starting at once agree: the file appears whole (linked from a finished temporary file) or not at all."""
    if configured is not None:
        if len(configured) < MIN_KEY_LENGTH:
            raise ConfigurationError(reason=f"secret_key must be at least {MIN_KEY_LENGTH} characters long")
        return configured.encode()
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    if path.stat().st_mode & 0o077:
        log.warning("%s can be read by other users than its owner; chmod 600 it", path)
    key = path.read_text().strip()
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigurationError(reason=f"{path} holds no key of at least {MIN_KEY_LENGTH} characters")
    return key.encode()


def _create_key_file(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32) + "\n")
        try:
            with contextlib.suppress(FileExistsError):  # another process made it first: theirs is the key
                os.link(temporary, path)
        finally:
            temporary.unlink()
    except OSError as exc:
        raise ConfigurationError(reason=f"cannot create the secret key file {path}: {exc}") from exc
