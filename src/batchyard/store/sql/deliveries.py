"""The delivery outbox: notices queued with the inbox entry, claimed by dispatchers under a lease, and each
attempt's answer recorded behind the claim's token (a dispatcher that overran its lease records nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, insert, or_, select, update

from batchyard.core.notices import (
    ERROR_LIMIT,
    LOG_LIMIT,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    DueDelivery,
    EventType,
    Webhook,
)
from batchyard.store.sql import codec
from batchyard.store.sql.database import Database
from batchyard.store.sql.rows import as_utc, storable_text, utcnow
from batchyard.store.sql.tables import deliveries, webhooks

INTERRUPTED = "interrupted: the sender stopped before it recorded the answer"


def queue_finished(
    conn: Connection, *, user_id: int, email: str | None, notification_id: int, data: dict[str, Any]
) -> None:
    """In the transaction that writes the inbox entry: a delivery to each live webhook of the user, and one to
    their e-mail address if they have one."""
    hooks = select(webhooks.c.id).where(webhooks.c.user_id == user_id, webhooks.c.deleted_at.is_(None))
    targets: list[tuple[Channel, int, str | None]] = [(Channel.WEBHOOK, h, None) for h in conn.execute(hooks).scalars()]
    if email:
        targets.append((Channel.EMAIL, user_id, email))
    if targets:
        now = utcnow()
        common = new_delivery(user_id, EventType.JOB_FINISHED, data, now, notification_id=notification_id)
        rows = [{**common, "channel": c, "target_id": t, "recipient": r} for c, t, r in targets]
        conn.execute(insert(deliveries), rows)


def new_delivery(
    user_id: int, event: EventType, data: dict[str, Any], now: datetime, *, notification_id: int | None
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "notification_id": notification_id,
        "event": event,
        "data": codec.dumps(data),
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "log": "[]",
        "next_attempt_at": now,
        "created_at": now,
    }


def claim(
    db: Database,
    *,
    limit: int,
    lease_seconds: float,
    max_attempts: int,
    channels: Sequence[Channel],
    overdue: float = 0.0,
) -> list[DueDelivery]:
    """Up to ``limit`` deliveries of ``channels`` due ``overdue`` seconds ago or earlier, each claimed for one
    more attempt. A delivery whose last claim ran out without an answer (its sender died) has that attempt
    logged as interrupted, and is failed instead when it has had all its attempts."""
    late = timedelta(seconds=overdue)
    with db.read() as conn:  # an idle dispatcher only reads: it never queues for SQLite's write lock
        if conn.execute(select(deliveries.c.id).where(_due(utcnow(), channels, late)).limit(1)).first() is None:
            return []
    token = uuid.uuid4().hex
    with db.write() as conn:
        now = utcnow()
        oldest_first = (deliveries.c.next_attempt_at, deliveries.c.id)
        query = select(deliveries).where(_due(now, channels, late)).order_by(*oldest_first).limit(limit)
        if not db.is_sqlite:  # SQLite: the transaction holds the write lock, nobody else claims meanwhile
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).mappings().all()
        claimed = _Claim(now, now + timedelta(seconds=lease_seconds), token, max_attempts)
        taken = [row for row in rows if _take(conn, row, claimed)]
        hooks = _live_webhooks(conn, [r["target_id"] for r in taken if r["channel"] == Channel.WEBHOOK])
    return [_due_delivery(row, token, hooks) for row in taken]


def record(
    db: Database,
    due: DueDelivery,
    attempt: DeliveryAttempt,
    status: DeliveryStatus,
    next_attempt_at: datetime | None = None,
    *,
    hold_back: bool = False,
) -> bool:
    """Log ``attempt`` and move the delivery to ``status`` (pending: again at ``next_attempt_at``, and with
    ``hold_back`` its target's other deliveries too); False when the claim is no longer held (its lease ran
    out and another dispatcher took it, or it was cancelled)."""
    d = deliveries.c
    held = and_(d.id == due.id, d.claim_token == due.token, d.status == DeliveryStatus.PENDING)
    with db.write() as conn:
        query = select(d.log, d.target_id).where(held)
        if not db.is_sqlite:
            query = query.with_for_update()
        row = conn.execute(query).one_or_none()
        if row is None:
            return False
        log = row.log
        values: dict[str, Any] = {
            "status": status,
            "log": _appended(log, {**attempt.as_dict(), "error": _clipped(attempt.error)}),
            "last_status_code": attempt.status_code,
            "last_error": _clipped(attempt.error),
            "claimed_until": None,
            "claim_token": None,
        }
        if status == DeliveryStatus.DELIVERED:
            values["delivered_at"] = utcnow()
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        conn.execute(update(deliveries).where(held).values(**values))
        if hold_back and next_attempt_at is not None:
            _hold_back(db, conn, due.id, _same_target(due.channel, row.target_id), next_attempt_at)
    return True


def _same_target(channel: Channel, target_id: int) -> ColumnElement[bool]:
    """The deliveries a failure of this one's target stands for: the webhook's, or — the SMTP server being
    one for everybody — every e-mail."""
    d = deliveries.c
    if channel == Channel.EMAIL:
        return d.channel == Channel.EMAIL
    return and_(d.channel == channel, d.target_id == target_id)


def _hold_back(db: Database, conn: Connection, delivery_id: int, target: ColumnElement[bool], until: datetime) -> None:
    """A target that just failed is not tried again for its other deliveries before ``until``: a dead receiver
    (or SMTP server) with a thousand notices queued costs one attempt per backoff step, not a thousand attempts
    that would keep every other notice waiting. Their attempts are not counted meanwhile. Rows another sender
    has locked (claiming, or holding them back itself) are skipped, never waited for."""
    d = deliveries.c
    held = select(d.id).where(
        target,
        d.status == DeliveryStatus.PENDING,
        d.id != delivery_id,
        d.next_attempt_at < until,
        d.claimed_until.is_(None),
    )
    if not db.is_sqlite:
        held = held.with_for_update(skip_locked=True)
    conn.execute(update(deliveries).where(d.id.in_(held.scalar_subquery())).values(next_attempt_at=until))


def delivery(row: Any) -> Delivery:
    status = DeliveryStatus(row["status"])
    return Delivery(
        id=row["id"],
        channel=Channel(row["channel"]),
        target_id=row["target_id"],
        notification_id=row["notification_id"],
        event=EventType(row["event"]),
        data=codec.loads(row["data"]),
        status=status,
        attempts=row["attempts"],
        next_attempt_at=as_utc(row["next_attempt_at"]) if status == DeliveryStatus.PENDING else None,
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        log=tuple(DeliveryAttempt.of_dict(entry) for entry in codec.loads(row["log"])),
        created_at=as_utc(row["created_at"]) or row["created_at"],
        delivered_at=as_utc(row["delivered_at"]),
    )


def webhook(row: Any) -> Webhook:
    return Webhook(
        id=row["id"],
        user_id=row["user_id"],
        url=row["url"],
        description=row["description"],
        nonce=row["nonce"],
        key_id=row["key_id"],
        created_at=as_utc(row["created_at"]) or row["created_at"],
    )


def _due(now: datetime, channels: Sequence[Channel], late: timedelta) -> ColumnElement[bool]:
    d = deliveries.c
    return and_(
        d.status == DeliveryStatus.PENDING,
        d.next_attempt_at <= now - late,
        or_(d.claimed_until.is_(None), d.claimed_until < now),
        d.channel.in_(list(channels)),
    )


def _take(conn: Connection, row: Any, claim: _Claim) -> bool:
    """Claim the row, unless its last attempt was interrupted and it was the last it had: then fail it."""
    values: dict[str, Any] = {"claimed_until": claim.until, "claim_token": claim.token}
    if row["claimed_until"] is not None:  # claimed before, and never answered: that attempt was interrupted
        interrupted = DeliveryAttempt(claim.now, None, INTERRUPTED, 0).as_dict()
        values |= {"log": _appended(row["log"], interrupted), "last_status_code": None, "last_error": INTERRUPTED}
        if row["attempts"] >= claim.max_attempts:
            values |= {"status": DeliveryStatus.FAILED, "claimed_until": None, "claim_token": None}
    taken = "status" not in values
    if taken:
        values["attempts"] = row["attempts"] + 1
    conn.execute(update(deliveries).where(deliveries.c.id == row["id"]).values(**values))
    return taken


@dataclass(frozen=True, slots=True)
class _Claim:
    now: datetime
    until: datetime
    token: str
    max_attempts: int


def _appended(log: str, entry: dict[str, Any]) -> str:
    """A delivery's log with one more attempt, keeping the last ``LOG_LIMIT``."""
    return codec.dumps([*codec.loads(log), entry][-LOG_LIMIT:])


def _live_webhooks(conn: Connection, ids: list[int]) -> dict[int, Webhook]:
    if not ids:
        return {}
    query = select(webhooks).where(webhooks.c.id.in_(ids), webhooks.c.deleted_at.is_(None))
    return {row["id"]: webhook(row) for row in conn.execute(query).mappings()}


def _due_delivery(row: Any, token: str, hooks: dict[int, Webhook]) -> DueDelivery:
    channel = Channel(row["channel"])
    return DueDelivery(
        id=row["id"],
        channel=channel,
        user_id=row["user_id"],
        event=EventType(row["event"]),
        data=codec.loads(row["data"]),
        created_at=as_utc(row["created_at"]) or row["created_at"],
        attempt=row["attempts"] + 1,
        token=token,
        webhook=hooks.get(row["target_id"]) if channel == Channel.WEBHOOK else None,
        recipient=row["recipient"],
    )


def _clipped(error: str | None) -> str | None:
    if error is None:
        return None
    error = storable_text(error)
    return error if len(error) <= ERROR_LIMIT else error[: ERROR_LIMIT - 1] + "…"
