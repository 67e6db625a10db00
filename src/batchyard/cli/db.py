"""``batchyard db``: database maintenance."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from batchyard.bootstrap import upgrade_database
from batchyard.cli.loading import yard_settings

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    app_: Annotated[str | None, typer.Option("--app", help="module:attribute of your Yard")] = None,
) -> None:
    """Create or migrate batchyard's tables to the current version."""
    url = upgrade_database(yard_settings(app_))
    Console().print(f"[green]database is up to date[/green]: {url}")
