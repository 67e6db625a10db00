"""Quota: a ledger, not a counter. Each charge and refund is a row with a unique key, written in the same
transaction as the balance's conditional update and as the change it pays for (a job created, a batch of
items stored, a round reopened, a round finished). So a user's balance always equals the sum of their rows,
nothing is charged for work that was not stored, and nothing is refunded twice.

A job's owner pays only when the owner is a user of the service: jobs submitted through the Python API for
an owner with no user row are free, as they always were.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from batchyard.core.model import NewJob
from batchyard.core.status import JobStatus
from batchyard.errors import QuotaInsufficient, RateLimited, TooManyActiveJobs
from batchyard.store.sql.rows import as_utc, job_moves, utcnow
from batchyard.store.sql.tables import jobs, ledger, users

ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED, JobStatus.CANCELLING)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def lock_owner(conn: Connection, owner: str) -> None:
    """Take the owner's user row (PostgreSQL; SQLite's writers are one at a time anyway) for the rest of the
    transaction, so that one owner's submits and retries are judged one after the other."""
    _user(conn, owner, lock=True)


def check_active(conn: Connection, *, owner: str, type_name: str, limit: int | None, besides: int) -> None:
    """Refuse a retry that would make the owner's active jobs of this type more than ``limit``."""
    if limit is None or _user(conn, owner, lock=True) is None:
        return
    j = jobs.c
    mine = (j.owner == owner) & (j.type == type_name) & (j.id != besides) & j.status.in_(ACTIVE)
    if conn.execute(select(func.count()).where(mine)).scalar_one() >= limit:
        raise TooManyActiveJobs(limit=limit, type=type_name)


def _user(conn: Connection, owner: str, *, lock: bool) -> Any:
    query = select(users.c.id, users.c.quota).where(users.c.name == owner)
    if lock and conn.dialect.name != "sqlite":  # SQLite's writer already holds the only write lock
        query = query.with_for_update()
    return conn.execute(query).one_or_none()


def charge(conn: Connection, *, owner: str, job_id: int, key: str, amount: int) -> None:
    """Take ``amount`` from the owner's balance, or refuse (QuotaInsufficient) and change nothing."""
    if amount <= 0:
        return
    user = _user(conn, owner, lock=False)
    if user is None:
        return
    u = users.c
    balance = conn.execute(
        update(users).where(u.id == user.id, u.quota >= amount).values(quota=u.quota - amount).returning(u.quota)
    ).scalar_one_or_none()
    if balance is None:
        now = conn.execute(select(u.quota).where(u.id == user.id)).scalar_one()
        raise QuotaInsufficient(cost=amount, balance=now, shortfall=amount - now)
    _record(conn, user.id, job_id=job_id, key=key, kind="charge", amount=-amount, after=balance)


def check_balance(conn: Connection, *, owner: str, amount: int) -> None:
    """Refuse (QuotaInsufficient) what ``charge`` would refuse now, changing nothing."""
    user = _user(conn, owner, lock=False) if amount > 0 else None
    if user is not None and user.quota < amount:
        raise QuotaInsufficient(cost=amount, balance=user.quota, shortfall=amount - user.quota)


def refund_round(conn: Connection, job_id: int, succeeded: int) -> None:
    """At the end of a round: give back what the job was charged beyond ``unit_cost × succeeded`` and not yet
    refunded — the round's failures, skips and items a cancel or stop left undone."""
    job = conn.execute(select(jobs.c.owner, jobs.c.unit_cost, jobs.c.round).where(jobs.c.id == job_id)).one()
    if job.unit_cost == 0:
        return
    key = f"job:{job_id}:round:{job.round}:refund"
    if conn.execute(select(ledger.c.id).where(ledger.c.key == key)).first() is not None:
        return  # this round was refunded already
    moves = job_moves(conn, job_id)
    due = moves.charged - job.unit_cost * succeeded - moves.refunded
    user = _user(conn, job.owner, lock=False)
    if due <= 0 or user is None:
        return
    u = users.c
    balance = conn.execute(
        update(users).where(u.id == user.id).values(quota=u.quota + due).returning(u.quota)
    ).scalar_one()
    _record(conn, user.id, job_id=job_id, key=key, kind="refund", amount=due, after=balance)


def adjust(conn: Connection, user_id: int, amount: int, *, key: str, kind: str) -> None:
    """Grant or take back quota outside any job (a user's starting balance, an administrator's change)."""
    if amount == 0:
        return
    u = users.c
    balance = conn.execute(
        update(users).where(u.id == user_id).values(quota=u.quota + amount).returning(u.quota)
    ).scalar_one()
    _record(conn, user_id, job_id=None, key=key, kind=kind, amount=amount, after=balance)


def check_limits(conn: Connection, new: NewJob) -> None:
    """Refuse a submission past the type's limits for its owner: jobs per hour and per day (RateLimited, with
    the seconds until one more is allowed) and jobs active at once. The owner's row is locked first, so two
    submits cannot both take the last place (``lock_owner`` has taken it already)."""
    limits = new.limits
    if limits is None or _user(conn, new.owner, lock=False) is None:
        return
    j = jobs.c
    mine = (j.owner == new.owner) & (j.type == new.type)
    if limits.active is not None:
        active = conn.execute(select(func.count()).where(mine, j.status.in_(ACTIVE))).scalar_one()
        if active >= limits.active:
            raise TooManyActiveJobs(limit=limits.active, type=new.type)
    for limit, period in ((limits.per_hour, HOUR), (limits.per_day, DAY)):
        if limit is not None:
            _check_window(conn, new, mine, limit, period)


def _check_window(conn: Connection, new: NewJob, mine: Any, limit: int, period: timedelta) -> None:
    now = utcnow()
    recent = conn.execute(
        select(jobs.c.created_at).where(mine, jobs.c.created_at > now - period).order_by(jobs.c.created_at)
    ).scalars()
    times = [as_utc(t) for t in recent]
    if len(times) < limit:
        return
    oldest_counted = times[len(times) - limit]
    assert oldest_counted is not None
    wait = max(1, int((oldest_counted + period - now).total_seconds()) + 1)
    name, zh = ("hour", "小时") if period == HOUR else ("day", "天")
    raise RateLimited(limit=limit, type=new.type, period=name, period_zh=zh, retry_after=wait)


def _record(
    conn: Connection, user_id: int, *, job_id: int | None, key: str, kind: str, amount: int, after: int
) -> None:
    conn.execute(
        insert(ledger).values(
            user_id=user_id,
            job_id=job_id,
            key=key,
            kind=kind,
            amount=amount,
            balance_after=after,
            created_at=utcnow(),
        )
    )
