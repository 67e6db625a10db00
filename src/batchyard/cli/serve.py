"""``batchyard serve``: migrations, the HTTP API and a supervised pool of workers, in one process tree."""

from __future__ import annotations

import os
import signal
from typing import Annotated, Any

import typer

from batchyard.bootstrap import upgrade_database
from batchyard.cli.demo import create_demo_users, prepare_shop
from batchyard.cli.loading import load_yard, setup_logging
from batchyard.cli.scheduler import start_scheduler
from batchyard.cli.worker import AppOption, worker_command
from batchyard.engine.supervisor import Supervisor
from batchyard.errors import BatchyardError
from batchyard.observability import share_metrics
from batchyard.yard import Yard

DEMO_APP = "batchyard.demo:yard"


def serve(
    app: AppOption = None,
    *,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int | None, typer.Option(min=0, help="worker processes (default: CPU count)")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="the demo's job types and users (printed once)")] = False,
    scheduler: Annotated[bool, typer.Option(help="tick the cron schedules here too")] = True,
) -> None:
    """Run everything: API on HOST:PORT, the scheduler and worker processes; Ctrl-C stops the tree cleanly."""
    app = DEMO_APP if demo and not app else app
    import uvicorn  # imported here so that `batchyard worker` starts without the web stack

    setup_logging()
    stop = _StopRequest()
    signal.signal(signal.SIGTERM, stop.handle)
    signal.signal(signal.SIGINT, stop.handle)
    yard = load_yard(app)
    upgrade_database(yard.settings)
    if demo:
        create_demo_users(yard.store, f"http://{host}:{port}", samples=prepare_shop(yard))
    share_metrics(yard.settings.data_dir)  # before the workers start: they inherit where to write
    supervisor = Supervisor(worker_command(app), workers if workers is not None else (os.cpu_count() or 1))
    supervisor.start()
    ticking = start_scheduler(yard) if scheduler else None
    try:
        if not stop.requested:
            uvicorn.run(_web_app(yard), host=host, port=port, log_config=None)
    finally:
        if ticking is not None:
            ticking.stop()
        supervisor.stop()
        yard.close()


def api(
    app: AppOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Run the HTTP API alone (workers run elsewhere: `batchyard worker`), e.g. several behind a load balancer."""
    import uvicorn

    setup_logging()
    yard = load_yard(app)
    upgrade_database(yard.settings)
    try:
        uvicorn.run(_web_app(yard), host=host, port=port, log_config=None)
    finally:
        yard.close()


def _web_app(yard: Yard) -> Any:
    """The API, delivering webhooks and e-mail; a configuration it cannot use (the secret key file cannot be
    made, say) is one line and exit code 2."""
    from batchyard.api.app import create_app

    try:
        return create_app(
            yard.store,
            yard.registry,
            settings=yard.settings,
            deliver=True,
            files=yard.files,
            resources=yard.resources,
        )
    except BatchyardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


class _StopRequest:
    """Our handlers for SIGTERM and SIGINT. uvicorn installs its own while it runs, and on a clean shutdown
    restores ours and raises the signal again: with the default SIGTERM action that would kill this process
    before ``supervisor.stop()`` and leave the workers orphaned, so ours only take note."""

    def __init__(self) -> None:
        self.requested = False

    def handle(self, _signum: int, _frame: Any) -> None:
        self.requested = True
