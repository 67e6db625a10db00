"""Which column of an uploaded table feeds which field of a resource: by the column's name or any of the
field's display names (``商品编码`` as well as ``sku``), ignoring case and spaces; an explicit mapping wins.
What is left over is reported before the import runs, so a user sees "column 备注 is not used" and "price has
no column" instead of a thousand rows failing."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from batchyard.errors import InvalidParams


@dataclass(frozen=True, slots=True)
class FieldNames:
    """A resource's field as a header may name it: its own name, and its titles by language."""

    name: str
    titles: Mapping[str, str] = field(default_factory=dict)
    required: bool = False


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    columns: dict[int, str]  # column position -> field name
    unmapped: list[str]  # header names no field takes (ignored by the import)
    missing: list[str]  # required fields no column feeds: every row would fail, so the import should not start
    repeated: list[str]  # header names of columns a field was already taken by (the first one wins)

    def values(self, cells: Sequence[str]) -> dict[str, str]:
        """A row's cells by field name (a short row's missing cells are "")."""
        return {name: cells[i] if i < len(cells) else "" for i, name in self.columns.items()}


def normalise(text: str) -> str:
    """Header names as people type them: case, spaces, full-width forms and underscores do not matter."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "_-")


def map_columns(
    header: Sequence[str], fields: Sequence[FieldNames], explicit: Mapping[str, str] | None = None
) -> ColumnMapping:
    """The suggested mapping of ``header`` onto ``fields``; ``explicit`` (file column -> field name) comes
    first and must name real columns and fields (``InvalidParams`` otherwise)."""
    known = {f.name: f for f in fields}
    chosen = _explicit(header, known, explicit or {})
    by_name = _names(fields)
    columns: dict[int, str] = {}
    unmapped: list[str] = []
    repeated: list[str] = []
    for position, title in enumerate(header):
        target = chosen.get(position) or by_name.get(normalise(title))
        if target is None:
            unmapped.append(title)
        elif target in columns.values():
            repeated.append(title)
        else:
            columns[position] = target
    missing = [f.name for f in fields if f.required and f.name not in columns.values()]
    return ColumnMapping(columns, unmapped, missing, repeated)


def _names(fields: Sequence[FieldNames]) -> dict[str, str]:
    """Every way of naming each field, normalised; a field's own name wins over another's title."""
    names: dict[str, str] = {}
    for f in fields:
        for title in f.titles.values():
            names.setdefault(normalise(title), f.name)
    names.update({normalise(f.name): f.name for f in fields})
    return names


def _explicit(header: Sequence[str], known: Mapping[str, FieldNames], explicit: Mapping[str, str]) -> dict[int, str]:
    positions = {title: i for i, title in reversed(list(enumerate(header)))}  # the first of equal names
    chosen: dict[int, str] = {}
    for column, target in explicit.items():
        if column not in positions:
            raise InvalidParams(reason=f"mapping names column {column!r}, which the file does not have")
        if target not in known:
            raise InvalidParams(reason=f"mapping sends column {column!r} to {target!r}, which is not a field")
        chosen[positions[column]] = target
    return chosen
