"""When a cron schedule fires: its expression and time zone checked, its fire times as UTC instants, for the
store, the ticker and the API (what to do with slots that came due is ``batchyard.core.slot_rules``).

The DST rule. Fire times follow the schedule's local wall clock: croniter walks NAIVE local wall-clock times (it
is never given a tzinfo, so its own DST handling never applies) and zoneinfo turns each into an instant with
``fold=0``, which gives:

- a wall time that does not exist (the spring-forward gap: 02:30 on the day Europe/Berlin jumps 02:00→03:00)
  fires once, at the same wall time shifted by the gap's length (03:30), unless that instant is a fire time
  already (never two fires at one instant);
- a wall time that occurs twice (the fall-back overlap: 02:30 on the day clocks go 03:00→02:00) fires once, at
  its first occurrence.

So ``30 2 * * *`` fires exactly once every local day. The trade-off: a sub-hourly schedule (``*/15 * * * *``)
fires only on the first pass through a repeated hour, so that night has an hour of real time without a fire
rather than two fires at each repeated wall time. Fire times come out as aware UTC datetimes, strictly
increasing.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice, takewhile
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# croniter ships annotations but no py.typed marker
from croniter import CroniterBadDateError, CroniterError, croniter  # type: ignore[import-untyped]

from batchyard.errors import InvalidSchedule

MAX_CRON_LENGTH = 200
MAX_ZONE_LENGTH = 64
# Walking starts this long before the first wanted fire time: longer than any DST gap moves a wall time (the
# longest, Samoa skipping 30 December 2011, moved a whole day).
_LEAD = timedelta(days=2)
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
_ONE_TICK = timedelta(microseconds=1)

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = (("minute", "分钟"), ("hour", "小时"), ("day-of-month", "日期"), ("month", "月份"), ("weekday", "星期"))
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
_NOT_IANA = {"localtime", "Factory", "posixrules"}  # files beside the zones that name no place


def _invalid(reason: str, reason_zh: str) -> InvalidSchedule:
    return InvalidSchedule(reason=reason, reason_zh=reason_zh)


# --- validation -------------------------------------------------------------------------------------------------


def validate_cron(expr: str) -> str:
    """``expr`` tidied (fields single-spaced, a shortcut lower-cased) if it is a five-field cron expression that
    fires at some time; else ``InvalidSchedule`` naming what is wrong. Seconds, years, ``@reboot`` and croniter's
    hashed or random values (H, R) are refused: each scheduler must compute the same slots from the same text."""
    text = _checked_text(expr)
    if text.startswith("@"):
        return _checked_alias(text.lower())
    fields = text.split()
    _check_field_count(len(fields))
    for index, field in enumerate(fields):
        _check_field(index, field)
    tidy = " ".join(fields)
    _check_fires(tidy)
    return tidy


def _checked_text(expr: str) -> str:
    if not expr.strip():
        raise _invalid("the cron expression is empty", "cron 表达式为空")
    if len(expr) > MAX_CRON_LENGTH:
        raise _invalid(
            f"the cron expression is longer than {MAX_CRON_LENGTH} characters",
            f"cron 表达式超过 {MAX_CRON_LENGTH} 个字符",
        )
    if not all(" " <= ch <= "~" or ch == "\t" for ch in expr):
        raise _invalid(
            "the cron expression contains a control or non-ASCII character", "cron 表达式包含控制字符或非 ASCII 字符"
        )
    return expr.strip()


def _checked_alias(text: str) -> str:
    if text == "@reboot":
        raise _invalid(
            "@reboot is not supported: a schedule fires at times, not when a server starts",
            "不支持 @reboot：计划按时间触发，而不是在服务器启动时触发",
        )
    if text not in _ALIASES:
        raise _invalid(
            f"the cron shortcut {text[:40]!r} is unknown; use @hourly, @daily, @weekly, @monthly or @yearly",
            f"未知的 cron 快捷写法 {text[:40]!r}；可用 @hourly、@daily、@weekly、@monthly 或 @yearly",
        )
    return text


def _check_field_count(count: int) -> None:
    if count in (6, 7):
        raise _invalid(
            f"the cron expression has {count} fields; only five are supported (minute hour day month weekday), "
            "without seconds or years",
            f"cron 表达式有 {count} 个字段；只支持五个字段（分 时 日 月 星期），不支持秒或年",
        )
    if count != 5:
        raise _invalid(
            f"the cron expression has {count} field(s); it needs five: minute hour day month weekday",
            f"cron 表达式有 {count} 个字段；需要五个：分 时 日 月 星期",
        )


def _check_field(index: int, field: str) -> None:
    """Each field is tried alone (the others ``*``), so the reason can name the one that is wrong."""
    name, name_zh = _FIELDS[index]
    if field[0] in "hHrR":
        raise _invalid(
            f"the {name} field {field!r} uses H or R; hashed and random values are not supported",
            f"{name_zh}字段 {field!r} 使用了 H 或 R；不支持散列值和随机值",
        )
    probe = ["*"] * 5
    probe[index] = field
    try:
        croniter.expand(" ".join(probe))
    except (CroniterError, ValueError, LookupError) as exc:
        raise _invalid(f"the {name} field {field!r} is not valid", f"{name_zh}字段 {field!r} 无效") from exc


def _check_fires(expr: str) -> None:
    try:
        next(_matching_days(_plan(expr), date(2000, 1, 1)))
    except (CroniterError, ValueError, LookupError) as exc:
        raise _invalid(f"the cron expression {expr!r} is not valid", f"cron 表达式 {expr!r} 无效") from exc
    except StopIteration:
        raise _invalid(
            f"the cron expression {expr!r} never fires: no date matches its day and month fields",
            f"cron 表达式 {expr!r} 永远不会触发：没有日期符合其日期和月份字段",
        ) from None


def validate_timezone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (such as ``Europe/Berlin``); else ``InvalidSchedule``. The machine's own
    zone (``localtime``) is refused: a schedule must mean the same on every server."""
    if len(name) > MAX_ZONE_LENGTH or not _ZONE_NAME.fullmatch(name) or name in _NOT_IANA:
        raise _unknown_zone(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise _unknown_zone(name) from exc


def _unknown_zone(name: str) -> InvalidSchedule:
    shown = name[:MAX_ZONE_LENGTH]
    return _invalid(
        f"the time zone {shown!r} is not an IANA time zone name (such as Europe/Berlin or Asia/Shanghai)",
        f"时区 {shown!r} 不是 IANA 时区名称（例如 Europe/Berlin 或 Asia/Shanghai）",
    )


# --- fire times -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    """A valid expression split for fast walking: croniter finds the matching days (the slow, clever part, with
    L, W and #), and every matching day fires at each of ``hours`` × ``minutes``."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: str  # the expression with minute and hour 0: one match per matching day

    @property
    def per_day(self) -> int:
        return len(self.minutes) * len(self.hours)

    @property
    def times_of_day(self) -> tuple[timedelta, ...]:
        return tuple(timedelta(hours=hour, minutes=minute) for hour in self.hours for minute in self.minutes)


@lru_cache(maxsize=512)
def _plan(expr: str) -> _Plan:
    fields = _ALIASES.get(expr, expr).split()
    expanded = croniter.expand(" ".join(fields))[0]
    return _Plan(_values(expanded[0], 60), _values(expanded[1], 24), " ".join(["0", "0", *fields[2:]]))


def _values(field: list[int | str], size: int) -> tuple[int, ...]:
    return tuple(range(size)) if field == ["*"] else tuple(sorted({int(value) for value in field}))


def _checked(expr: str, tz: str | ZoneInfo) -> tuple[_Plan, ZoneInfo]:
    zone = tz if isinstance(tz, ZoneInfo) else validate_timezone(tz)
    return _plan(_validated(expr)), zone


@lru_cache(maxsize=512)
def _validated(expr: str) -> str:
    """``validate_cron`` remembered: the ticker asks about the same few expressions every second."""
    return validate_cron(expr)


def _require_aware(*moments: datetime) -> None:
    if any(moment.tzinfo is None or moment.utcoffset() is None for moment in moments):
        raise ValueError("schedule times must be aware datetimes (with a time zone), not naive ones")


def fire_times_between(expr: str, tz: str | ZoneInfo, after: datetime, until: datetime) -> Iterator[datetime]:
    """Every fire time ``t`` with ``after < t <= until``, as aware UTC datetimes in increasing order, made one at
    a time (a year of ``* * * * *`` is half a million). Invalid input raises here, not at the first ``next``."""
    _require_aware(after, until)
    plan, zone = _checked(expr, tz)
    return _between(plan, zone, after, until)


def next_fire_times(expr: str, tz: str | ZoneInfo, after: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` fire times after ``after`` (the preview a schedule shows)."""
    return list(islice(fire_times_between(expr, tz, after, _END_OF_TIME), max(count, 0)))


def count_fire_times(expr: str, tz: str | ZoneInfo, after: datetime, until: datetime) -> int:
    """How many fire times lie in ``(after, until]``, in time that grows with the days spanned, not the fires."""
    _require_aware(after, until)
    plan, zone = _checked(expr, tz)
    return _count(plan, zone, after, until)


def latest_fire_times(expr: str, tz: str | ZoneInfo, after: datetime, until: datetime, count: int) -> list[datetime]:
    """The last ``count`` fire times in ``(after, until]`` (all of them if fewer), in increasing order."""
    _require_aware(after, until)
    plan, zone = _checked(expr, tz)
    return _latest(plan, zone, after, until, count) if count > 0 else []


def _between(plan: _Plan, zone: ZoneInfo, after: datetime, until: datetime) -> Iterator[datetime]:
    first_day = (after.astimezone(zone) - _LEAD).date()
    for instant in _instants(plan, zone, first_day):
        if instant > until:
            return
        if instant > after:
            yield instant


def _instants(plan: _Plan, zone: ZoneInfo, first_day: date) -> Iterator[datetime]:
    """The fire times of the local days from ``first_day`` on, sorted, each instant once."""
    return _without_repeats(_in_order(_candidates(plan, zone, first_day)))


def _candidates(plan: _Plan, zone: ZoneInfo, first_day: date) -> Iterator[tuple[datetime, bool]]:
    """Each wall time's instant, in wall-clock order, and whether a DST gap moved it. A day with one UTC offset
    all through is plain arithmetic; on other days zoneinfo maps each wall time (``fold=0`` is the DST rule)."""
    times_of_day = plan.times_of_day
    for day in _matching_days(plan, first_day):
        if _steady(day, zone):
            midnight = _midnight(day, zone)
            yield from ((midnight + time_of_day, False) for time_of_day in times_of_day)
        else:
            yield from (_instant(datetime.combine(day, time()) + time_of_day, zone) for time_of_day in times_of_day)


def _instant(wall: datetime, zone: ZoneInfo) -> tuple[datetime, bool]:
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    return instant, instant.astimezone(zone).replace(tzinfo=None) != wall


def _matching_days(plan: _Plan, first_day: date) -> Iterator[date]:
    """The days from ``first_day`` on that the day, month and weekday fields match; croniter walks naive times,
    so it does plain calendar arithmetic with no time zone at all."""
    walker = croniter(plan.days, datetime.combine(first_day, time()) - timedelta(minutes=1))
    while True:
        try:
            yield walker.get_next(datetime).date()
        except CroniterBadDateError:  # no match within croniter's 50-year search: the schedule has ended
            return


def _in_order(candidates: Iterator[tuple[datetime, bool]]) -> Iterator[datetime]:
    """The candidates' instants sorted. Wall times that exist map to increasing instants (``fold=0`` takes the
    first pass of a repeated hour); only one a gap moved can land after later wall times' instants, so those
    alone are held back until the walk passes them."""
    held: list[datetime] = []
    for instant, moved in candidates:
        if moved:
            heapq.heappush(held, instant)
            continue
        while held and held[0] <= instant:
            yield heapq.heappop(held)
        yield instant
    while held:
        yield heapq.heappop(held)


def _without_repeats(instants: Iterator[datetime]) -> Iterator[datetime]:
    last: datetime | None = None
    for instant in instants:
        if last is None or instant > last:
            last = instant
            yield instant


def _count(plan: _Plan, zone: ZoneInfo, after: datetime, until: datetime) -> int:
    """Counted one local day at a time: a whole day with one UTC offset through it and the day before holds
    exactly ``per_day`` fires if it matches and none if not; other days (DST changes, the two ends) are walked.
    This assumes no gap is longer than a day (the longest, Samoa skipping 30 December 2011, is one day)."""
    if until <= after:
        return 0
    # A day more at each end: a fall-back at midnight puts the last local day partly after the next midnight.
    first = after.astimezone(zone).date() - timedelta(days=1)
    last = until.astimezone(zone).date() + timedelta(days=1)
    matching = set(takewhile(lambda day: day <= last, _matching_days(plan, first)))
    total = 0
    for day in _days(first, last):
        start, end = _midnight(day, zone) - _ONE_TICK, _midnight(day + timedelta(days=1), zone) - _ONE_TICK
        if after <= start and end <= until and _steady(day, zone):
            total += plan.per_day if day in matching else 0
        elif max(start, after) < min(end, until):
            total += sum(1 for _ in _between(plan, zone, max(start, after), min(end, until)))
    return total


def _days(first: date, last: date) -> Iterator[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _steady(day: date, zone: ZoneInfo) -> bool:
    offsets = {datetime.combine(day + timedelta(days=shift), time(), zone).utcoffset() for shift in (-1, 0, 1)}
    return len(offsets) == 1


def _latest(plan: _Plan, zone: ZoneInfo, after: datetime, until: datetime, count: int) -> list[datetime]:
    """The last ``count`` fire times in ``(after, until]`` (all of them if fewer), found by looking back over
    ever longer stretches, so a schedule paused for a year costs its last few fires, not all of them."""
    span = timedelta(days=1)
    while True:
        start = after if span >= until - after else until - span
        latest = deque(_between(plan, zone, start, until), maxlen=count)
        if len(latest) == count or start == after:
            return list(latest)
        span *= 8
