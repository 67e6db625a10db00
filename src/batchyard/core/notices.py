"""Where a user's notices go besides the inbox: their webhooks, and the deliveries queued to them and to their
e-mail address, each with the log of its attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class EventType(StrEnum):
    JOB_FINISHED = "job.finished"
    PING = "ping"


LOG_LIMIT = 25  # attempts kept in a delivery's log: every one, since max attempts is capped at this
ERROR_LIMIT = 500  # characters of an attempt's error that are kept


@dataclass(frozen=True, slots=True)
class Webhook:
    """A URL that receives a signed POST for each of its user's notices. Its signing secret is not here: it is
    derived from the server's secret key and ``nonce`` when needed, and shown to the user once."""

    id: int
    user_id: int
    url: str
    description: str | None
    nonce: str
    key_id: str  # which server key the secret was derived with (a fingerprint of it, not the key)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try at delivering: when, the receiver's HTTP status (webhooks), what went wrong, how long it took."""

    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "status_code": self.status_code, "error": self.error, "ms": self.duration_ms}

    @classmethod
    def of_dict(cls, data: dict[str, Any]) -> DeliveryAttempt:
        return cls(datetime.fromisoformat(data["at"]), data.get("status_code"), data.get("error"), data.get("ms", 0))


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notice on its way to one target (a webhook, or the user's e-mail address), and its attempts so far."""

    id: int
    channel: Channel
    target_id: int  # the webhook's id, or the user's for e-mail
    notification_id: int | None  # None: a ping
    event: EventType
    data: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None  # while pending
    last_status_code: int | None
    last_error: str | None
    log: tuple[DeliveryAttempt, ...]
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery claimed for one attempt (number ``attempt``) under ``token`` until its lease ends, with what
    sending it needs: the webhook (None when e-mail, or when the webhook was deleted) or the address."""

    id: int
    channel: Channel
    user_id: int
    event: EventType
    data: dict[str, Any]
    created_at: datetime
    attempt: int
    token: str
    webhook: Webhook | None
    recipient: str | None
