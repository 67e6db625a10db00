"""Cron schedules: declared, changed, paused, previewed — and ticked. A tick decides every slot that came due
since the schedule's cursor by its missed-run and overlap policies; each decision is written as the slot's one
row first, and only the ticker that wrote it acts, so any number of tickers start at most one job per slot."""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from batchyard.core.cron import next_fire_times, validate_cron, validate_timezone
from batchyard.core.jobtype import JobType
from batchyard.core.model import Job
from batchyard.core.registry import Registry
from batchyard.core.schedules import NewSchedule, Schedule, ScheduleChange, Slot, SlotOutcome
from batchyard.core.slot_rules import MissedRuns, OverlapAction, SlotDecision, decide_overlap, missed_runs
from batchyard.errors import (
    BatchyardError,
    DatabaseUnavailable,
    IllegalTransition,
    InvalidSchedule,
    ReadOnlyRole,
    ScheduleExists,
    ScheduleNotFound,
    UserNotFound,
)
from batchyard.service.jobs import JobService
from batchyard.store.base import ScheduleStore

log = logging.getLogger(__name__)

SCHEDULED_FOR = "scheduled_for"  # the param a scheduled job receives: the slot's instant, in UTC
STALE_CLAIM = timedelta(seconds=60)  # a slot claimed this long ago without a job: its ticker died; start it again


@dataclass
class Tick:
    """What one tick did: jobs started, slots skipped (summaries count for all they stand for), buffered."""

    started: list[int]
    skipped: int = 0
    buffered: int = 0
    paused: int = 0


class ScheduleService:
    def __init__(self, store: ScheduleStore, jobs: JobService, registry: Registry) -> None:
        self.store = store
        self.jobs = jobs
        self.registry = registry

    # declaring ---------------------------------------------------------------------------------------------------
    def create(self, new: NewSchedule, *, now: datetime | None = None) -> Schedule:
        checked = replace(new, cron=validate_cron(new.cron), timezone=_zone(new.timezone))
        _check_name(checked.name)
        self._check_params(checked.type, checked.params, owner=checked.owner)
        return self.store.create(checked, now=now)

    def declare(self, new: NewSchedule) -> Schedule:
        """A schedule declared in code: created when missing (by owner and name), else brought back to its
        declaration; pausing it stays the operators' business. Schedulers starting together agree: the one
        whose create loses the race reads the winner's."""
        found = self._named(new.owner, new.name)
        if found is None:
            try:
                return self.create(new)
            except ScheduleExists:
                found = self._named(new.owner, new.name)
                if found is None:
                    raise
        declared = (new.type, new.params, new.cron, new.timezone, new.overlap, new.missed, new.pause_on_failure)
        stored = (found.type, found.params, found.cron, found.timezone, found.overlap, found.missed)
        if (*stored, found.pause_on_failure) == declared:
            return found
        change = ScheduleChange(
            type=new.type, params=new.params, cron=new.cron, timezone=new.timezone, overlap=new.overlap,
            missed=new.missed, pause_on_failure=new.pause_on_failure,
        )  # fmt: skip
        return self.change(found.id, change)

    def _named(self, owner: str, name: str) -> Schedule | None:
        return next((s for s in self.store.listed(owner=owner, limit=10_000) if s.name == name), None)

    def change(self, schedule_id: int, change: ScheduleChange, *, now: datetime | None = None) -> Schedule:
        current = self.store.get(schedule_id)
        cron = None if change.cron is None else validate_cron(change.cron)
        zone = None if change.timezone is None else _zone(change.timezone)
        if change.name is not None:
            _check_name(change.name)
        if change.params is not None or change.type is not None:
            params = current.params if change.params is None else change.params
            self._check_params(change.type or current.type, params, owner=current.owner)
        retimed = (cron or current.cron, zone or current.timezone) != (current.cron, current.timezone)
        at = (now or datetime.now(UTC)) if retimed else None
        return self.store.change(schedule_id, replace(change, cron=cron, timezone=zone), cursor_at=at)

    def get(self, schedule_id: int, *, owner: str | None = None) -> Schedule:
        """``owner``: the caller, who sees only their own schedules (None: an admin, who sees all)."""
        schedule = self.store.get(schedule_id)
        if owner is not None and schedule.owner != owner:
            raise ScheduleNotFound(schedule_id=schedule_id)  # another user's schedule is not there for them
        return schedule

    def listed(self, *, owner: str | None, after: int | None = None, limit: int = 100) -> list[Schedule]:
        return self.store.listed(owner=owner, after=after, limit=limit)

    def delete(self, schedule_id: int) -> None:
        self.store.delete(schedule_id)

    def pause(self, schedule_id: int, reason: str | None = None) -> Schedule:
        return self.store.set_paused(schedule_id, True, reason=reason or "paused by a user")

    def resume(self, schedule_id: int, *, now: datetime | None = None) -> Schedule:
        """Resume: slots that came due while paused are decided by the missed-run policy at the next tick."""
        return self.store.set_paused(schedule_id, False, resume_at=None if now is None else now)

    def slots(self, schedule_id: int, *, before: datetime | None = None, limit: int = 50) -> list[Slot]:
        return self.store.slots(schedule_id, before=before, limit=limit)

    @staticmethod
    def preview(cron: str, timezone: str, *, after: datetime | None = None, count: int = 5) -> list[datetime]:
        """The next ``count`` fire times (UTC) after ``after`` (now)."""
        expr, zone = validate_cron(cron), _zone(timezone)
        return next_fire_times(expr, zone, after or datetime.now(UTC), count)

    def _check_params(self, type_name: str, params: dict[str, Any], *, owner: str) -> None:
        """The params a run would get (with a ``scheduled_for``) must pass the job type's checks now."""
        job_type = self.registry.get(type_name)
        if job_type.source is None:
            raise InvalidSchedule(
                reason=f"a job of type {type_name!r} needs its items from whoever submits it; a schedule can only "
                "start job types that find their own items",
                reason_zh=f"{type_name!r} 类型的任务需要提交者给出项目；计划只能启动自行获取项目的任务类型",
            )
        job_type.parse_params(_params_for(job_type, params, datetime.now(UTC)))

    # ticking -----------------------------------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> Tick:
        """Decide every slot due by ``now`` of every schedule not paused. One schedule's trouble (a job type's
        own check failing, the database away) is logged and leaves the others ticking."""
        at = now or datetime.now(UTC)
        tick = Tick(started=[])
        for schedule in self.store.due(at):
            if schedule.type not in self.registry:
                log.warning("schedule %s: job type %r is not known here; left to a scheduler that knows it",
                            schedule.id, schedule.type)  # fmt: skip
                continue
            try:
                self._tick_one(_Ticking(schedule, at, tick))
            except ScheduleNotFound:
                continue  # deleted under this tick
            except Exception:
                log.exception("schedule %s: its tick failed; the next one tries again", schedule.id)
        return tick

    def _tick_one(self, t: _Ticking) -> None:
        schedule = t.schedule
        if schedule.pause_on_failure and self._paused_for_failure(schedule):
            t.tick.paused += 1
            return
        t.in_flight = self.store.runs_in_flight(schedule.id)
        self._start_buffered(t)
        self._take_over_claims(t)
        due = missed_runs(schedule.cron, schedule.timezone, schedule.missed, schedule.cursor_at, t.now)
        self._record_summaries(t, due)
        for decision in due.slots:
            self._decide(t, decision)
        self.store.advance(schedule.id, seen=schedule.cursor_at, to=t.now)

    def _paused_for_failure(self, schedule: Schedule) -> bool:
        failed = self.store.latest_failed_run(schedule.id, after=schedule.failure_seen)
        if failed is None:
            return False
        self.store.pause_for_failure(schedule.id, failed, f"run {failed} failed")
        return True

    def _start_buffered(self, t: _Ticking) -> None:
        """Start the run that waited for the previous one, once that has ended."""
        waiting = self.store.slots(t.schedule.id, outcomes=[SlotOutcome.BUFFERED], limit=1)
        t.buffered = bool(waiting)
        if waiting and not t.running:
            self._start(t, waiting[0].slot_at)
            t.buffered = False

    def _take_over_claims(self, t: _Ticking) -> None:
        """A slot claimed by a ticker still at work counts as a run in flight. One claimed ``STALE_CLAIM`` ago
        lost its ticker before its job was recorded: it is decided again by the overlap policy, and started by
        repeating the submit with the same idempotency key, which finds the job if it was made — never two."""
        for slot in self.store.slots(t.schedule.id, outcomes=[SlotOutcome.CLAIMED], limit=20):
            decided = slot.decided_at or t.now
            if t.now - decided < STALE_CLAIM:
                t.claims_in_hand += 1
                continue
            overlap = decide_overlap(t.schedule.overlap, previous_running=t.running, buffered=t.buffered)
            if overlap.action is OverlapAction.SKIP or overlap.action is OverlapAction.BUFFER:
                reason = overlap.reason or "previous_running"
                self.store.settle_slot(t.schedule.id, slot.slot_at, SlotOutcome.SKIPPED, reason=reason)
                t.tick.skipped += 1
                continue
            if overlap.action is OverlapAction.CANCEL_PREVIOUS_THEN_START:
                self._cancel(t)
            self._start(t, slot.slot_at)

    def _record_summaries(self, t: _Ticking, due: MissedRuns) -> None:
        for summary in due.earlier:
            slot = Slot(t.schedule.id, summary.first, SlotOutcome.SKIPPED, summary.reason, None, summary.count,
                        summary.last, decided_at=t.now)  # fmt: skip
            if self.store.claim_slot(slot):
                t.tick.skipped += summary.count

    def _decide(self, t: _Ticking, decision: SlotDecision) -> None:
        if not decision.run:
            self._skip(t, decision.slot, decision.reason or "missed")
            return
        overlap = decide_overlap(t.schedule.overlap, previous_running=t.running, buffered=t.buffered)
        if overlap.action is OverlapAction.SKIP:
            self._skip(t, decision.slot, overlap.reason or "previous_running")
        elif overlap.action is OverlapAction.BUFFER:
            if self.store.claim_slot(Slot(t.schedule.id, decision.slot, SlotOutcome.BUFFERED, decided_at=t.now)):
                t.tick.buffered += 1
            t.buffered = True
        elif self.store.claim_slot(Slot(t.schedule.id, decision.slot, SlotOutcome.CLAIMED, decided_at=t.now)):
            if overlap.action is OverlapAction.CANCEL_PREVIOUS_THEN_START:
                self._cancel(t)
            self._start(t, decision.slot)

    def _skip(self, t: _Ticking, slot_at: datetime, reason: str) -> None:
        if self.store.claim_slot(Slot(t.schedule.id, slot_at, SlotOutcome.SKIPPED, reason, decided_at=t.now)):
            t.tick.skipped += 1

    def _cancel(self, t: _Ticking) -> None:
        for job_id in list(t.in_flight):
            with suppress(IllegalTransition):  # it finished meanwhile
                self.jobs.cancel(job_id)
            t.in_flight.remove(job_id)

    def _start(self, t: _Ticking, slot_at: datetime) -> None:
        """Submit the slot's job (idempotent by slot, so a repeat finds the same job) and record it. A refusal
        is recorded with its reason; a database that is away leaves the slot claimed, for a later tick."""
        schedule = t.schedule
        try:
            job = self._submit(schedule, slot_at)
        except DatabaseUnavailable:
            raise
        except BatchyardError as exc:
            self._refused(schedule, slot_at, exc.code, (exc.message("en"), exc.message("zh-CN")))
            return
        except Exception as exc:  # noqa: BLE001 - a job type's own check failed: this run is refused, the rest go on
            text = f"{type(exc).__name__}: {exc}"
            self._refused(schedule, slot_at, "error", (text, text))
            return
        self.store.settle_slot(schedule.id, slot_at, SlotOutcome.STARTED, job_id=job.id)
        if job.status.value not in ("succeeded", "partially_succeeded", "failed", "cancelled"):
            t.in_flight.append(job.id)
        t.tick.started.append(job.id)

    def _submit(self, schedule: Schedule, slot_at: datetime) -> Job:
        self._check_owner(schedule.owner)
        job_type = self.registry.get(schedule.type)
        return self.jobs.submit(
            schedule.type,
            owner=schedule.owner,
            params=_params_for(job_type, schedule.params, slot_at),
            idempotency_key=f"schedule:{schedule.id}:{slot_at.isoformat()}",
        )

    def _check_owner(self, owner: str) -> None:
        """A run is submitted as the schedule's owner: an owner who may no longer act (made a viewer) starts
        nothing. An owner who is not a user of the service (a schedule declared in code) may."""
        try:
            user = self.jobs.store.get_user(owner)
        except UserNotFound:
            return
        if not user.can_act:
            raise ReadOnlyRole()

    def _refused(self, schedule: Schedule, slot_at: datetime, code: str, detail: tuple[str, str]) -> None:
        log.warning("schedule %s: the run for %s was refused: %s", schedule.id, slot_at, detail[0])
        self.store.settle_slot(schedule.id, slot_at, SlotOutcome.REFUSED, reason=code[:32], detail=detail)


@dataclass
class _Ticking:
    """One schedule's tick: what it has seen so far."""

    schedule: Schedule
    now: datetime
    tick: Tick
    in_flight: list[int] = field(default_factory=list)
    claims_in_hand: int = 0  # slots other tickers are starting right now
    buffered: bool = False

    @property
    def running(self) -> bool:
        return bool(self.in_flight) or self.claims_in_hand > 0


def _params_for(job_type: JobType, params: dict[str, Any], slot_at: datetime) -> dict[str, Any]:
    """The schedule's params, with the slot's instant as ``scheduled_for`` when the job type takes one (a
    type without a params model takes any param)."""
    model = job_type.params_model
    if model is not None and SCHEDULED_FOR not in model.model_fields:
        return dict(params)
    return {**params, SCHEDULED_FOR: slot_at.astimezone(UTC).isoformat()}


def _zone(name: str) -> str:
    validate_timezone(name)
    return name


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InvalidSchedule(
            reason="a name is 1 to 200 characters, without control characters",
            reason_zh="名称为 1 到 200 个字符，不含控制字符",
        )
