"""Failures grouped by cause: 40,000 failed items read as the three reasons they failed for.

A reason's cause is the reason with what varies from item to item masked — quoted values, ids, numbers — so
"row 17: 'abc' is not a valid price" and "row 9,031: '12,5' is not a valid price" are one cause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

SAMPLE_SIZE = 5

_MASKS = (
    (re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|‘[^’]*’|「[^」]*」"), "'…'"),  # quoted values
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE), "<id>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b", re.IGNORECASE), "<id>"),  # hex ids, digests
    (re.compile(r"[-+]?\d+(?:[.,:]\d+)*"), "<n>"),  # numbers, times, decimals with either separator
)


def cause_of(reason: str) -> str:
    cause = reason.strip()
    for pattern, mask in _MASKS:
        cause = pattern.sub(mask, cause)
    return " ".join(cause.split())


@dataclass(frozen=True, slots=True)
class Failure:
    index: int
    error: str
    at: datetime
    error_zh: str | None = None


@dataclass(slots=True)
class Cause:
    cause: str
    count: int
    sample: Failure  # the first item that failed for this cause, with its whole reason
    indices: list[int] = field(default_factory=list)  # the first few items that did
    first_seen: datetime | None = None
    last_seen: datetime | None = None


def group_failures(failures: Iterable[Failure], *, sample_size: int = SAMPLE_SIZE) -> list[Cause]:
    """Causes, the most frequent first (ties: the one seen first)."""
    causes: dict[str, Cause] = {}
    for failure in failures:
        key = cause_of(failure.error)
        cause = causes.get(key)
        if cause is None:
            cause = causes[key] = Cause(key, 0, failure, first_seen=failure.at, last_seen=failure.at)
        cause.count += 1
        if len(cause.indices) < sample_size:
            cause.indices.append(failure.index)
        cause.first_seen = min(cause.first_seen or failure.at, failure.at)
        cause.last_seen = max(cause.last_seen or failure.at, failure.at)
    return sorted(causes.values(), key=lambda c: (-c.count, c.first_seen or c.sample.at))
