"""The notifications inbox: one entry per finished job of a service user, written with the finish itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from batchyard.core.users import Notification
from batchyard.store.sql import codec, deliveries
from batchyard.store.sql.database import Database
from batchyard.store.sql.rows import as_utc, utcnow
from batchyard.store.sql.tables import jobs, notifications, users


def notify_finished(conn: Connection, job_id: int, status: str, counts: dict[str, int]) -> None:
    """In the transaction that finishes the job, with the deliveries of the notice to the owner's webhooks and
    e-mail address (so none is lost nor sent twice); owners who are not users of the service get nothing."""
    row = conn.execute(
        select(users.c.id, users.c.email, jobs.c.type)
        .join(jobs, jobs.c.owner == users.c.name)
        .where(jobs.c.id == job_id)
    ).one_or_none()
    if row is None:
        return
    data = {"status": status, "type": row.type, **counts}
    notification_id = conn.execute(
        insert(notifications)
        .values(user_id=row.id, job_id=job_id, kind="finished", data=codec.dumps(data), created_at=utcnow())
        .returning(notifications.c.id)
    ).scalar_one()
    event = {"job_id": job_id, "notification_id": notification_id, "status": status, "type": row.type}
    deliveries.queue_finished(
        conn, user_id=row.id, email=row.email, notification_id=notification_id, data={**event, "counts": counts}
    )


def inbox(db: Database, user_id: int, *, unread: bool, before: int | None, limit: int) -> list[Notification]:
    n = notifications.c
    query = select(notifications).where(n.user_id == user_id).order_by(n.id.desc()).limit(limit)
    if unread:
        query = query.where(n.read_at.is_(None))
    if before is not None:
        query = query.where(n.id < before)
    with db.read() as conn:
        return [_notification(row) for row in conn.execute(query).mappings()]


def mark_read(db: Database, user_id: int, notification_id: int) -> bool:
    n = notifications.c
    with db.write() as conn:
        found = conn.execute(select(n.id).where(n.id == notification_id, n.user_id == user_id)).first()
        conn.execute(
            update(notifications)
            .where(n.id == notification_id, n.user_id == user_id, n.read_at.is_(None))
            .values(read_at=utcnow())
        )
    return found is not None


def _notification(row: Any) -> Notification:
    return Notification(
        id=row["id"],
        job_id=row["job_id"],
        kind=row["kind"],
        data=codec.loads(row["data"]),
        created_at=as_utc(row["created_at"]) or row["created_at"],
        read_at=as_utc(row["read_at"]),
    )
