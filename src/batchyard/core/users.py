"""Who calls the service and what each role may do: admins see and steer everything, operators their own jobs,
viewers read their own and act on nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

# An address as the HTML standard defines a valid e-mail address: one recipient, no display name, nothing that
# could end a header line.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
EMAIL_MAX_LENGTH = 254


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    quota: int
    created_at: datetime
    has_password: bool = False
    email: str | None = None  # where notices are e-mailed, when the server sends e-mail

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def can_act(self) -> bool:
        """Submit, cancel, pause, resume, retry: everyone but viewers."""
        return self.role != Role.VIEWER

    def may_see(self, owner: str) -> bool:
        return self.is_admin or owner == self.name


@dataclass(frozen=True, slots=True)
class Token:
    """A token as stored: its secret is never kept, only a digest of it."""

    id: int
    user_id: int
    name: str
    kind: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One move of a user's balance: a charge (negative), a refund, a grant or an administrator's change."""

    id: int
    job_id: int | None
    key: str
    kind: str
    amount: int
    balance_after: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Notification:
    """An inbox entry: a job of the user's finished (``data``: its status, type and counts)."""

    id: int
    job_id: int
    kind: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None
