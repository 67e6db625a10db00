"""Key templates such as ``"{owner}:import:{params.resource}"`` for exclusive and skip-done scopes."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from typing import Any

from batchyard.errors import InvalidJobType

PLAIN_FIELDS = frozenset({"type", "owner"})


def template_fields(template: str) -> Iterable[str]:
    return (field for _, field, _, _ in string.Formatter().parse(template) if field is not None)


def check_template(template: str, *, type_name: str) -> None:
    """Refuse, when the job type is declared, a template naming anything but type, owner or params.X."""
    for field in template_fields(template):
        if field not in PLAIN_FIELDS and not (field.startswith("params.") and len(field) > len("params.")):
            raise InvalidJobType(
                name=type_name, reason=f"key template {template!r} may use {{type}}, {{owner}} or {{params.NAME}}"
            )


def render_key(template: str, *, type_name: str, owner: str, params: Mapping[str, Any]) -> str:
    """Fill a key template from the job's type, owner and params; literal text is kept as written."""
    check_template(template, type_name=type_name)
    parts: list[str] = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(literal)
        if field is not None:
            parts.append(_value(field, template, type_name=type_name, owner=owner, params=params))
    return "".join(parts)


def _value(field: str, template: str, *, type_name: str, owner: str, params: Mapping[str, Any]) -> str:
    if field == "type":
        return type_name
    if field == "owner":
        return owner
    name = field.removeprefix("params.")
    if name not in params:
        raise InvalidJobType(name=type_name, reason=f"key template {template!r} names missing param {name!r}")
    return str(params[name])
