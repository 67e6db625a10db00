"""ETA from commit samples, and the exponential backoff (equal jitter) of retried items."""

from __future__ import annotations

import pytest

from batchyard.core.backoff import backoff_seconds
from batchyard.core.eta import eta_seconds


def test_eta_is_zero_when_nothing_remains() -> None:
    assert eta_seconds([], remaining=0, now=10.0, started_at=None) == 0.0
    assert eta_seconds([(5.0, 100)], remaining=-3, now=10.0, started_at=0.0) == 0.0


def test_eta_is_unknown_without_samples() -> None:
    assert eta_seconds([], remaining=100, now=10.0, started_at=0.0) is None


def test_eta_from_one_sample_measures_from_the_start() -> None:
    # 100 items in the 10 s since the start: 10 items/s; 900 left
    assert eta_seconds([(10.0, 100)], remaining=900, now=10.0, started_at=0.0) == 90.0


def test_eta_from_one_sample_without_start_is_unknown() -> None:
    assert eta_seconds([(10.0, 100)], remaining=900, now=10.0, started_at=None) is None


def test_eta_window_excludes_the_items_of_its_first_sample() -> None:
    samples = [(100.0, 500), (110.0, 100), (120.0, 100)]  # 200 items in the 20 s after the first sample
    assert eta_seconds(samples, remaining=1000, now=120.0, started_at=0.0) == 100.0


def test_eta_follows_a_job_that_slows_down() -> None:
    fast = [(0.0, 100), (1.0, 100), (2.0, 100)]
    slow = [(0.0, 100), (10.0, 100), (20.0, 100)]
    fast_eta = eta_seconds(fast, remaining=100, now=2.0, started_at=0.0)
    slow_eta = eta_seconds(slow, remaining=100, now=20.0, started_at=0.0)
    assert fast_eta == 1.0
    assert slow_eta == 10.0


def test_eta_grows_while_no_commit_arrives() -> None:
    samples = [(0.0, 10), (10.0, 100)]
    on_time = eta_seconds(samples, remaining=100, now=10.0, started_at=0.0)
    stalled = eta_seconds(samples, remaining=100, now=20.0, started_at=0.0)
    assert on_time == 10.0
    assert stalled == 20.0


def test_eta_is_unknown_when_no_time_has_passed() -> None:
    assert eta_seconds([(5.0, 10)], remaining=10, now=5.0, started_at=5.0) is None
    assert eta_seconds([(5.0, 10), (5.0, 0)], remaining=10, now=5.0, started_at=0.0) is None


@pytest.mark.parametrize(
    ("attempt", "base", "low", "high"), [(1, 1.0, 0.5, 1.0), (2, 1.0, 1.0, 2.0), (4, 0.5, 2.0, 4.0)]
)
def test_backoff_is_between_half_and_all_of_the_exponential_ceiling(
    attempt: int, base: float, low: float, high: float
) -> None:
    delays = [backoff_seconds(attempt, base=base) for _ in range(500)]
    assert all(low <= d <= high for d in delays)
    assert max(delays) - min(delays) > (high - low) / 4, "delays are jittered"


def test_backoff_is_capped() -> None:
    delays = [backoff_seconds(30, base=1.0, cap=60.0) for _ in range(200)]
    assert all(30.0 <= d <= 60.0 for d in delays)
    assert all(backoff_seconds(100, base=2.0) <= 300.0 for _ in range(50))


def test_backoff_of_attempt_zero_or_base_zero() -> None:
    assert all(0.5 <= backoff_seconds(0, base=1.0) <= 1.0 for _ in range(50))
    assert backoff_seconds(5, base=0.0) == 0.0


def test_backoff_ceiling_doubles_per_attempt() -> None:
    for attempt in range(1, 8):
        delays = [backoff_seconds(attempt, base=0.1, cap=1e9) for _ in range(50)]
        ceiling = 0.1 * 2 ** (attempt - 1)
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
