"""The scheduler's loop: a tick every ``interval`` seconds until stopped. Any number may run (in ``serve``, or
as ``batchyard scheduler`` on several machines): the slot rows decide which of them starts each run."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from batchyard.errors import BatchyardError
from batchyard.service.schedules import ScheduleService, Tick

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


class SchedulerLoop:
    def __init__(self, schedules: ScheduleService, *, interval: float = TICK_SECONDS) -> None:
        self.schedules = schedules
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_tick: Callable[[Tick], None] | None = None

    def run(self) -> None:
        """Tick until ``stop``; a failed tick (the database away) is logged and the next one tries again."""
        while not self._stop.is_set():
            self.tick_once()
            self._stop.wait(self.interval)

    def tick_once(self) -> Tick | None:
        try:
            tick = self.schedules.tick(datetime.now(UTC))
        except BatchyardError as exc:
            log.warning("scheduler tick failed: %s", exc)
            return None
        except Exception:
            log.exception("scheduler tick failed")
            return None
        if tick.started or tick.skipped or tick.paused:
            log.info("scheduler: started %s, skipped %d, paused %d", tick.started, tick.skipped, tick.paused)
        if self.on_tick is not None:
            self.on_tick(tick)
        return tick

    def start(self) -> None:
        """Run in a daemon thread (inside ``serve``)."""
        self._thread = threading.Thread(target=self.run, name="batchyard-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
