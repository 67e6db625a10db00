"""Which commits carry a progress event: a worker reports each job's progress at most every ``every`` seconds.

An event per commit made the events table grow by a row per chunk (ten million for a job of ten million small
chunks) and cost every small chunk a row write. The job's counters are exact and read in O(1); events are
samples for watchers and the ETA, so one per worker per job per half second is plenty. Each event carries the
items the worker committed since its previous event of that job; a worker's first commit of a job always
reports. What a worker committed after its last event is in the counters and the job's ``finished`` event,
not in a progress event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

PROGRESS_EVERY = 0.5  # seconds between one worker's progress events of one job
FORGET_AFTER = 60.0  # a job this worker has not committed to for this long is forgotten...
KEEP_JOBS = 16  # ...once it remembers more jobs than this


@dataclass(slots=True)
class _Unreported:
    items: int
    reported_at: float


class ProgressReports:
    """One worker's progress reporting, job by job (not thread-safe: a worker's loop is one thread)."""

    def __init__(self, every: float = PROGRESS_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._jobs: dict[int, _Unreported] = {}

    def due(self, job_id: int, items: int) -> int | None:
        """The items a commit of ``items`` more should report in its event, or None for no event."""
        unreported = self._jobs.get(job_id)
        if unreported is None:
            return items
        if self._clock() - unreported.reported_at >= self._every:
            return unreported.items + items
        return None

    def committed(self, job_id: int, items: int, *, reported: bool) -> None:
        """Once the commit went through: start a new period, or add its items to the next event."""
        now = self._clock()
        unreported = self._jobs.get(job_id)
        if reported or unreported is None:
            self._jobs[job_id] = _Unreported(0, now)
        else:
            unreported.items += items
        if len(self._jobs) > KEEP_JOBS:
            self._forget_older_than(now - FORGET_AFTER)

    def _forget_older_than(self, moment: float) -> None:
        for job_id in [j for j, u in self._jobs.items() if u.reported_at < moment]:
            del self._jobs[job_id]
