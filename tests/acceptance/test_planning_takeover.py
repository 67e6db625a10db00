"""A worker planning a slow source dies (kill -9) or is stopped (SIGTERM) midway: another worker takes the
planning over after the items already stored, and every item runs exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from batchyard import JobStatus, Yard
from tests.acceptance.helpers import REPO, log_records, stop_process, subprocess_env, wait_for

pytestmark = pytest.mark.slow  # long: run by `make slow` (CI), not by `make test`

APP = "tests.support.planning_apps:yard"
ITEMS = 400  # at 20 ms each, planning takes 8 s: long enough to interrupt it


def _start(database_url: str, log: Path, *, lease: float) -> subprocess.Popen[bytes]:
    env = subprocess_env(BATCHYARD_DATABASE_URL=database_url, BATCHYARD_LEASE_SECONDS=str(lease))
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "batchyard", "worker", "--app", APP],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _planner_of(yard: Yard, job_id: int) -> str | None:
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        token: str | None = conn.execute(
            text("SELECT planner_token FROM by_jobs WHERE id = :id"), {"id": job_id}
        ).scalar_one()
        return token


def _submit(database_url: str) -> tuple[Yard, int]:
    from tests.support.planning_apps import SlowNumbers

    yard = Yard(database_url)
    yard.job("slow_numbers", chunk_size=10)(SlowNumbers)
    return yard, yard.submit("slow_numbers", params={"n": ITEMS}).id


def _check_every_item_once(yard: Yard, job_id: int) -> None:
    job = yard.get(job_id)
    assert (job.status, job.total, job.succeeded) == (JobStatus.SUCCEEDED, ITEMS, ITEMS)
    assert [(r.input, r.output) for r in yard.items(job_id)] == [(i, i * 3) for i in range(ITEMS)]


def test_planning_resumes_on_another_worker_after_kill_9(database_url: str, tmp_path: Path) -> None:
    yard, job_id = _submit(database_url)
    first = _start(database_url, tmp_path / "first.log", lease=2.0)
    try:
        wait_for(lambda: yard.get(job_id).total >= 50, timeout=60, what="part of the source to be stored")
        first.kill()
        first.wait(timeout=10)
        stored = yard.get(job_id).total
        assert stored < ITEMS, "the source was read to the end before the kill"
        second = _start(database_url, tmp_path / "second.log", lease=2.0)
        try:
            wait_for(lambda: yard.store.job_status(job_id).is_finished, timeout=90, what="the job to finish")
        finally:
            stop_process(second)
        _check_every_item_once(yard, job_id)
    finally:
        stop_process(first)
        yard.close()


def test_sigterm_hands_planning_over_without_waiting_for_the_lease(database_url: str, tmp_path: Path) -> None:
    yard, job_id = _submit(database_url)
    first = _start(database_url, tmp_path / "first.log", lease=300.0)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: yard.get(job_id).total >= 50, timeout=60, what="part of the source to be stored")
        assert _planner_of(yard, job_id) is not None, "the first worker plans the source"
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0, (tmp_path / "first.log").read_text()
        assert yard.get(job_id).total < ITEMS, "the source was read to the end before SIGTERM"
        second = _start(database_url, tmp_path / "second.log", lease=300.0)
        # with a 300 s lease, finishing at all shows the planning was handed over, not left to expire
        wait_for(lambda: yard.store.job_status(job_id).is_finished, timeout=90, what="the job to finish")
        assert not [r for r in log_records(tmp_path / "second.log") if r["level"] == "error"]
        _check_every_item_once(yard, job_id)
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)
        yard.close()
