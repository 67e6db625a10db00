"""Exponential backoff with equal jitter for retried items."""

from __future__ import annotations

import random


def backoff_seconds(attempt: int, *, base: float, cap: float = 300.0) -> float:
    """Delay before retry number ``attempt`` (1-based): between half and all of ``base * 2**(attempt-1)``,
    capped at ``cap``.

    Equal jitter, not full jitter: the random half spreads retries of many failing chunks so they do not
    hammer a recovering service together, and the fixed half guarantees a retry never comes back at once.
    """
    ceiling: float = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return ceiling / 2 + random.uniform(0, ceiling / 2)
