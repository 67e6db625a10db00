"""JSON encoding of items, outputs and params: once per chunk, never per item."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel

from batchyard.errors import InvalidParams


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError as exc:
        raise InvalidParams(reason=str(exc)) from exc


def loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def loads_attempts(text: str | None) -> dict[int, int]:
    return {int(k): v for k, v in (loads(text) or {}).items()}


def unstorable(values: list[Any]) -> dict[int, str]:
    """Which values JSON cannot hold (an integer past 64 bits, an arbitrary object), with the reason: encoded
    once as a whole, and one by one only when that fails."""
    try:
        dumps(values)
    except InvalidParams:
        pass
    else:
        return {}
    bad: dict[int, str] = {}
    for i, value in enumerate(values):
        try:
            dumps(value)
        except InvalidParams as exc:
            bad[i] = f"the output cannot be stored: {exc.details['reason']}"
    return bad
