"""The ``batchyard`` command line."""

from __future__ import annotations

import typer

from batchyard.cli import db, openapi, remote, scheduler, serve, tabular, users, worker

app = typer.Typer(
    name="batchyard",
    help="Large batch jobs you can watch, pause, resume, retry and trust.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("worker")(worker.worker)
app.command("serve")(serve.serve)
app.command("api")(serve.api)
app.command("scheduler")(scheduler.scheduler)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(remote.jobs, name="jobs")
app.command("login")(remote.login)
app.command("import")(tabular.import_file)
app.command("export")(tabular.export)
app.command("openapi")(openapi.openapi)


def main() -> None:
    app()
