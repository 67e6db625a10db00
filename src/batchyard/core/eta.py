"""Estimated time to completion from recent throughput."""

from __future__ import annotations

from collections.abc import Sequence


def eta_seconds(
    samples: Sequence[tuple[float, int]], *, remaining: int, now: float, started_at: float | None
) -> float | None:
    """Seconds left, from ``(timestamp, items)`` commit samples, newest last.

    The rate is a moving average over the window the samples span, so a job that slows down (or speeds up)
    shows it within a few chunks. ``None`` until there is enough to say anything.
    """
    if remaining <= 0:
        return 0.0
    if not samples:
        return None
    items = sum(n for _, n in samples)
    window_start = samples[0][0] if len(samples) > 1 else started_at
    if window_start is None:
        return None
    if len(samples) > 1:
        items -= samples[0][1]  # the oldest sample marks the window's start; its items precede it
    elapsed = max(now, samples[-1][0]) - window_start
    if items <= 0 or elapsed <= 0:
        return None
    return round(remaining / (items / elapsed), 1)
