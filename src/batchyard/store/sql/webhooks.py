"""Users' webhooks: created (at most so many per user), listed, deleted (their pending deliveries failed with
them), pinged, and the log of what was delivered to each."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, select, update

from batchyard.core.notices import Channel, Delivery, DeliveryStatus, EventType, Webhook
from batchyard.errors import PingTooSoon, TooManyNewWebhooks, TooManyWebhooks, UserNotFound
from batchyard.store.sql.database import Database
from batchyard.store.sql.deliveries import delivery, new_delivery, webhook
from batchyard.store.sql.rows import as_utc, utcnow
from batchyard.store.sql.tables import deliveries, users, webhooks

DELETED = "the webhook was deleted"
DAY = timedelta(days=1)


def create_webhook(
    db: Database,
    user_id: int,
    *,
    url: str,
    description: str | None,
    nonce: str,
    key_id: str,
    limit: int,
    per_day: int,
) -> Webhook:
    """A new webhook of the user's; ``TooManyWebhooks`` when they have ``limit`` live ones already,
    ``TooManyNewWebhooks`` when they made ``per_day`` in the last 24 hours, deleted ones too (a deleted webhook
    keeps its row, so creating and deleting would grow the table for ever). Counted under a lock on the user's
    row, so two creations at once cannot both take the last place."""
    values = {"user_id": user_id, "url": url, "description": description, "nonce": nonce, "key_id": key_id}
    with db.write() as conn:
        _lock_user(db, conn, user_id)
        live = select(func.count()).select_from(webhooks).where(_live(user_id))
        if conn.execute(live).scalar_one() >= limit:
            raise TooManyWebhooks(limit=limit)
        now = utcnow()
        _check_made_today(conn, user_id, now, per_day)
        query = insert(webhooks).values(**values, created_at=now).returning(webhooks)
        return webhook(conn.execute(query).mappings().one())


def _check_made_today(conn: Connection, user_id: int, now: datetime, per_day: int) -> None:
    w = webhooks.c
    made = select(func.count(), func.min(w.created_at)).where(w.user_id == user_id, w.created_at > now - DAY)
    count, oldest = conn.execute(made).one()
    if count >= per_day:
        raise TooManyNewWebhooks(limit=per_day, retry_after=_seconds_until(as_utc(oldest) or now, DAY, now))


def _seconds_until(start: datetime, period: timedelta, now: datetime) -> int:
    """Whole seconds until ``period`` after ``start`` has passed (at least one)."""
    return max(1, math.ceil((start + period - now).total_seconds()))


def list_webhooks(db: Database, user_id: int) -> list[Webhook]:
    with db.read() as conn:
        rows = conn.execute(select(webhooks).where(_live(user_id)).order_by(webhooks.c.id)).mappings()
        return [webhook(row) for row in rows]


def get_webhook(db: Database, user_id: int, webhook_id: int) -> Webhook | None:
    """The user's live webhook ``webhook_id``; None when it is not theirs, was deleted or never was."""
    with db.read() as conn:
        row = conn.execute(select(webhooks).where(_live(user_id, webhook_id))).mappings().one_or_none()
    return None if row is None else webhook(row)


def delete_webhook(db: Database, user_id: int, webhook_id: int) -> bool:
    """Delete the webhook and fail its pending deliveries; False when the user has no such live webhook."""
    with db.write() as conn:
        deleted = conn.execute(update(webhooks).where(_live(user_id, webhook_id)).values(deleted_at=utcnow()))
        if not deleted.rowcount:
            return False
        d = deliveries.c
        conn.execute(
            update(deliveries)
            .where(d.channel == Channel.WEBHOOK, d.target_id == webhook_id, d.status == DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.FAILED, last_error=DELETED, claimed_until=None, claim_token=None)
        )
    return True


def queue_ping(db: Database, user_id: int, webhook_id: int, *, interval: int) -> Delivery | None:
    """A test delivery to the webhook, or the one still pending; ``PingTooSoon`` when the last one was queued
    less than ``interval`` seconds ago (a ping cannot be used to flood the receiver, nor to grow the table);
    None when the user has no such live webhook. The webhook's row is locked first: two pings at once would
    otherwise both find none pending (PostgreSQL) and both queue one."""
    with db.write() as conn:
        if not _lock_webhook(db, conn, user_id, webhook_id):
            return None
        last = _last_ping(conn, webhook_id)
        if last is not None and last["status"] == DeliveryStatus.PENDING:
            return delivery(last)
        now = utcnow()
        if last is not None:
            _check_ping_interval(webhook_id, as_utc(last["created_at"]) or now, interval, now)
        values = new_delivery(user_id, EventType.PING, {"webhook_id": webhook_id}, now, notification_id=None)
        query = insert(deliveries).values(**values, channel=Channel.WEBHOOK, target_id=webhook_id)
        return delivery(conn.execute(query.returning(deliveries)).mappings().one())


def _last_ping(conn: Connection, webhook_id: int) -> Any:
    d = deliveries.c
    pings = and_(d.channel == Channel.WEBHOOK, d.target_id == webhook_id, d.event == EventType.PING)
    return conn.execute(select(deliveries).where(pings).order_by(d.id.desc()).limit(1)).mappings().first()


def _check_ping_interval(webhook_id: int, last: datetime, interval: int, now: datetime) -> None:
    if now - last < timedelta(seconds=interval):
        wait = _seconds_until(last, timedelta(seconds=interval), now)
        raise PingTooSoon(webhook_id=webhook_id, interval=interval, retry_after=wait)


def webhook_deliveries(
    db: Database, user_id: int, webhook_id: int, *, before: int | None, limit: int
) -> list[Delivery] | None:
    """The webhook's deliveries, newest first; None when the user has no such live webhook."""
    d = deliveries.c
    query = (
        select(deliveries)
        .where(d.channel == Channel.WEBHOOK, d.target_id == webhook_id)
        .order_by(d.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(d.id < before)
    with db.read() as conn:
        if conn.execute(select(webhooks.c.id).where(_live(user_id, webhook_id))).first() is None:
            return None
        return [delivery(row) for row in conn.execute(query).mappings()]


def _live(user_id: int, webhook_id: int | None = None) -> ColumnElement[bool]:
    w = webhooks.c
    condition = and_(w.user_id == user_id, w.deleted_at.is_(None))
    return condition if webhook_id is None else and_(condition, w.id == webhook_id)


def _lock_webhook(db: Database, conn: Connection, user_id: int, webhook_id: int) -> bool:
    query = select(webhooks.c.id).where(_live(user_id, webhook_id))
    if not db.is_sqlite:  # SQLite: the transaction holds the write lock already
        query = query.with_for_update()
    return conn.execute(query).first() is not None


def _lock_user(db: Database, conn: Connection, user_id: int) -> None:
    query = select(users.c.id).where(users.c.id == user_id)
    if not db.is_sqlite:
        query = query.with_for_update()
    if conn.execute(query).first() is None:
        raise UserNotFound(user=user_id)
