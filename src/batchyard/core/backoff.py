"""Exponential backoff with full jitter for retried items."""

from __future__ import annotations

import random


def backoff_seconds(attempt: int, *, base: float, cap: float = 300.0) -> float:
    """Delay before retry number ``attempt`` (1-based): up to ``base * 2**(attempt-1)``, jittered, capped.

    Full jitter spreads retries of many failing chunks so they do not hammer a recovering service together.
    """
    ceiling: float = min(cap, base * 2.0 ** max(attempt - 1, 0))
    jitter = random.uniform(0, ceiling / 2)
    return ceiling / 2 + jitter
