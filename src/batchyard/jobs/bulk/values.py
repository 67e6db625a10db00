"""A row's key and values as the JSON that chunk specs, item outputs and images keep, and back in the types of
the resource's fields (a decimal as its exact text, a date in ISO form)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from batchyard.core.resources import Resource

KeyValues = tuple[Any, ...]


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date):  # a datetime too
        return value.isoformat()
    return value


def typed_value(kind: str, value: Any) -> Any:
    """A JSON value back in the Python type of a field of ``kind``."""
    if value is None:
        return None
    if kind == "decimal":
        return Decimal(str(value))
    if kind == "date":
        return datetime.date.fromisoformat(value)
    if kind == "datetime":
        return datetime.datetime.fromisoformat(value)
    if kind == "float":
        return float(value)
    return value


def key_json(key: Sequence[Any]) -> list[Any]:
    """A key as an item: a list of JSON values."""
    return [json_value(v) for v in key]


def key_text(key: Sequence[Any]) -> str:
    """A key as the images keep it: one text per row, the same however the key was read."""
    return json.dumps(key_json(key), ensure_ascii=False, separators=(",", ":"))


def key_values(resource: Resource, key: Sequence[Any]) -> KeyValues:
    """An item's key (JSON values) in the types of the key's fields."""
    return tuple(typed_value(resource.field(n).kind, v) for n, v in zip(resource.key, key, strict=True))


def values_text(values: Mapping[str, Any]) -> str:
    return json.dumps({f: json_value(v) for f, v in values.items()}, ensure_ascii=False, sort_keys=True)


def values_of(resource: Resource, text: str) -> dict[str, Any]:
    """An image's values in the types of their fields."""
    return {f: typed_value(resource.field(f).kind, v) for f, v in json.loads(text).items()}


def same_values(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two rows hold the same values in these fields, as the database compares them (1.5 is 1.50)."""
    return a.keys() == b.keys() and all(_same(a[f], b[f]) for f in a)


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return bool(a == b)
