"""Jobs whose items are the dates of a range named in their params (seed 004: sync the quotes of each day from
``start`` to ``end``): checked at submit, one item per date, the date in hand shown as the job's ``current``."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

from batchyard.core.context import Context
from batchyard.core.jobtype import ProcessFn
from batchyard.errors import DateRangeReversed, DateRangeTooLong, InvalidJobType, InvalidParams

DEFAULT_MAX_DAYS = 90
_YEAR_MONTH_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class DateRange:
    """The dates from ``params[start]`` to ``params[end]``, both included, at most ``max_days`` of them.

    Items are the dates as ISO text (``"2025-10-03"``: what JSON keeps) and their own keys, so ``skip_done``
    remembers each date per scope; ``process`` receives a ``datetime.date``. A day is a chunk of its own unless
    the job type says otherwise: a day's fetch is slow, and progress and ``current`` move at each commit.
    """

    start: str = "start"
    end: str = "end"
    max_days: int = DEFAULT_MAX_DAYS
    chunk_size: int = 1
    plan_at_submit: bool = True  # at most ``max_days`` items: the job is created with its total, its quota charged

    def __call__(self, params: Any) -> Iterator[str]:
        first, last = self.bounds(params)
        for offset in range((last - first).days + 1):
            yield (first + datetime.timedelta(days=offset)).isoformat()

    def validate(self, params: Any) -> None:
        self.bounds(params)

    def key(self, item: str) -> str:
        return item

    def adapt(self, process: ProcessFn) -> ProcessFn:
        @wraps(process)
        def on_date(item: str, ctx: Context) -> Any:
            ctx.current = item  # the date in hand: committed with it, shown by heartbeats while it runs
            return process(datetime.date.fromisoformat(item), ctx)

        return on_date

    def bounds(self, params: Any) -> tuple[datetime.date, datetime.date]:
        """The first and last date, or the refusal naming what is wrong."""
        first, last = _date_param(params, self.start), _date_param(params, self.end)
        if first > last:
            raise DateRangeReversed(
                start=first.isoformat(), end=last.isoformat(), start_field=self.start, end_field=self.end
            )
        days = (last - first).days + 1
        if days > self.max_days:
            raise DateRangeTooLong(max_days=self.max_days, days=days, start=first.isoformat(), end=last.isoformat())
        return first, last


def date_range(start: str = "start", end: str = "end", *, max_days: int = DEFAULT_MAX_DAYS) -> DateRange:
    """A source for ``yard.job(..., source=date_range("start", "end", max_days=90))``."""
    if isinstance(max_days, bool) or not isinstance(max_days, int) or max_days < 1:
        raise InvalidJobType(name="?", reason="date_range: max_days must be a whole number >= 1")
    if not start or not end or start == end:
        raise InvalidJobType(name="?", reason="date_range: start and end name two different params")
    return DateRange(start, end, max_days)


def _date_param(params: Any, name: str) -> datetime.date:
    value = params.get(name) if isinstance(params, Mapping) else getattr(params, name, None)
    if isinstance(value, datetime.datetime):
        raise InvalidParams(reason=f"{name}: a date is expected (YYYY-MM-DD), not a date and time")
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str) or not value:
        raise InvalidParams(reason=f"{name}: a date is required (YYYY-MM-DD)")
    if not _YEAR_MONTH_DAY.fullmatch(value):  # fromisoformat also reads week dates such as 2025-W01-1
        return _refuse(name, value)
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return _refuse(name, value)


def _refuse(name: str, value: str) -> datetime.date:
    shown = value if len(value) <= 40 else value[:40] + "…"
    raise InvalidParams(reason=f"{name}: {shown!r} is not a date (YYYY-MM-DD)")
