"""Progress events are coalesced per worker and job: the first commit reports, then one event per period
carries everything committed since the previous one. The clock is stepped by hand: what is tested is which
commit reports, not how long anything takes."""

from __future__ import annotations

from batchyard.engine.progress import FORGET_AFTER, KEEP_JOBS, ProgressReports


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _commit(reports: ProgressReports, job_id: int, items: int) -> int | None:
    due = reports.due(job_id, items)
    reports.committed(job_id, items, reported=due is not None)
    return due


def test_the_first_commit_reports_then_one_event_per_period_carries_the_rest() -> None:
    clock = _Clock()
    reports = ProgressReports(every=0.5, clock=clock)
    assert _commit(reports, 1, 3) == 3
    assert [_commit(reports, 1, 2) for _ in range(4)] == [None] * 4
    clock.now += 0.5
    assert _commit(reports, 1, 2) == 4 * 2 + 2
    assert _commit(reports, 1, 1) is None


def test_jobs_are_reported_each_on_their_own() -> None:
    clock = _Clock()
    reports = ProgressReports(every=0.5, clock=clock)
    assert _commit(reports, 1, 1) == 1
    assert _commit(reports, 2, 5) == 5
    assert _commit(reports, 1, 1) is None
    clock.now += 1
    assert _commit(reports, 2, 1) == 1
    assert _commit(reports, 1, 1) == 2


def test_a_refused_commit_adds_nothing_to_the_next_event() -> None:
    clock = _Clock()
    reports = ProgressReports(every=0.5, clock=clock)
    _commit(reports, 1, 1)
    assert reports.due(1, 7) is None  # this commit is then refused (its lease was lost): committed() not called
    clock.now += 1
    assert _commit(reports, 1, 1) == 1


def test_jobs_not_committed_to_for_long_are_forgotten_once_many_are_remembered() -> None:
    clock = _Clock()
    reports = ProgressReports(every=0.5, clock=clock)
    for job_id in range(KEEP_JOBS):
        _commit(reports, job_id, 1)
    clock.now += FORGET_AFTER + 1
    _commit(reports, 999, 1)
    assert _commit(reports, 0, 4) == 4, "a forgotten job reports at its next commit, as a first one"
    assert len(reports._jobs) == 2
