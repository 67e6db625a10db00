"""Schedules: a cron expression in a time zone that starts jobs of one type, and the record of each slot
(a fire time) — started, buffered or skipped with its reason — kept once per slot however many tickers run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from batchyard.core.slot_rules import MissedPolicy, Overlap


class SlotOutcome(StrEnum):
    CLAIMED = "claimed"  # a ticker took the slot and is starting its job
    STARTED = "started"
    BUFFERED = "buffered"  # waits for the previous run to end (overlap buffer_one)
    SKIPPED = "skipped"
    REFUSED = "refused"  # the submit was refused (quota, rate limit, invalid params): the reason says why


@dataclass(frozen=True, slots=True)
class NewSchedule:
    name: str
    owner: str
    type: str
    params: dict[str, Any]
    cron: str
    timezone: str
    overlap: Overlap = Overlap.SKIP
    missed: MissedPolicy = field(default_factory=lambda: MissedPolicy("latest_once"))
    pause_on_failure: bool = False
    paused: bool = False


@dataclass(frozen=True, slots=True)
class Schedule:
    id: int
    name: str
    owner: str
    type: str
    params: dict[str, Any]
    cron: str
    timezone: str
    overlap: Overlap
    missed: MissedPolicy
    pause_on_failure: bool
    paused: bool
    paused_reason: str | None
    cursor_at: datetime  # every slot up to here has been decided
    failure_seen: int  # the newest failed run pause_on_failure has acted on (a resume does not pause again for it)
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    """A PATCH: only the fields given change (``type`` only by a declaration in code, never over HTTP)."""

    name: str | None = None
    type: str | None = None
    params: dict[str, Any] | None = None
    cron: str | None = None
    timezone: str | None = None
    overlap: Overlap | None = None
    missed: MissedPolicy | None = None
    pause_on_failure: bool | None = None


@dataclass(frozen=True, slots=True)
class Slot:
    """One fire time of a schedule and what became of it; a summary of many skipped slots has ``count`` > 1
    and its last slot in ``last_at``."""

    schedule_id: int
    slot_at: datetime
    outcome: SlotOutcome
    reason: str | None = None
    job_id: int | None = None
    count: int = 1
    last_at: datetime | None = None
    detail: str | None = None  # the refusal's message, when a submit was refused
    detail_zh: str | None = None
    decided_at: datetime | None = None
