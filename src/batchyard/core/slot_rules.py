"""What a schedule does with a slot that came due: the missed-run policy (slots that came due while no scheduler
ticked) and the overlap policy (a slot that came due while the previous run was still active). Pure rules; the
ticker applies them and the store records each slot once.

Bounded work: ``missed_runs`` decides the latest ``MAX_CATCH_UP`` due slots one by one (every run is among them)
and only counts the older ones, all skipped, into a ``SkippedRange`` per reason, so a ``* * * * *`` schedule
resumed after a year's pause costs about a thousand slots, not half a million.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from batchyard.core.cron import count_fire_times, fire_times_between, latest_fire_times
from batchyard.errors import InvalidSchedule

DEFAULT_GRACE = timedelta(seconds=60)
# The most runs catch_up_all may start at once, and how many due slots missed_runs decides one by one.
MAX_CATCH_UP = 1000
MAX_CATCH_UP_WINDOW = timedelta(days=366)
_ONE_TICK = timedelta(microseconds=1)

# What each reason code a skipped slot carries means, in English and Chinese (the API renders them).
REASON_LABELS: dict[str, tuple[str, str]] = {
    "missed": ("missed: no scheduler ran it on time", "错过：没有调度器按时运行它"),
    "superseded": ("superseded: only the latest missed run is started", "已被取代：只启动最近一次错过的运行"),
    "outside_window": ("missed: outside the catch-up window", "错过：超出补跑时间窗口"),
    "over_limit": ("missed: over the catch-up limit", "错过：超出补跑次数上限"),
    "previous_running": ("skipped: the previous run was still running", "已跳过：上一次运行仍在进行"),
    "buffer_full": (
        "skipped: a run was already waiting for the previous one to finish",
        "已跳过：已有一次运行在等待上一次运行结束",
    ),
}


def _invalid(reason: str, reason_zh: str) -> InvalidSchedule:
    return InvalidSchedule(reason=reason, reason_zh=reason_zh)


MissedKind = Literal["skip", "latest_once", "catch_up_all"]
_KINDS: dict[str, MissedKind] = {"skip": "skip", "latest_once": "latest_once", "catch_up_all": "catch_up_all"}
_POLICY_KEYS = {"kind", "window_seconds", "max"}


@dataclass(frozen=True, slots=True)
class MissedPolicy:
    """What happens to slots that came due while no scheduler ticked: ``skip`` runs only a slot still on time,
    ``latest_once`` runs the latest, ``catch_up_all`` runs those within ``window`` of now, at most ``max_runs``
    (the latest ones)."""

    kind: MissedKind
    window: timedelta | None = None
    max_runs: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise _unknown_kind(self.kind)
        if self.kind == "catch_up_all":
            _check_catch_up(self.window, self.max_runs)
        elif self.window is not None or self.max_runs is not None:
            raise _invalid(
                "only catch_up_all takes window_seconds and max", "只有 catch_up_all 可以设置 window_seconds 和 max"
            )

    @classmethod
    def parse(cls, value: object) -> MissedPolicy:
        """The policy as an API sends it: ``"skip"``, ``"latest_once"``, or
        ``{"kind": "catch_up_all", "window_seconds": 86400, "max": 10}``."""
        if isinstance(value, str):
            return cls(_kind(value))
        if not isinstance(value, Mapping):
            raise _invalid(
                "the missed-run policy must be a name or an object with a kind",
                "错过运行策略必须是名称或带 kind 的对象",
            )
        unknown = sorted(str(key) for key in set(value) - _POLICY_KEYS)
        if unknown:
            raise _invalid(f"the missed-run policy has unknown keys: {unknown}", f"错过运行策略包含未知的键：{unknown}")
        window = _window(_whole(value.get("window_seconds"), "window_seconds"))
        return cls(_kind(value.get("kind")), window, _whole(value.get("max"), "max"))

    def as_dict(self) -> dict[str, object]:
        """The plain form ``parse`` reads back."""
        if self.window is None:
            return {"kind": self.kind}
        return {"kind": self.kind, "window_seconds": int(self.window.total_seconds()), "max": self.max_runs}


def _kind(value: object) -> MissedKind:
    if value is None:
        raise _invalid("the missed-run policy needs a kind", "错过运行策略缺少 kind")
    kind = _KINDS.get(value) if isinstance(value, str) else None
    if kind is None:
        raise _unknown_kind(value)
    return kind


def _unknown_kind(value: object) -> InvalidSchedule:
    shown = repr(value)[:40]
    return _invalid(
        f"the missed-run policy {shown} is unknown; use skip, latest_once or catch_up_all",
        f"未知的错过运行策略 {shown}；可用 skip、latest_once 或 catch_up_all",
    )


def _whole(value: object, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _invalid(f"{key} must be a whole number", f"{key} 必须是整数")


def _window(seconds: int | None) -> timedelta | None:
    """Checked before it becomes a timedelta, which a huge number would overflow."""
    if seconds is not None and not 0 < seconds <= MAX_CATCH_UP_WINDOW.total_seconds():
        raise _window_out_of_range()
    return None if seconds is None else timedelta(seconds=seconds)


def _window_out_of_range() -> InvalidSchedule:
    days = MAX_CATCH_UP_WINDOW.days
    return _invalid(
        f"window_seconds must be above 0 and at most {days} days", f"window_seconds 必须大于 0 且不超过 {days} 天"
    )


def _check_catch_up(window: timedelta | None, max_runs: int | None) -> None:
    if window is None or max_runs is None:
        raise _invalid("catch_up_all needs window_seconds and max", "catch_up_all 需要 window_seconds 和 max")
    if not timedelta(0) < window <= MAX_CATCH_UP_WINDOW:
        raise _window_out_of_range()
    if not 1 <= max_runs <= MAX_CATCH_UP:
        raise _invalid(f"max must be from 1 to {MAX_CATCH_UP}", f"max 必须在 1 到 {MAX_CATCH_UP} 之间")


@dataclass(frozen=True, slots=True)
class SlotDecision:
    slot: datetime
    run: bool
    reason: str | None = None  # a REASON_LABELS code when the slot is skipped


@dataclass(frozen=True, slots=True)
class SkippedRange:
    """Skipped slots summed up rather than listed: ``count`` of them, from ``first`` to ``last``."""

    reason: str
    count: int
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class MissedRuns:
    """The decision over every due slot: the older skipped ones summed up in ``earlier`` (oldest first), the
    latest ones (all runs among them) listed in ``slots`` in slot order."""

    earlier: tuple[SkippedRange, ...]
    slots: tuple[SlotDecision, ...]

    @property
    def runs(self) -> list[datetime]:
        return [decision.slot for decision in self.slots if decision.run]

    @property
    def skipped(self) -> int:
        return sum(summary.count for summary in self.earlier) + sum(not d.run for d in self.slots)


def decide_missed(
    policy: MissedPolicy, due: Sequence[datetime], now: datetime, *, grace: timedelta = DEFAULT_GRACE
) -> tuple[SlotDecision, ...]:
    """Run or skip each slot in ``due`` (increasing, none after ``now``). A slot is on time while ``now - slot <=
    grace`` and within the catch-up window while ``now - slot <= window``; the runs are always the latest slots."""
    if any(later <= earlier for earlier, later in pairwise(due)) or (due and due[-1] > now):
        raise ValueError("due slots must be increasing and none after now")
    runs = _runs(policy, due, now, grace)
    return tuple(
        SlotDecision(slot, True) if slot in runs else SlotDecision(slot, False, _skip_reason(policy, slot, now))
        for slot in due
    )


def _runs(policy: MissedPolicy, due: Sequence[datetime], now: datetime, grace: timedelta) -> set[datetime]:
    if not due:
        return set()
    if policy.kind == "skip":
        return {due[-1]} if now - due[-1] <= grace else set()
    if policy.kind == "latest_once":
        return {due[-1]}
    assert policy.window is not None  # MissedPolicy checked it
    assert policy.max_runs is not None
    in_window = [slot for slot in due if now - slot <= policy.window]
    return set(in_window[-policy.max_runs :])


def _skip_reason(policy: MissedPolicy, slot: datetime, now: datetime) -> str:
    if policy.kind == "skip":
        return "missed"
    if policy.kind == "latest_once":
        return "superseded"
    assert policy.window is not None
    return "over_limit" if now - slot <= policy.window else "outside_window"


def missed_runs(
    expr: str,
    tz: str | ZoneInfo,
    policy: MissedPolicy,
    last_tick: datetime,
    now: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
    listed: int = MAX_CATCH_UP,
) -> MissedRuns:
    """``decide_missed`` over the fire times in ``(last_tick, now]``, with bounded work: the latest ``listed``
    slots are decided one by one, and the older ones, all skipped, are only counted, per reason (a year-long
    pause of ``* * * * *`` is half a million slots: they are counted day by day, never made)."""
    schedule = _Schedule(expr, tz)
    listed = max(listed, policy.max_runs or 1)  # every run is among the listed slots
    latest = latest_fire_times(expr, tz, last_tick, now, listed + 1)
    slots = decide_missed(policy, latest[-listed:], now, grace=grace)
    if len(latest) <= listed:
        return MissedRuns((), slots)
    return MissedRuns(_summaries(schedule, policy, last_tick, latest[0], now=now), slots)


class _Schedule(NamedTuple):
    expr: str
    tz: str | ZoneInfo


def _summaries(
    schedule: _Schedule, policy: MissedPolicy, after: datetime, until: datetime, *, now: datetime
) -> tuple[SkippedRange, ...]:
    """The skipped slots in ``(after, until]`` summed up per reason: the reason changes at most once, at the
    edge of the catch-up window."""
    if policy.window is None:
        parts = [(_skip_reason(policy, until, now), after, until)]
    else:
        edge = now - policy.window - _ONE_TICK  # a slot at or before it is outside the window
        parts = [("outside_window", after, min(until, edge)), ("over_limit", max(after, edge), until)]
    summaries = (_summary(schedule, reason, start, end) for reason, start, end in parts if start < end)
    return tuple(summary for summary in summaries if summary is not None)


def _summary(schedule: _Schedule, reason: str, after: datetime, until: datetime) -> SkippedRange | None:
    first = next(fire_times_between(*schedule, after, until), None)
    if first is None:
        return None
    last = latest_fire_times(*schedule, after, until, 1)[0]
    return SkippedRange(reason, count_fire_times(*schedule, after, until), first, last)


class Overlap(StrEnum):
    """What a slot that comes due while the schedule's previous run is still active does."""

    ALLOW = "allow"  # start anyway, alongside
    SKIP = "skip"  # skip this slot
    BUFFER_ONE = "buffer_one"  # wait for the previous run, keeping at most one waiting
    CANCEL_PREVIOUS = "cancel_previous"  # cancel the previous run and start this one

    @classmethod
    def parse(cls, value: object) -> Overlap:
        if isinstance(value, str):
            with suppress(ValueError):
                return cls(value)
        shown = repr(value)[:40]
        raise _invalid(
            f"the overlap policy {shown} is unknown; use allow, skip, buffer_one or cancel_previous",
            f"未知的重叠策略 {shown}；可用 allow、skip、buffer_one 或 cancel_previous",
        )


class OverlapAction(StrEnum):
    START = "start"
    SKIP = "skip"
    BUFFER = "buffer"  # start it when the previous run ends
    CANCEL_PREVIOUS_THEN_START = "cancel_previous_then_start"


@dataclass(frozen=True, slots=True)
class OverlapDecision:
    action: OverlapAction
    reason: str | None = None  # a REASON_LABELS code when the slot is skipped


def decide_overlap(policy: Overlap, *, previous_running: bool, buffered: bool) -> OverlapDecision:
    """What to do with a slot that came due. With nothing running the slot starts (the caller starts a buffered
    run the moment the previous one ends, so a buffered run never waits on nothing)."""
    if not previous_running or policy is Overlap.ALLOW:
        return OverlapDecision(OverlapAction.START)
    if policy is Overlap.CANCEL_PREVIOUS:
        return OverlapDecision(OverlapAction.CANCEL_PREVIOUS_THEN_START)
    if policy is Overlap.BUFFER_ONE:
        if buffered:
            return OverlapDecision(OverlapAction.SKIP, "buffer_full")
        return OverlapDecision(OverlapAction.BUFFER)
    return OverlapDecision(OverlapAction.SKIP, "previous_running")
