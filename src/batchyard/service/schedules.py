"""Cron schedules: declared, changed, paused, previewed — and ticked. A tick decides every slot that came due
since the schedule's cursor by its missed-run and overlap policies; each decision is written as the slot's one
row first, and only the ticker that wrote it acts, so any number of tickers start at most one job per slot."""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from batchyard.core.cron import next_fire_times, validate_cron, validate_timezone
from batchyard.core.jobtype import JobType
from batchyard.core.registry import Registry
from batchyard.core.schedules import NewSchedule, Schedule, ScheduleChange, Slot, SlotOutcome
from batchyard.core.slot_rules import MissedRuns, OverlapAction, SlotDecision, decide_overlap, missed_runs
from batchyard.errors import BatchyardError, IllegalTransition, InvalidSchedule, ScheduleNotFound
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
        declaration; pausing it stays the operators' business."""
        found = next((s for s in self.store.listed(owner=new.owner, limit=10_000) if s.name == new.name), None)
        if found is None:
            return self.create(new)
        change = ScheduleChange(
            params=new.params, cron=new.cron, timezone=new.timezone, overlap=new.overlap, missed=new.missed,
            pause_on_failure=new.pause_on_failure,
        )  # fmt: skip
        if (found.type, found.params, found.cron, found.timezone, found.overlap, found.missed) == (
            new.type, new.params, new.cron, new.timezone, new.overlap, new.missed,
        ) and found.pause_on_failure == new.pause_on_failure:  # fmt: skip
            return found
        return self.change(found.id, change)

    def change(self, schedule_id: int, change: ScheduleChange, *, now: datetime | None = None) -> Schedule:
        current = self.store.get(schedule_id)
        cron = None if change.cron is None else validate_cron(change.cron)
        zone = None if change.timezone is None else _zone(change.timezone)
        if change.name is not None:
            _check_name(change.name)
        if change.params is not None:
            self._check_params(current.type, change.params, owner=current.owner)
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
        """Decide every slot due by ``now`` of every schedule not paused."""
        at = now or datetime.now(UTC)
        tick = Tick(started=[])
        for schedule in self.store.due(at):
            try:
                self._tick_one(schedule, at, tick)
            except ScheduleNotFound:
                continue  # deleted under this tick
        return tick

    def _tick_one(self, schedule: Schedule, now: datetime, tick: Tick) -> None:
        if schedule.pause_on_failure and self._paused_for_failure(schedule):
            tick.paused += 1
            return
        in_flight = self.store.runs_in_flight(schedule.id)
        buffered = self._start_buffered(schedule, in_flight, tick)
        self._restart_stale_claims(schedule, now, in_flight, tick)
        due = missed_runs(schedule.cron, schedule.timezone, schedule.missed, schedule.cursor_at, now)
        self._record_summaries(schedule, due, tick)
        for decision in due.slots:
            buffered = self._decide(schedule, decision, in_flight, buffered, tick)
        self.store.advance(schedule.id, seen=schedule.cursor_at, to=now)

    def _paused_for_failure(self, schedule: Schedule) -> bool:
        failed = self.store.latest_failed_run(schedule.id, after=schedule.failure_seen)
        if failed is None:
            return False
        self.store.pause_for_failure(schedule.id, failed, f"run {failed} failed")
        return True

    def _start_buffered(self, schedule: Schedule, in_flight: list[int], tick: Tick) -> bool:
        """Start the run that waited for the previous one, once that has ended; whether one still waits."""
        waiting = self.store.slots(schedule.id, outcomes=[SlotOutcome.BUFFERED], limit=1)
        if not waiting:
            return False
        if in_flight:
            return True
        self._start(schedule, waiting[0].slot_at, in_flight, tick)
        return False

    def _restart_stale_claims(self, schedule: Schedule, now: datetime, in_flight: list[int], tick: Tick) -> None:
        """A ticker that claimed a slot and died before its job was recorded: the submit is repeated with the
        same idempotency key, so the job it may have created is found, never doubled."""
        for slot in self.store.slots(schedule.id, outcomes=[SlotOutcome.CLAIMED], limit=20):
            if slot.decided_at is not None and now - slot.decided_at >= STALE_CLAIM:
                self._start(schedule, slot.slot_at, in_flight, tick)

    def _record_summaries(self, schedule: Schedule, due: MissedRuns, tick: Tick) -> None:
        for summary in due.earlier:
            slot = Slot(
                schedule.id, summary.first, SlotOutcome.SKIPPED, summary.reason, None, summary.count, summary.last
            )
            if self.store.claim_slot(slot):
                tick.skipped += summary.count

    def _decide(
        self, schedule: Schedule, decision: SlotDecision, in_flight: list[int], buffered: bool, tick: Tick
    ) -> bool:
        if not decision.run:
            self._skip(schedule, decision.slot, decision.reason or "missed", tick)
            return buffered
        overlap = decide_overlap(schedule.overlap, previous_running=bool(in_flight), buffered=buffered)
        if overlap.action is OverlapAction.SKIP:
            self._skip(schedule, decision.slot, overlap.reason or "previous_running", tick)
        elif overlap.action is OverlapAction.BUFFER:
            if self.store.claim_slot(Slot(schedule.id, decision.slot, SlotOutcome.BUFFERED)):
                tick.buffered += 1
            return True
        elif self.store.claim_slot(Slot(schedule.id, decision.slot, SlotOutcome.CLAIMED)):
            if overlap.action is OverlapAction.CANCEL_PREVIOUS_THEN_START:
                self._cancel(in_flight)
            self._start(schedule, decision.slot, in_flight, tick)
        return buffered

    def _skip(self, schedule: Schedule, slot_at: datetime, reason: str, tick: Tick) -> None:
        if self.store.claim_slot(Slot(schedule.id, slot_at, SlotOutcome.SKIPPED, reason)):
            tick.skipped += 1

    def _cancel(self, in_flight: list[int]) -> None:
        for job_id in list(in_flight):
            with suppress(IllegalTransition):  # it finished meanwhile
                self.jobs.cancel(job_id)
            in_flight.remove(job_id)

    def _start(self, schedule: Schedule, slot_at: datetime, in_flight: list[int], tick: Tick) -> None:
        """Submit the slot's job (idempotent by slot, so a repeat finds the same job) and record it."""
        try:
            job_type = self.registry.get(schedule.type)
            job = self.jobs.submit(
                schedule.type,
                owner=schedule.owner,
                params=_params_for(job_type, schedule.params, slot_at),
                idempotency_key=f"schedule:{schedule.id}:{slot_at.isoformat()}",
            )
        except BatchyardError as exc:
            log.warning("schedule %s: the run for %s was refused: %s", schedule.id, slot_at, exc)
            detail = (exc.message("en"), exc.message("zh-CN"))
            self.store.settle_slot(schedule.id, slot_at, SlotOutcome.REFUSED, reason=exc.code, detail=detail)
            return
        self.store.settle_slot(schedule.id, slot_at, SlotOutcome.STARTED, job_id=job.id)
        if job.status.value not in ("succeeded", "partially_succeeded", "failed", "cancelled"):
            in_flight.append(job.id)
        tick.started.append(job.id)


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
