"""Rows nobody reads any more: events past their retention, failed sign-ins long out of their window, and
deliveries that ended (delivered or failed) long ago.

Deleted a batch per transaction, oldest first, so a large backlog never holds the write lock for long. The
newest event is always kept: on SQLite an id is one more than the largest in the table, so deleting the
newest would hand its id out again, and a client resuming after it would miss the new event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from batchyard.core.notices import DeliveryStatus
from batchyard.store.sql.database import Database
from batchyard.store.sql.tables import deliveries, events, login_failures

TIDY_BATCH = 5_000
SIGN_IN_FAILURES_KEPT_MINUTES = 24 * 60  # far beyond any window in which failures are counted
ENDED_DELIVERIES_KEPT = timedelta(days=30)  # a webhook's delivery log reaches this far back


def tidy(db: Database, *, events_before: datetime, now: datetime) -> int:
    """Delete events created before ``events_before``, stale failed-sign-in counts and long-ended deliveries;
    the rows deleted."""
    deleted = 0
    while True:
        with db.write() as conn:
            newest = conn.execute(select(func.max(events.c.id))).scalar()
            if newest is None:
                break
            old = (
                select(events.c.id)
                .where(events.c.id < newest, events.c.created_at < events_before)
                .order_by(events.c.id)
                .limit(TIDY_BATCH)
            )
            count = conn.execute(delete(events).where(events.c.id.in_(old.scalar_subquery()))).rowcount
        deleted += count
        if count < TIDY_BATCH:
            break
    stale = int(now.timestamp() // 60) - SIGN_IN_FAILURES_KEPT_MINUTES
    d = deliveries.c
    ended = d.status.in_((DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)) & (
        d.created_at < now - ENDED_DELIVERIES_KEPT
    )
    with db.write() as conn:
        deleted += conn.execute(delete(login_failures).where(login_failures.c.minute < stale)).rowcount
        deleted += conn.execute(delete(deliveries).where(ended)).rowcount
    return deleted


def oldest_event_id(db: Database) -> int:
    """The smallest id still in the events table (0 when it is empty)."""
    with db.read() as conn:
        return int(conn.execute(select(func.min(events.c.id))).scalar() or 0)
