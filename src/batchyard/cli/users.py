"""``batchyard users``: create users (each with a first API token, printed once) from the command line."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console

from batchyard.cli.loading import load_yard
from batchyard.core.users import Role
from batchyard.errors import BatchyardError
from batchyard.service.auth import AuthService

app = typer.Typer(help="Users and their tokens.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="the user's name (what jobs are owned by)")],
    role: Annotated[Role, typer.Option(help="admin, operator or viewer")] = Role.OPERATOR,
    quota: Annotated[int, typer.Option(min=0, help="quota units the user starts with")] = 0,
    password: Annotated[bool, typer.Option("--password", help="also set a password (asked for) to sign in")] = False,
    app_: Annotated[str | None, typer.Option("--app", help="module:attribute of your Yard")] = None,
) -> None:
    """Create a user and print an API token for them: it is shown this once, and only its digest is kept."""
    secret = _ask_password() if password else None
    yard = load_yard(app_)
    try:
        user, issued = AuthService(yard.store).create_user(name, role=role, quota=quota, password=secret)
    except BatchyardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        yard.close()
    console = Console()
    console.print(f"created {user.role} [bold]{user.name}[/bold] with quota {user.quota}")
    console.print("API token (shown once; send as `Authorization: Bearer <token>`):")
    print(issued.secret)


def _ask_password() -> str:
    first = getpass.getpass("password: ")
    if len(first) < 8:
        typer.echo("error: a password has at least 8 characters", err=True)
        raise typer.Exit(2)
    if getpass.getpass("again: ") != first:
        typer.echo("error: the two passwords differ", err=True)
        raise typer.Exit(2)
    return first
