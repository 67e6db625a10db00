"""``batchyard scheduler``: tick the cron schedules until stopped. Run as many as you like (one per machine for
availability): each slot starts at most one job whichever of them ticks it."""

from __future__ import annotations

import signal
from typing import Any

from batchyard.cli.loading import load_yard, setup_logging
from batchyard.cli.worker import AppOption
from batchyard.engine.scheduler import SchedulerLoop
from batchyard.yard import Yard


def scheduler(app: AppOption = None) -> None:
    """Start the jobs of the schedules as their slots come due (SIGTERM or Ctrl-C stops it)."""
    setup_logging()
    yard = load_yard(app)
    try:
        loop = start_scheduler(yard, thread=False)
        stop = _Stop(loop)
        signal.signal(signal.SIGTERM, stop.handle)
        signal.signal(signal.SIGINT, stop.handle)
        loop.run()
    finally:
        yard.close()


def start_scheduler(yard: Yard, *, thread: bool = True) -> SchedulerLoop:
    """The app's declared schedules stored (or brought back to their declaration), then the loop: started in a
    thread of its own when ``thread``, else for the caller to ``run``."""
    yard.store_schedules()
    loop = SchedulerLoop(yard.schedules)
    if thread:
        loop.start()
    return loop


class _Stop:
    def __init__(self, loop: SchedulerLoop) -> None:
        self.loop = loop

    def handle(self, _signum: int, _frame: Any) -> None:
        self.loop.stop()
