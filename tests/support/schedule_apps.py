"""Job types for schedule tests, and a ticker a test runs as several real processes at once:
``python -m tests.support.schedule_apps START_ISO END_ISO STEP_SECONDS SEED`` ticks the yard's schedules over
simulated time from START to END (the database comes from ``BATCHYARD_DATABASE_URL``)."""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta

from pydantic import BaseModel

from batchyard import Context, Yard


class Stamp(BaseModel):
    label: str = "run"
    scheduled_for: datetime | None = None


class Plain(BaseModel):
    label: str = "run"


def _items(params: Stamp) -> list[str]:
    return [params.label]


def _plain_items(params: Plain) -> list[str]:
    return [params.label]


class Stamped:
    """One item: what the run was told of its slot."""

    Params = Stamp
    source = staticmethod(_items)

    def process(self, item: str, ctx: Context) -> str | None:
        stamp = ctx.params.scheduled_for
        return None if stamp is None else stamp.isoformat()


class PlainRun:
    Params = Plain
    source = staticmethod(_plain_items)

    def process(self, item: str, ctx: Context) -> str:
        return item


def _fail(item: str, ctx: Context) -> str:
    raise ValueError("this run fails")


yard = Yard()
yard.job("stamped")(Stamped)
yard.job("plain")(PlainRun)
yard.job("failing", source=lambda params: ["x"], max_failures=0)(_fail)


def tick_over(start: datetime, end: datetime, step: float, seed: int) -> None:
    rng = random.Random(seed)
    now = start
    while now <= end:
        yard.tick_schedules(now)
        time.sleep(rng.random() * 0.01)
        now += timedelta(seconds=step * (0.5 + rng.random()))
    yard.tick_schedules(end)
    yard.close()


if __name__ == "__main__":
    tick_over(
        datetime.fromisoformat(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    )
