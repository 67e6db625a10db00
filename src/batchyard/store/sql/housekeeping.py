"""Rows nobody reads any more: events past their retention, failed sign-ins long out of their window,
deliveries that ended (delivered or failed) long ago, webhooks deleted long ago whose log is gone, the keys a
dry-run import counted, a while after it finished (kept that long for a retry of its failed rows), the target
keys a migration claimed, a month after it and its last re-copy finished (kept that long for re-copies), and a
schedule's old decided slots beyond its newest hundred.

Events are deleted as a prefix of ids, oldest first, a batch per call: the oldest kept id then tells a
resuming client whether anything after its last id is gone (an event younger than the retention stops the
deletion there, even if its clock put older ones after it). The batch is found by reading the oldest rows by
id, never by scanning the whole table, and deleted in a short transaction. The newest event is always kept:
on SQLite an id is one more than the largest in the table, so deleting the newest would hand its id out again,
and a client resuming after it would miss the new event.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from batchyard.core.notices import Channel, DeliveryStatus
from batchyard.core.schedules import SlotOutcome
from batchyard.store.sql.database import Database
from batchyard.store.sql.rows import as_utc
from batchyard.store.sql.tables import (
    deliveries,
    dry_run_keys,
    events,
    jobs,
    login_failures,
    migration_claims_tidied,
    migration_keys,
    schedule_slots,
    schedules,
    webhooks,
)

TIDY_BATCH = 5_000
SIGN_IN_FAILURES_KEPT_MINUTES = 24 * 60  # far beyond any window in which failures are counted
ENDED_DELIVERIES_KEPT = timedelta(days=30)  # a webhook's delivery log reaches this far back
DRY_RUN_KEYS_KEPT = timedelta(days=7)  # a finished dry run's failed rows retried within this see its keys
MIGRATION_KEYS_KEPT = timedelta(days=30)  # a re-copy of a migration finished within this checks its key claims
SLOTS_KEPT = timedelta(days=30)  # a schedule's slots are listed this far back, and its newest hundred always
SLOTS_KEPT_PER_SCHEDULE = 100
# A slot is deleted only this long behind its schedule's cursor: a ticker that read the cursor before it moved
# (a process paused mid-tick) could otherwise claim a slot again once its row, the guard, is gone.
SLOT_CURSOR_MARGIN = timedelta(days=7)
_DECIDED = (SlotOutcome.STARTED.value, SlotOutcome.SKIPPED.value, SlotOutcome.REFUSED.value)


def tidy(db: Database, *, events_before: datetime, now: datetime) -> tuple[int, bool]:
    """Delete up to ``TIDY_BATCH`` of the oldest events created before ``events_before``, stale failed-sign-in
    counts, long-ended deliveries and webhooks long deleted; the rows deleted, and whether more old events may
    be left."""
    deleted, more = _old_events(db, events_before)
    stale = int(now.timestamp() // 60) - SIGN_IN_FAILURES_KEPT_MINUTES
    d = deliveries.c
    ended = d.status.in_((DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)) & (
        d.created_at < now - ENDED_DELIVERIES_KEPT
    )
    with db.write() as conn:
        deleted += conn.execute(delete(login_failures).where(login_failures.c.minute < stale)).rowcount
        deleted += conn.execute(delete(deliveries).where(ended)).rowcount
        deleted += conn.execute(delete(webhooks).where(_forgotten_webhooks(now))).rowcount
        keys, more_keys = _old_dry_run_keys(conn, now - DRY_RUN_KEYS_KEPT)
        claims, more_claims = _old_migration_keys(conn, now - MIGRATION_KEYS_KEPT, now)
        slots, more_slots = _old_slots(conn, now)
    return deleted + keys + claims + slots, more or more_keys or more_claims or more_slots


def _old_migration_keys(conn: Connection, finished_before: datetime, now: datetime) -> tuple[int, bool]:
    """Up to ``TIDY_BATCH`` key claims of one migration finished before ``finished_before`` whose re-copies (which
    claim under it) all finished before then too; whether more may be left. The migration is marked tidied in
    the transaction of the first batch: from then on a re-copy of it, or a retry of its ranges, is refused."""
    k, t = migration_keys.c, migration_claims_tidied.c
    begun = conn.execute(
        select(k.job_id).select_from(migration_keys.join(migration_claims_tidied, t.job_id == k.job_id)).limit(1)
    ).scalar()
    job = begun if begun is not None else _ledger_to_tidy(conn, finished_before)
    if job is None:
        return 0, False
    if begun is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(migration_claims_tidied).values(job_id=job, tidied_at=now).on_conflict_do_nothing())
    batch = select(k.key).where(k.job_id == job).limit(TIDY_BATCH).scalar_subquery()
    return conn.execute(delete(migration_keys).where(k.job_id == job, k.key.in_(batch))).rowcount, True


def _ledger_to_tidy(conn: Connection, finished_before: datetime) -> int | None:
    """A migration holding claims, finished before ``finished_before``, no re-copy of which is recent or running.
    The re-copies are looked for only once there is such a migration (most tidies find none)."""
    k, j = migration_keys.c, jobs.c
    query = (
        select(k.job_id)
        .select_from(migration_keys.join(jobs, j.id == k.job_id))
        .where(j.finished_at < finished_before)
        .limit(1)
    )
    found = conn.execute(query).scalar()
    if found is None:
        return None
    in_use = _ledgers_of_recent_recopies(conn, finished_before)
    if found not in in_use:
        return int(found)
    again = conn.execute(query.where(k.job_id.not_in(in_use))).scalar()
    return None if again is None else int(again)


def _ledgers_of_recent_recopies(conn: Connection, finished_before: datetime) -> list[int]:
    """The migrations that re-copies still running, or finished since ``finished_before``, claim keys under (a
    re-copy's params name it: ``recopy.job``). Unfinished and recent migrations are few; their params are read."""
    j = jobs.c
    recent = (j.finished_at.is_(None)) | (j.finished_at >= finished_before)
    ledgers: set[int] = set()
    for (params,) in conn.execute(select(j.params).where(j.type == "migrate", recent)):
        try:
            recopy = json.loads(params).get("recopy")
        except (ValueError, AttributeError):  # not a JSON object: names no migration
            continue
        if isinstance(recopy, dict) and isinstance(recopy.get("job"), int):
            ledgers.add(recopy["job"])
    return sorted(ledgers)


def _old_slots(conn: Connection, now: datetime) -> tuple[int, bool]:
    """Up to ``TIDY_BATCH`` decided slots of one schedule, older than ``SLOTS_KEPT``, well behind its cursor and
    not among its newest hundred (a slot claimed or buffered is never deleted); whether some may be left."""
    s, c = schedule_slots.c, schedules.c
    for schedule_id, cursor_at in conn.execute(select(c.id, c.cursor_at).order_by(c.id)).all():
        cursor = as_utc(cursor_at) or now
        cutoff = min(now - SLOTS_KEPT, cursor - SLOT_CURSOR_MARGIN)
        newest = (
            select(s.slot_at)
            .where(s.schedule_id == schedule_id)
            .order_by(s.slot_at.desc())
            .offset(SLOTS_KEPT_PER_SCHEDULE - 1)
            .limit(1)
            .scalar_subquery()
        )
        running = select(jobs.c.id).where(jobs.c.id == s.job_id, jobs.c.finished_at.is_(None)).exists()
        old = select(s.slot_at).where(  # a slot's unfinished run is how overlap and pause-on-failure find it
            s.schedule_id == schedule_id, s.slot_at < cutoff, s.slot_at < newest, s.outcome.in_(_DECIDED), ~running
        )
        batch = old.order_by(s.slot_at).limit(TIDY_BATCH).scalar_subquery()
        gone = conn.execute(delete(schedule_slots).where(s.schedule_id == schedule_id, s.slot_at.in_(batch))).rowcount
        if gone:
            return gone, True  # this schedule may have more, or another one
    return 0, False


def _old_dry_run_keys(conn: Connection, finished_before: datetime) -> tuple[int, bool]:
    """Up to ``TIDY_BATCH`` keys of one dry run finished before ``finished_before``; whether some may be left."""
    k, j = dry_run_keys.c, jobs.c
    job = conn.execute(
        select(k.job_id).select_from(dry_run_keys.join(jobs, j.id == k.job_id)).where(j.finished_at < finished_before)
    ).scalar()
    if job is None:
        return 0, False
    batch = select(k.key).where(k.job_id == job).limit(TIDY_BATCH).scalar_subquery()
    return conn.execute(delete(dry_run_keys).where(k.job_id == job, k.key.in_(batch))).rowcount, True


def _forgotten_webhooks(now: datetime) -> ColumnElement[bool]:
    """Webhooks deleted long ago whose delivery log is gone too: nothing shows or refers to them any more."""
    w, d = webhooks.c, deliveries.c
    logged = select(d.id).where(d.channel == Channel.WEBHOOK, d.target_id == w.id)
    return (w.deleted_at < now - ENDED_DELIVERIES_KEPT) & ~logged.exists()


def _old_events(db: Database, before: datetime) -> tuple[int, bool]:
    e = events.c
    with db.read() as conn:
        newest = conn.execute(select(func.max(e.id))).scalar()
        if newest is None:
            return 0, False
        oldest = conn.execute(select(e.id, e.created_at).where(e.id < newest).order_by(e.id).limit(TIDY_BATCH)).all()
    prefix = 0
    for _, created_at in oldest:
        stamp = as_utc(created_at)
        if stamp is None or stamp >= before:
            break
        prefix += 1
    if prefix == 0:
        return 0, False
    last = oldest[prefix - 1][0]
    with db.write() as conn:
        count = conn.execute(delete(events).where(e.id <= last)).rowcount
    return count, prefix == TIDY_BATCH


def oldest_event_id(db: Database) -> int:
    """The smallest id still in the events table (0 when it is empty)."""
    with db.read() as conn:
        return int(conn.execute(select(func.min(events.c.id))).scalar() or 0)
