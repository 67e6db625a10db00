"""Transforms a bulk update may name instead of ``set``: Python functions an app registers by name, each taking a
row (its fields by name) and giving the fields to change — for what the expression language cannot say."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from threading import Lock
from typing import Any

from batchyard.errors import ConfigurationError, InvalidParams

Transform = Callable[[Mapping[str, Any]], Mapping[str, Any]]

_TRANSFORMS: dict[str, Transform] = {}
_lock = Lock()


def register_transform(name: str, fn: Transform) -> Transform:
    """Register ``fn`` as the transform ``name`` (in every process that runs bulk updates: the app's module
    registers it at import). A name taken by another function is refused: two meanings would depend on import
    order."""
    with _lock:
        known = _TRANSFORMS.get(name)
        if known is not None and known is not fn:
            raise ConfigurationError(reason=f"a transform named {name!r} is registered already")
        _TRANSFORMS[name] = fn
    return fn


def transform(name: str) -> Transform:
    """The transform registered as ``name``; InvalidParams naming the known ones when there is none."""
    with _lock:
        found = _TRANSFORMS.get(name)
        known = ", ".join(sorted(_TRANSFORMS)) or "none"
    if found is None:
        raise InvalidParams(reason=f"transform: there is no transform {name!r} (registered: {known})")
    return found
