"""Params' names and help in Chinese beside the English ones, in their JSON Schema: the dashboard draws its forms
from the schema and shows ``title_zh`` / ``description_zh`` to a reader in Chinese."""

from __future__ import annotations

from typing import Any


def zh(title: str, description: str = "") -> dict[str, Any]:
    """``json_schema_extra`` for a field or model: its title, and its description when it has one, in Chinese."""
    return {"title_zh": title, **({"description_zh": description} if description else {})}
