"""Keeping N worker subprocesses alive: restart one that dies, stop them all gracefully on shutdown.

Each worker has its own slot with its own next start time, so restarting one never waits for another. A
worker that dies soon after it started is restarted after a growing pause (a crash loop must not spin); one
that ran for a while is restarted at once. A worker that exited cleanly (code 0) was told to stop, usually
because the whole process group was: it is restarted only if the supervisor is not stopping a moment later.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger("batchyard.supervisor")

TICK = 0.1  # seconds between looks at the workers
HEALTHY_AFTER = 10.0  # a worker that lived this long before dying is not in a crash loop
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0  # pauses before restarting a worker that keeps dying young
CLEAN_EXIT_SETTLE = 1.0  # wait this long before restarting a worker that exited 0: a stop may be under way


@dataclass
class _Slot:
    proc: subprocess.Popen[bytes]
    started_at: float
    quick_deaths: int = 0  # deaths in a row, each soon after its start
    restart_at: float | None = None  # set while the slot's worker is dead


class Supervisor:
    def __init__(self, command: Sequence[str], count: int, *, grace: float = 30.0) -> None:
        self.command = list(command)
        self.count = count
        self.grace = grace
        self.restarts = 0
        self._slots: list[_Slot] = []
        self._stop_requested = False  # a plain flag: set from signal handlers (see Worker)
        self._thread: threading.Thread | None = None

    @property
    def pids(self) -> list[int]:
        return [slot.proc.pid for slot in self._slots]

    def start(self) -> None:
        now = time.monotonic()
        self._slots = [_Slot(self._spawn(), now) for _ in range(self.count)]
        self._thread = threading.Thread(target=self._watch, name="batchyard-supervisor", daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(self.command)
        log.info("started worker pid %d", proc.pid)
        return proc

    def _watch(self) -> None:
        while not self._stop_requested:
            time.sleep(TICK)
            for slot in self._slots:
                self._tend(slot, time.monotonic())

    def _tend(self, slot: _Slot, now: float) -> None:
        if slot.restart_at is None:
            code = slot.proc.poll()
            if code is not None:
                slot.restart_at = now + self._pause(slot, code, now)
                log.warning("worker pid %d exited with code %s; restarting it", slot.proc.pid, code)
        elif now >= slot.restart_at and not self._stop_requested:
            slot.proc, slot.started_at, slot.restart_at = self._spawn(), now, None
            self.restarts += 1

    def _pause(self, slot: _Slot, code: int, now: float) -> float:
        """How long to wait before restarting the worker that just died."""
        slot.quick_deaths = 0 if now - slot.started_at >= HEALTHY_AFTER else slot.quick_deaths + 1
        return restart_pause(slot.quick_deaths, code)

    def stop(self) -> None:
        """SIGTERM every worker (each commits or releases its chunk), wait, then SIGKILL stragglers."""
        self._stop_requested = True
        if self._thread is not None:
            self._thread.join()
        procs = [slot.proc for slot in self._slots]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in %ss; killing it", proc.pid, self.grace)
                proc.kill()
                proc.wait()

    def request_stop(self) -> None:
        """Safe from a signal handler: ``wait`` returns, then the caller runs ``stop``."""
        self._stop_requested = True

    def wait(self) -> None:
        while not self._stop_requested:
            time.sleep(0.2)


def restart_pause(quick_deaths: int, code: int) -> float:
    """Seconds before a restart: none after a long life, doubling with each death in a row soon after a start,
    and never less than a moment after a clean exit (a stop of the whole pool may be arriving)."""
    crash_pause = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (quick_deaths - 1)) if quick_deaths else 0.0
    return max(crash_pause, CLEAN_EXIT_SETTLE if code == 0 else 0.0)
