"""``batchyard openapi``: the HTTP API's OpenAPI document, from which the dashboard's client types are made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def openapi(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write here instead of standard output")] = None,
) -> None:
    """Print the OpenAPI document of the routes (it does not depend on the job types a yard declares)."""
    from batchyard.api.app import create_app
    from batchyard.yard import Yard

    yard = Yard("sqlite://")
    try:
        text = json.dumps(create_app(yard.store, yard.registry).openapi(), indent=2, ensure_ascii=False) + "\n"
    finally:
        yard.close()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
