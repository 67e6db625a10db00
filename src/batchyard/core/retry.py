"""Waiting out a database outage: work that meets ``DatabaseUnavailable`` is retried, not failed or lost.

It lives in core, not engine, because the submitter (service) retries its planning the same way as workers do.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from batchyard.errors import DatabaseUnavailable

log = logging.getLogger("batchyard.retry")

T = TypeVar("T")

FIRST_DELAY = 0.05
MAX_DELAY = 1.0  # a holder must be back well within the lease that reapers wait after an outage


class Outages:
    """When a process last saw the database unavailable, shared by its threads. A worker reaps expired leases
    only after two leases without one, so the holders of those leases renew them first."""

    def __init__(self) -> None:
        self._last = float("-inf")

    def record(self) -> None:
        self._last = time.monotonic()

    def quiet_for(self, seconds: float) -> bool:
        """True when no outage was seen in the last ``seconds``."""
        return time.monotonic() - self._last >= seconds


def retry_delay(attempt: int, *, first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds before retry number ``attempt`` (1-based): doubling from ``first`` up to ``cap``, with equal
    jitter (half fixed, half random) so processes that lost the database together do not return together."""
    ceiling = min(cap, first * 2.0 ** max(attempt - 1, 0))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_transient(
    fn: Callable[[], T],
    *,
    what: str,
    should_stop: Callable[[], bool],
    outages: Outages | None = None,
    first_delay: float = FIRST_DELAY,
    max_delay: float = MAX_DELAY,
) -> T:
    """``fn()``, retried for as long as the database is unavailable, unless ``should_stop()``: then the last
    error is raised. Logs once when an outage starts and once when it ends, not at every attempt."""
    attempt = 0
    started = time.monotonic()
    while True:
        try:
            result = fn()
        except DatabaseUnavailable as exc:
            if outages is not None:
                outages.record()
            if should_stop():
                raise
            if attempt == 0:
                log.warning("%s: %s", what, exc)
            attempt += 1
            _pause(retry_delay(attempt, first=first_delay, cap=max_delay), should_stop)
            continue
        if attempt:
            log.info("%s: the database is back after %.1fs (%d retries)", what, time.monotonic() - started, attempt)
        return result


def _pause(seconds: float, should_stop: Callable[[], bool]) -> None:
    """Sleep, waking early (within 50 ms) once ``should_stop()``."""
    deadline = time.monotonic() + seconds
    while not should_stop() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.05))
