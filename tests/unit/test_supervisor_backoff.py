"""How long the supervisor waits before restarting a worker that died."""

from __future__ import annotations

from batchyard.engine.supervisor import BACKOFF_MAX, CLEAN_EXIT_SETTLE, restart_pause


def test_a_worker_that_died_after_a_long_life_is_restarted_at_once() -> None:
    assert restart_pause(0, code=-9) == 0.0
    assert restart_pause(0, code=75) == 0.0


def test_a_crash_loop_waits_longer_after_each_quick_death_up_to_a_bound() -> None:
    pauses = [restart_pause(n, code=1) for n in range(1, 12)]
    assert pauses[:4] == [0.5, 1.0, 2.0, 4.0]
    assert pauses[-1] == BACKOFF_MAX
    assert pauses == sorted(pauses)


def test_a_clean_exit_waits_a_moment_in_case_the_pool_is_stopping() -> None:
    assert restart_pause(0, code=0) == CLEAN_EXIT_SETTLE
    assert restart_pause(8, code=0) == BACKOFF_MAX
