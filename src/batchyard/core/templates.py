"""Key templates such as ``"{owner}:import:{params.resource}"`` for exclusive and skip-done scopes."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from batchyard.errors import InvalidJobType


def render_key(template: str, *, type_name: str, owner: str, params: Mapping[str, Any]) -> str:
    """Fill a key template from the job's type, owner and params (``{params.x}`` reads a param)."""
    values: dict[str, str] = {"type": type_name, "owner": owner}
    for _, field, _, _ in string.Formatter().parse(template):
        if field and field.startswith("params."):
            name = field.removeprefix("params.")
            if name not in params:
                raise InvalidJobType(name=type_name, reason=f"key template {template!r} names missing param")
            values[field] = str(params[name])
    fields = {k.replace(".", "__"): v for k, v in values.items()}
    return template.replace("params.", "params__").format(**fields)
