"""Policies and their validation, the max_failures rule, and the final status of a drained job."""

from __future__ import annotations

from typing import Any

import pytest

from batchyard.core.policies import RATIO_MIN_PROCESSED, OnError, Policies, too_many_failures
from batchyard.core.status import JobStatus, final_status
from batchyard.errors import InvalidJobType


def test_policies_have_sane_defaults() -> None:
    p = Policies()
    assert p.chunk_size == 500
    assert p.on_error == OnError.CONTINUE
    assert p.max_attempts == 3
    assert (p.max_concurrency, p.max_failures, p.timeout, p.max_items, p.exclusive, p.skip_done) == (None,) * 6
    assert p.priority == 0


def test_policies_accept_on_error_as_text() -> None:
    assert Policies(on_error="retry").on_error is OnError.RETRY  # type: ignore[arg-type]
    assert Policies(on_error="stop").on_error is OnError.STOP  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"retry_backoff": -1.0}, "retry_backoff"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -5.0}, "timeout"),
        ({"max_items": 0}, "max_items"),
        ({"max_failures": -1}, "max_failures"),
        ({"max_failures": 1.0}, "max_failures"),
        ({"max_failures": 1.5}, "max_failures"),
        ({"max_failures": 0.0}, "max_failures"),
        ({"max_failures": True}, "max_failures"),
    ],
)
def test_policies_refuse_invalid_values(options: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidJobType) as raised:
        Policies(**options)
    assert reason in raised.value.details["reason"]


@pytest.mark.parametrize("max_failures", [0, 10, 0.05, 0.99])
def test_policies_accept_counts_and_ratios_of_failures(max_failures: float) -> None:
    assert Policies(max_failures=max_failures).max_failures == max_failures


def test_policies_refuse_unknown_on_error() -> None:
    with pytest.raises(InvalidJobType) as raised:
        Policies(on_error="explode")  # type: ignore[arg-type]
    assert "on_error" in raised.value.details["reason"]


def test_no_failure_limit_never_fails_a_job() -> None:
    assert not too_many_failures(None, failed=10_000, processed=10_000)


def test_count_limit_allows_exactly_the_count() -> None:
    assert not too_many_failures(3, failed=3, processed=3)
    assert too_many_failures(3, failed=4, processed=4)
    assert too_many_failures(0, failed=1, processed=1000)
    assert not too_many_failures(0, failed=0, processed=1000)


def test_ratio_limit_waits_for_enough_items() -> None:
    below = RATIO_MIN_PROCESSED - 1
    assert not too_many_failures(0.1, failed=below, processed=below)
    assert too_many_failures(0.1, failed=11, processed=RATIO_MIN_PROCESSED)
    assert not too_many_failures(0.1, failed=10, processed=RATIO_MIN_PROCESSED)
    assert too_many_failures(0.5, failed=501, processed=1000)
    assert not too_many_failures(0.5, failed=500, processed=1000)


@pytest.mark.parametrize(
    ("succeeded", "failed", "cancelling", "stopped", "expected"),
    [
        (10, 0, False, False, JobStatus.SUCCEEDED),
        (0, 0, False, False, JobStatus.SUCCEEDED),
        (9, 1, False, False, JobStatus.PARTIALLY_SUCCEEDED),
        (0, 10, False, False, JobStatus.FAILED),
        (5, 0, True, False, JobStatus.CANCELLED),
        (5, 5, True, False, JobStatus.CANCELLED),
        (5, 1, True, True, JobStatus.FAILED),
        (0, 1, False, True, JobStatus.FAILED),
    ],
)
def test_final_status(succeeded: int, failed: int, cancelling: bool, stopped: bool, expected: JobStatus) -> None:
    assert final_status(succeeded=succeeded, failed=failed, cancelling=cancelling, stopped=stopped) == expected


def test_statuses_are_either_active_or_finished() -> None:
    finished = {s for s in JobStatus if s.is_finished}
    assert finished == {JobStatus.SUCCEEDED, JobStatus.PARTIALLY_SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}
    assert all(s.is_active != s.is_finished for s in JobStatus)
