"""The supervisor with real child processes: every dead worker is replaced at once, independently of the
others, and a worker that stopped cleanly while the pool is stopping stays stopped."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchyard.engine.supervisor import Supervisor
from tests.acceptance.helpers import pid_alive, wait_for

# A stand-in worker: it exits 0 on SIGTERM, as a real one does, and says when it is ready for it.
STAND_IN = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
time.sleep(600)
"""


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Supervisor]:
    supervisor = Supervisor([sys.executable, "-c", STAND_IN, str(tmp_path)], 4, grace=10)
    supervisor.start()
    try:
        yield supervisor
    finally:
        supervisor.request_stop()
        supervisor.stop()


def _ready(tmp_path: Path, pids: list[int]) -> bool:
    return all((tmp_path / str(pid)).exists() and pid_alive(pid) for pid in pids)


def test_all_killed_workers_are_replaced_together_not_one_per_second(pool: Supervisor, tmp_path: Path) -> None:
    killed = pool.pids
    wait_for(lambda: _ready(tmp_path, killed), timeout=20, what="the workers to start")
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    # Restarting one after the other with a pause each, as before, takes four seconds at least.
    wait_for(lambda: pool.restarts == 4, timeout=2.5, what="all four workers to be restarted")
    assert not set(pool.pids) & set(killed)
    wait_for(lambda: _ready(tmp_path, pool.pids), timeout=20, what="the new workers to start")


def test_a_clean_exit_is_restarted_unless_the_pool_is_stopping(pool: Supervisor, tmp_path: Path) -> None:
    wait_for(lambda: _ready(tmp_path, pool.pids), timeout=20, what="the workers to start")
    first, second = pool.pids[:2]
    os.kill(first, signal.SIGTERM)  # an operator recycling one worker
    wait_for(lambda: pool.restarts == 1, timeout=10, what="the recycled worker to be replaced")

    os.kill(second, signal.SIGTERM)  # the whole group is being stopped: the worker hears it first
    wait_for(lambda: not pid_alive(second), timeout=10, what="the worker to exit")
    pool.request_stop()
    pool.stop()
    assert pool.restarts == 1
    assert second in pool.pids, "the stopped worker was replaced during the shutdown"
