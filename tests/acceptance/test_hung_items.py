"""Hung items: a cancel completes even when an item never returns, and the worker pool heals around it.

Workers are real subprocesses under the real supervisor (``batchyard worker --concurrency 2``); the job's
items hang in ``process`` with no ``timeout`` set (tests/support/hung_apps.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from batchyard import JobStatus, Yard
from batchyard.engine.heartbeat import GRACE_MIN, HUNG_EXIT_CODE
from tests.acceptance.helpers import REPO, log_records, stop_group, subprocess_env, wait_for
from tests.contract.invariants import assert_counters_match
from tests.support.hung_apps import GIVES_WAY, STUBBORN
from tests.support.hung_apps import yard as hung_yard

pytestmark = pytest.mark.slow

LEASE = 2.0
GRACE = max(GRACE_MIN, LEASE)
HUNG_APP = "tests.support.hung_apps:yard"


def _supervised_workers(database_url: str, tmp_path: Path, count: int) -> subprocess.Popen[bytes]:
    env = subprocess_env(
        BATCHYARD_DATABASE_URL=database_url,
        BATCHYARD_LEASE_SECONDS=str(LEASE),
        BATCHYARD_TEST_MARKER=str(tmp_path / "hanging"),
    )
    command = [sys.executable, "-m", "batchyard", "worker", "--app", HUNG_APP, "--concurrency", str(count)]
    with (tmp_path / "workers.log").open("wb") as stderr:
        return subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True,
        )  # fmt: skip


def _exit_codes(tmp_path: Path) -> list[int]:
    """Exit codes of the workers the supervisor saw die, from its log."""
    found = (
        re.search(r"exited with code (-?\d+)", r.get("message", "")) for r in log_records(tmp_path / "workers.log")
    )
    return [int(m[1]) for m in found if m]


@pytest.mark.parametrize(("hung", "committed"), [(GIVES_WAY, 5), (STUBBORN, 4)], ids=["interrupted", "worker-exits"])
def test_cancel_completes_while_an_item_hangs(
    yard: Yard, database_url: str, tmp_path: Path, hung: int, committed: int
) -> None:
    """Chunks [0, 1], [2, hung], [4, 5]. The interrupted item's chunk commits item 2; the stubborn item takes
    its worker down with the chunk, which the reaper then cancels. Every other item stays committed."""
    yard.registry.add(hung_yard.registry.get("hang"))
    job = yard.submit("hang", items=[0, 1, 2, hung, 4, 5])
    supervisor = _supervised_workers(database_url, tmp_path, count=2)
    try:
        wait_for(
            lambda: (tmp_path / "hanging").exists() and yard.get(job.id).processed == 4,
            timeout=60,
            what="the other chunks to commit while one item hangs",
        )
        yard.cancel(job.id)
        wait_for(
            lambda: yard.get(job.id).status == JobStatus.CANCELLED,
            timeout=2 * GRACE + 3 * LEASE + 10,
            what="the cancel to complete",
        )
        if hung == STUBBORN:
            wait_for(lambda: HUNG_EXIT_CODE in _exit_codes(tmp_path), timeout=10, what="the supervisor to see the exit")
    finally:
        stop_group(supervisor)

    done = assert_counters_match(yard, job.id)
    states = {r.input: r.status for r in yard.items(job.id)}
    assert (done.processed, done.succeeded, done.failed) == (committed, committed, 0)
    assert states[hung] == "cancelled"
    assert [states[i] for i in (0, 1, 4, 5)] == ["succeeded"] * 4
    assert states[2] == ("succeeded" if hung == GIVES_WAY else "cancelled")
    assert _exit_codes(tmp_path) == ([HUNG_EXIT_CODE] if hung == STUBBORN else [])
