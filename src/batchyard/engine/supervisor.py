"""Keeping N worker subprocesses alive: restart one that dies, stop them all gracefully on shutdown."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Sequence

log = logging.getLogger("batchyard.supervisor")

RESTART_DELAY = 1.0  # seconds before restarting a worker that died, so a crash loop does not spin


class Supervisor:
    def __init__(self, command: Sequence[str], count: int, *, grace: float = 30.0) -> None:
        self.command = list(command)
        self.count = count
        self.grace = grace
        self.restarts = 0
        self._procs: list[subprocess.Popen[bytes]] = []
        self._stop_requested = False  # a plain flag: set from signal handlers (see Worker)
        self._thread: threading.Thread | None = None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def start(self) -> None:
        self._procs = [self._spawn() for _ in range(self.count)]
        self._thread = threading.Thread(target=self._watch, name="batchyard-supervisor", daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(self.command)
        log.info("started worker pid %d", proc.pid)
        return proc

    def _watch(self) -> None:
        while not self._stop_requested:
            time.sleep(0.2)
            for i, proc in enumerate(self._procs):
                if proc.poll() is not None and not self._stop_requested:
                    log.warning("worker pid %d exited with %s; restarting", proc.pid, proc.returncode)
                    time.sleep(RESTART_DELAY)
                    if not self._stop_requested:
                        self._procs[i] = self._spawn()
                        self.restarts += 1

    def stop(self) -> None:
        """SIGTERM every worker (each commits or releases its chunk), wait, then SIGKILL stragglers."""
        self._stop_requested = True
        if self._thread is not None:
            self._thread.join()
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for proc in self._procs:
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
