"""``batchyard worker``: run workers for a yard's job types."""

from __future__ import annotations

import signal
import sys
from typing import Annotated, Any

import typer

from batchyard.cli.loading import load_yard, setup_logging
from batchyard.engine.allocator import collect_less, keep_large_buffers
from batchyard.engine.supervisor import Supervisor
from batchyard.engine.worker import Worker
from batchyard.observability import chunk_observer

AppOption = Annotated[str | None, typer.Option("--app", help="module:attribute of your Yard (e.g. shop.jobs:yard)")]


def worker(
    app: AppOption = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="worker processes")] = 1,
) -> None:
    """Claim and run chunks until stopped (SIGTERM or Ctrl-C finishes the item in hand, then exits)."""
    setup_logging()
    if concurrency > 1:
        _supervise(app, concurrency)
        return
    keep_large_buffers()  # this process is a worker: it frees and allocates big buffers item after item
    shutdown = _Shutdown()
    signal.signal(signal.SIGTERM, shutdown.handle)  # before start-up, so a SIGTERM during it is graceful too
    signal.signal(signal.SIGINT, shutdown.handle)
    yard = load_yard(app)
    collect_less()  # after loading: the app's own objects are frozen with batchyard's
    try:
        shutdown.worker = yard.worker()
        shutdown.worker.exit_when_hung = True  # this process is a worker: its supervisor replaces it
        shutdown.worker.on_chunk = chunk_observer()
        if not shutdown.requested:
            shutdown.worker.run()
    finally:
        yard.close()


class _Shutdown:
    """What a signal handler may touch: plain attributes, no locks."""

    def __init__(self) -> None:
        self.requested = False
        self.worker: Worker | None = None

    def handle(self, _signum: int, _frame: Any) -> None:
        self.requested = True
        if self.worker is not None:
            self.worker.stop()


def worker_command(app: str | None) -> list[str]:
    command = [sys.executable, "-m", "batchyard", "worker", "--concurrency", "1"]
    return command + (["--app", app] if app else [])


def _supervise(app: str | None, count: int) -> None:
    supervisor = Supervisor(worker_command(app), count)

    def _shutdown(_signum: int, _frame: Any) -> None:
        supervisor.request_stop()

    signal.signal(signal.SIGTERM, _shutdown)
    signal.signal(signal.SIGINT, _shutdown)
    supervisor.start()
    supervisor.wait()
    supervisor.stop()
