"""Resources: a table declared once — a Pydantic model for its rows, its natural key, display names per
language — that imports and exports (later bulk updates and migrations) work on."""

from __future__ import annotations

import datetime
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from batchyard.errors import InvalidResource

# The kinds of column a field may be, by its Python type; anything else cannot be a column.
KINDS: dict[type, str] = {
    bool: "boolean",  # before int: a bool is an int
    int: "integer",
    Decimal: "decimal",
    float: "float",
    str: "text",
    datetime.datetime: "datetime",  # before date: a datetime is a date
    datetime.date: "date",
}


@dataclass(frozen=True, slots=True)
class ResourceField:
    name: str
    kind: str  # one of KINDS' values
    required: bool
    nullable: bool
    max_length: int | None = None
    decimal_places: int | None = None
    titles: Mapping[str, str] = field(default_factory=dict)  # language -> display name


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    model: type[BaseModel]
    key: tuple[str, ...]
    fields: tuple[ResourceField, ...]
    table: str
    database_url: str | None = None  # None: the state database

    def field(self, name: str) -> ResourceField:
        return next(f for f in self.fields if f.name == name)


def define_resource(
    name: str,
    model: type[BaseModel],
    *,
    key: Sequence[str],
    titles: Mapping[str, Mapping[str, str]] | None = None,
    table: str | None = None,
    database_url: str | None = None,
) -> Resource:
    """A resource from its model; ``titles`` is ``{language: {field: title}}``. A key naming no field, or a
    field of a type no column can hold, is refused here, at declaration."""
    fields = tuple(_field(name, n, info, titles or {}) for n, info in model.model_fields.items())
    names = {f.name for f in fields}
    if not key or not set(key) <= names:
        raise InvalidResource(name=name, reason=f"the key {list(key)!r} must name fields of {model.__name__}")
    empty = [f.name for f in fields if f.name in key and f.nullable]
    if empty:  # a row is found, paged and compared by its key: one that may be missing finds nothing
        raise InvalidResource(
            name=name, reason=f"the key field {', '.join(empty)} may be empty; a key is always filled"
        )
    return Resource(name, model, tuple(key), fields, table or name, database_url)


def _field(resource: str, name: str, info: Any, titles: Mapping[str, Mapping[str, str]]) -> ResourceField:
    python_type, nullable = _unwrapped(info.annotation)
    if typing.get_origin(python_type) is typing.Literal:  # a choice of values: a column of their type
        python_type = _literal_type(resource, name, typing.get_args(python_type))
    kind = next((k for t, k in KINDS.items() if isinstance(python_type, type) and issubclass(python_type, t)), None)
    if kind is None:
        raise InvalidResource(name=resource, reason=f"field {name!r} is a {python_type!r}, which no column can hold")
    return ResourceField(
        name=name,
        kind=kind,
        required=info.is_required(),
        nullable=nullable,
        max_length=_constraint(info, "max_length"),
        decimal_places=_constraint(info, "decimal_places"),
        titles={language: named[name] for language, named in titles.items() if name in named},
    )


def _literal_type(resource: str, name: str, choices: tuple[Any, ...]) -> type:
    kinds = {type(choice) for choice in choices}
    if len(kinds) != 1 or next(iter(kinds)) not in (str, int, bool):
        raise InvalidResource(name=resource, reason=f"field {name!r} mixes choices of several types")
    return next(iter(kinds))


def _unwrapped(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` is X, nullable."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (members[0] if len(members) == 1 else annotation), len(members) < len(typing.get_args(annotation))
    return annotation, False


def _constraint(info: Any, name: str) -> int | None:
    for item in info.metadata:
        value = getattr(item, name, None)
        if isinstance(value, int):
            return value
    return None
