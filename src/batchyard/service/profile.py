"""What users set about themselves (and administrators for them): for now, where notices are e-mailed."""

from __future__ import annotations

from batchyard.core.users import User
from batchyard.errors import EmailNotConfigured
from batchyard.store.base import Store


def set_email(store: Store, user_id: int, email: str | None, *, email_enabled: bool) -> User:
    """Set (or, with None, clear) the user's address; a server that sends no e-mail takes none, so that no
    notice is queued for an address nothing will ever write to."""
    if email is not None and not email_enabled:
        raise EmailNotConfigured()
    return store.set_email(user_id, email)
