"""Schedules and their slots in the database: the slot's primary key is what lets any number of tickers run,
and the cursor moves only forward, by compare-and-set."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Insert, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from batchyard.core.schedules import NewSchedule, Schedule, ScheduleChange, Slot, SlotOutcome
from batchyard.core.slot_rules import MissedPolicy, Overlap
from batchyard.core.status import ACTIVE
from batchyard.errors import ScheduleExists, ScheduleNotFound
from batchyard.store.sql import codec
from batchyard.store.sql.database import Database
from batchyard.store.sql.rows import as_utc, utcnow
from batchyard.store.sql.tables import jobs, schedule_slots, schedules

_ACTIVE = [status.value for status in ACTIVE]


class SqlSchedules:
    """The ``ScheduleStore`` protocol (store/base.py) on SQLite or PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, new: NewSchedule, *, now: datetime | None = None) -> Schedule:
        at = _utc(now or utcnow())
        values = {**_columns(new), "cursor_at": at, "created_at": at, "updated_at": at, "failure_seen": 0}
        try:
            with self.db.write() as conn:
                _refuse_taken(conn, new.owner, new.name, but=None)
                schedule_id = conn.execute(insert(schedules).values(**values).returning(schedules.c.id)).scalar_one()
                return _get(conn, schedule_id)
        except IntegrityError:  # another process created one of that name between the check and the insert
            raise ScheduleExists(name=new.name) from None

    def get(self, schedule_id: int) -> Schedule:
        with self.db.read() as conn:
            return _get(conn, schedule_id)

    def listed(self, *, owner: str | None, after: int | None = None, limit: int = 100) -> list[Schedule]:
        query = select(schedules).order_by(schedules.c.id).limit(limit)
        if owner is not None:
            query = query.where(schedules.c.owner == owner)
        if after is not None:
            query = query.where(schedules.c.id > after)
        with self.db.read() as conn:
            return [_schedule(row) for row in conn.execute(query).mappings()]

    def change(self, schedule_id: int, change: ScheduleChange, *, cursor_at: datetime | None = None) -> Schedule:
        values: dict[str, Any] = {k: v for k, v in _changed(change).items() if v is not None}
        if cursor_at is not None:  # a new cron or zone: slots are decided from now on, never back-filled
            values["cursor_at"] = _utc(cursor_at)
        try:
            with self.db.write() as conn:
                current = _get(conn, schedule_id)
                if change.name is not None:
                    _refuse_taken(conn, current.owner, change.name, but=schedule_id)
                statement = update(schedules).where(schedules.c.id == schedule_id)
                conn.execute(statement.values(updated_at=utcnow(), **values))
                return _get(conn, schedule_id)
        except IntegrityError:
            raise ScheduleExists(name=change.name or "") from None

    def delete(self, schedule_id: int) -> None:
        with self.db.write() as conn:
            _get(conn, schedule_id)
            conn.execute(delete(schedule_slots).where(schedule_slots.c.schedule_id == schedule_id))
            conn.execute(delete(schedules).where(schedules.c.id == schedule_id))

    def set_paused(
        self, schedule_id: int, paused: bool, *, reason: str | None = None, resume_at: datetime | None = None
    ) -> Schedule:
        """Pause (with a reason) or resume; a resume moves the cursor to ``resume_at`` when given, so slots
        missed while paused are decided by the missed-run policy from there."""
        values: dict[str, Any] = {"paused": paused, "paused_reason": reason if paused else None}
        if not paused and resume_at is not None:
            values["cursor_at"] = _utc(resume_at)
        with self.db.write() as conn:
            _get(conn, schedule_id)
            conn.execute(update(schedules).where(schedules.c.id == schedule_id).values(updated_at=utcnow(), **values))
            return _get(conn, schedule_id)

    def pause_for_failure(self, schedule_id: int, job_id: int, reason: str) -> bool:
        """Pause because run ``job_id`` failed, once per failed run: false when another ticker did first."""
        with self.db.write() as conn:
            done = conn.execute(
                update(schedules)
                .where(schedules.c.id == schedule_id, schedules.c.failure_seen < job_id)
                .values(paused=True, paused_reason=reason, failure_seen=job_id, updated_at=utcnow())
            )
            return bool(done.rowcount)

    def due(self, now: datetime, *, limit: int = 500) -> list[Schedule]:
        """Schedules not paused, for a tick at ``now`` (those whose cursor is behind it)."""
        query = (
            select(schedules)
            .where(schedules.c.paused.is_(False), schedules.c.cursor_at < _utc(now))
            .order_by(schedules.c.cursor_at)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [_schedule(row) for row in conn.execute(query).mappings()]

    def advance(self, schedule_id: int, *, seen: datetime, to: datetime) -> bool:
        """Move the cursor from ``seen`` to ``to``: false when another ticker moved it first."""
        with self.db.write() as conn:
            moved = conn.execute(
                update(schedules)
                .where(schedules.c.id == schedule_id, schedules.c.cursor_at == _utc(seen))
                .values(cursor_at=_utc(to))
            )
            return bool(moved.rowcount)

    def claim_slot(self, slot: Slot) -> bool:
        """Write the slot's row unless one exists: the one ticker that wrote it decides what the slot does."""
        values = _slot_columns(slot)
        with self.db.write() as conn:  # a returned row, not the row count: psycopg's is -1 for this statement
            return conn.execute(_insert_ignoring(conn, values)).first() is not None

    def settle_slot(
        self,
        schedule_id: int,
        slot_at: datetime,
        outcome: SlotOutcome,
        *,
        job_id: int | None = None,
        reason: str | None = None,
        detail: tuple[str, str] | None = None,
    ) -> None:
        values: dict[str, Any] = {"outcome": outcome.value, "job_id": job_id, "reason": reason, "decided_at": utcnow()}
        if detail is not None:
            values["detail"], values["detail_zh"] = detail
        with self.db.write() as conn:
            conn.execute(
                update(schedule_slots)
                .where(schedule_slots.c.schedule_id == schedule_id, schedule_slots.c.slot_at == _utc(slot_at))
                .values(**values)
            )

    def slots(
        self, schedule_id: int, *, outcomes: Sequence[SlotOutcome] = (), before: datetime | None = None, limit: int = 50
    ) -> list[Slot]:
        """Newest first."""
        query = select(schedule_slots).where(schedule_slots.c.schedule_id == schedule_id)
        if outcomes:
            query = query.where(schedule_slots.c.outcome.in_([o.value for o in outcomes]))
        if before is not None:
            query = query.where(schedule_slots.c.slot_at < _utc(before))
        query = query.order_by(schedule_slots.c.slot_at.desc()).limit(limit)
        with self.db.read() as conn:
            return [_slot(row) for row in conn.execute(query).mappings()]

    def runs_in_flight(self, schedule_id: int) -> list[int]:
        """The schedule's jobs not finished yet, oldest first."""
        query = (
            select(jobs.c.id)
            .select_from(schedule_slots.join(jobs, jobs.c.id == schedule_slots.c.job_id))
            .where(schedule_slots.c.schedule_id == schedule_id, jobs.c.status.in_(_ACTIVE))
            .order_by(jobs.c.id)
        )
        with self.db.read() as conn:
            return list(conn.execute(query).scalars())

    def latest_failed_run(self, schedule_id: int, *, after: int) -> int | None:
        """The newest run after job ``after`` that ended failed, if the newest finished run did."""
        query = (
            select(jobs.c.id, jobs.c.status)
            .select_from(schedule_slots.join(jobs, jobs.c.id == schedule_slots.c.job_id))
            .where(
                schedule_slots.c.schedule_id == schedule_id,
                jobs.c.id > after,
                jobs.c.finished_at.is_not(None),
            )
            .order_by(jobs.c.id.desc())
            .limit(1)
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
        return int(row[0]) if row is not None and row[1] == "failed" else None

    def count_slots(self, schedule_id: int) -> dict[str, int]:
        """Slots by outcome, a summary row counting for all the slots it stands for."""
        query = (
            select(schedule_slots.c.outcome, func.sum(schedule_slots.c.count))
            .where(schedule_slots.c.schedule_id == schedule_id)
            .group_by(schedule_slots.c.outcome)
        )
        with self.db.read() as conn:
            return {outcome: int(total) for outcome, total in conn.execute(query).all()}


def _insert_ignoring(conn: Connection, values: dict[str, Any]) -> Insert:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement: Any = dialect.insert(schedule_slots).values(**values)
    return statement.on_conflict_do_nothing().returning(schedule_slots.c.slot_at)  # type: ignore[no-any-return]


def _refuse_taken(conn: Connection, owner: str, name: str, *, but: int | None) -> None:
    query = select(schedules.c.id).where(schedules.c.owner == owner, schedules.c.name == name)
    if but is not None:
        query = query.where(schedules.c.id != but)
    if conn.execute(query).first() is not None:
        raise ScheduleExists(name=name)


def _utc(value: datetime) -> datetime:
    """Instants are stored in UTC: SQLite keeps a datetime's wall-clock digits and drops its offset."""
    if value.tzinfo is None:
        raise ValueError("an instant needs its time zone")
    return value.astimezone(UTC)


def _get(conn: Connection, schedule_id: int) -> Schedule:
    row = conn.execute(select(schedules).where(schedules.c.id == schedule_id)).mappings().one_or_none()
    if row is None:
        raise ScheduleNotFound(schedule_id=schedule_id)
    return _schedule(row)


def _columns(new: NewSchedule) -> dict[str, Any]:
    return {
        "name": new.name,
        "owner": new.owner,
        "type": new.type,
        "params": codec.dumps(new.params),
        "cron": new.cron,
        "timezone": new.timezone,
        "overlap": new.overlap.value,
        "missed": codec.dumps(new.missed.as_dict()),
        "pause_on_failure": new.pause_on_failure,
        "paused": new.paused,
    }


def _changed(change: ScheduleChange) -> dict[str, Any]:
    return {
        "name": change.name,
        "type": change.type,
        "params": None if change.params is None else codec.dumps(change.params),
        "cron": change.cron,
        "timezone": change.timezone,
        "overlap": None if change.overlap is None else change.overlap.value,
        "missed": None if change.missed is None else codec.dumps(change.missed.as_dict()),
        "pause_on_failure": change.pause_on_failure,
    }


def _schedule(row: RowMapping) -> Schedule:
    return Schedule(
        id=row["id"],
        name=row["name"],
        owner=row["owner"],
        type=row["type"],
        params=codec.loads(row["params"]),
        cron=row["cron"],
        timezone=row["timezone"],
        overlap=Overlap(row["overlap"]),
        missed=MissedPolicy.parse(codec.loads(row["missed"])),
        pause_on_failure=bool(row["pause_on_failure"]),
        paused=bool(row["paused"]),
        paused_reason=row["paused_reason"],
        cursor_at=_aware(row["cursor_at"]),
        failure_seen=int(row["failure_seen"]),
        created_at=_aware(row["created_at"]),
        updated_at=_aware(row["updated_at"]),
    )


def _slot_columns(slot: Slot) -> dict[str, Any]:
    return {
        "schedule_id": slot.schedule_id,
        "slot_at": _utc(slot.slot_at),
        "outcome": slot.outcome.value,
        "reason": slot.reason,
        "job_id": slot.job_id,
        "count": slot.count,
        "last_at": None if slot.last_at is None else _utc(slot.last_at),
        "detail": slot.detail,
        "detail_zh": slot.detail_zh,
        "decided_at": _utc(slot.decided_at or utcnow()),
    }


def _slot(row: RowMapping) -> Slot:
    return Slot(
        schedule_id=row["schedule_id"],
        slot_at=_aware(row["slot_at"]),
        outcome=SlotOutcome(row["outcome"]),
        reason=row["reason"],
        job_id=row["job_id"],
        count=int(row["count"]),
        last_at=as_utc(row["last_at"]),
        detail=row["detail"],
        detail_zh=row["detail_zh"],
        decided_at=as_utc(row["decided_at"]),
    )


def _aware(value: datetime) -> datetime:
    found = as_utc(value)
    assert found is not None
    return found
