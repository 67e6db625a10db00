"""Finding the user's ``Yard`` from ``--app module:attribute``, and setting up logs."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from typing import Any

import typer

from batchyard.errors import BatchyardError
from batchyard.settings import Settings
from batchyard.yard import Yard


def load_yard(app: str | None) -> Yard:
    """The yard named by ``module:attribute`` (``module`` alone means ``module:yard``), or an empty one.

    A configuration error (a bad ``BATCHYARD_*`` variable or ``batchyard.toml``) is one line and exit code 2.
    """
    try:
        return _load_yard(app)
    except BatchyardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _load_yard(app: str | None) -> Yard:
    if not app:
        return Yard()
    module_name, _, attribute = app.partition(":")
    sys.path.insert(0, ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import {module_name!r}: {exc}", param_hint="--app") from exc
    yard = getattr(module, attribute or "yard", None)
    if not isinstance(yard, Yard):
        raise typer.BadParameter(f"{app!r} is not a batchyard.Yard", param_hint="--app")
    return yard


def yard_settings(app: str | None) -> Settings:
    return load_yard(app).settings


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("request_id", "status", "ms"):  # a request's log line (api/requests.py)
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO") -> None:
    """JSON lines when output goes to a file or a collector; readable lines on a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    if sys.stderr.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
