"""``batchyard worker``: run workers for a yard's job types."""

from __future__ import annotations

import signal
import sys
from typing import Annotated, Any

import typer

from batchyard.cli.loading import load_yard, setup_logging
from batchyard.engine.supervisor import Supervisor

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
    yard = load_yard(app)
    runner = yard.worker()

    def _graceful(_signum: int, _frame: Any) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, _graceful)
    signal.signal(signal.SIGINT, _graceful)
    try:
        runner.run()
    finally:
        yard.close()


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
