"""Retrying across a database outage: transient errors wait, others pass through, a stop request ends it."""

from __future__ import annotations

import logging

import pytest

from batchyard.core.retry import Outages, retry_delay, retry_transient
from batchyard.errors import DatabaseUnavailable, StorageError


class Flaky:
    """Raises ``DatabaseUnavailable`` ``failures`` times, then returns ``"done"``."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.calls = 0
        self.error = error or DatabaseUnavailable(reason="connection refused")

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def test_transient_errors_are_retried_until_the_call_succeeds() -> None:
    flaky = Flaky(failures=4)
    assert retry_transient(flaky, what="commit", should_stop=lambda: False, first_delay=0.001) == "done"
    assert flaky.calls == 5


def test_other_errors_are_not_retried() -> None:
    flaky = Flaky(failures=3, error=StorageError(reason="no such table"))
    with pytest.raises(StorageError, match="no such table"):
        retry_transient(flaky, what="commit", should_stop=lambda: False, first_delay=0.001)
    assert flaky.calls == 1


def test_a_stop_request_ends_the_wait_with_the_last_error() -> None:
    flaky = Flaky(failures=1_000)
    with pytest.raises(DatabaseUnavailable):
        retry_transient(flaky, what="commit", should_stop=lambda: flaky.calls >= 3, first_delay=0.001)
    assert flaky.calls == 3


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="batchyard.retry")
    retry_transient(Flaky(failures=5), what="commit of chunk 3", should_stop=lambda: False, first_delay=0.001)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "commit of chunk 3" in messages[0]
    assert "connection refused" in messages[0]
    assert "the database is back" in messages[1]
    assert "5 retries" in messages[1]


def test_a_call_that_succeeds_at_once_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="batchyard.retry")
    assert retry_transient(Flaky(failures=0), what="commit", should_stop=lambda: False) == "done"
    assert caplog.records == []


def test_outages_are_recorded_for_the_reaper() -> None:
    outages = Outages()
    assert outages.quiet_for(3600.0), "a process that never saw an outage may reap at once"
    retry_transient(Flaky(failures=1), what="commit", should_stop=lambda: False, outages=outages, first_delay=0.001)
    assert not outages.quiet_for(3600.0)
    assert outages.quiet_for(0.0)


@pytest.mark.parametrize("attempt", range(1, 12))
def test_delays_double_from_the_first_up_to_the_cap_with_jitter(attempt: int) -> None:
    ceiling = min(2.0, 0.05 * 2 ** (attempt - 1))
    delays = [retry_delay(attempt, first=0.05, cap=2.0) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1, "no jitter"
