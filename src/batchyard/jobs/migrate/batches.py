"""A range of the source read and mapped, ready for its commit: the valid rows as the target's driver takes them,
their keys and hashes, and the rows rejected with why; and the dry run of a migration's first rows."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from batchyard.jobs.migrate.checksums import row_hash
from batchyard.jobs.migrate.mapping import FieldMapping, RowRejected
from batchyard.store.sql.copying import Reject, SourceSpec, read_range
from batchyard.store.sql.resource_rows import stored_rows

DRY_RUN_ROWS = 1_000


@dataclass(frozen=True, slots=True)
class Plan:
    """What a worker needs for any range of a job, worked out once per process from its params."""

    spec: SourceSpec
    columns: tuple[str, ...]
    mapping: FieldMapping

    @property
    def key_position(self) -> int:
        names = [f.name for f in self.mapping.resource.fields]
        return names.index(self.mapping.resource.key[0])


@dataclass
class RangeBatch:
    """A range read from the source: what its commit writes, records and verifies."""

    index: int
    lo: Any
    hi: Any
    started_at: datetime.datetime
    read: int = 0
    values: list[tuple[Any, ...]] = field(default_factory=list)
    keys: list[Any] = field(default_factory=list)
    hashes: list[int] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    stored: list[tuple[Any, ...]] = field(default_factory=list)


def read_batch(
    plan: Plan, index: int, lo: Any, hi: Any, converters: Sequence[Callable[[Any], Any] | None]
) -> RangeBatch:
    """The range's rows mapped one by one; a row the map or the model refuses, or whose key came before in the
    range, is rejected with its reason — never dropped without a record."""
    batch = RangeBatch(index, lo, hi, datetime.datetime.now(datetime.UTC))
    seen: set[Any] = set()
    position = plan.key_position
    for row in read_range(plan.spec, lo, hi):
        batch.read += 1
        try:
            values = plan.mapping.apply(row)
        except RowRejected as exc:
            batch.rejects.append(Reject(_key_text(plan.mapping.key_of(row)), row, str(exc)))
            continue
        key = values[position]
        if key in seen:
            batch.rejects.append(Reject(_key_text(key), row, f"the key {key} appears more than once in the source"))
            continue
        seen.add(key)
        batch.values.append(values)
        batch.keys.append(key)
        batch.hashes.append(row_hash(values))
    batch.stored = stored_rows(list(converters), batch.values)
    return batch


def dry_run(plan: Plan) -> dict[str, Any]:
    """The first 1,000 source rows in key order, each before (as the source has it) and after (as the target
    would get it) or with the reasons it would be rejected; nothing is written."""
    rows = []
    valid = 0
    names = [f.name for f in plan.mapping.resource.fields]
    for row in read_range(plan.spec, None, None, limit=DRY_RUN_ROWS):
        try:
            after: dict[str, Any] | None = dict(zip(names, plan.mapping.apply(row), strict=True))
            reasons: list[str] = []
            valid += 1
        except RowRejected as exc:
            after, reasons = None, [str(exc)]
        rows.append(
            {"key": _json(plan.mapping.key_of(row)), "before": _json(row), "after": _json(after), "reasons": reasons}
        )
    return {
        "source_columns": list(plan.columns),
        "mapping": _json(plan.mapping.describe()),
        "dropped": list(plan.mapping.dropped),
        "checked": len(rows),
        "valid": valid,
        "rejected": len(rows) - valid,
        "rows": rows,
    }


def _json(value: Any) -> Any:
    """JSON's own form of a value (a decimal as text, an instant in ISO form)."""
    return orjson.loads(orjson.dumps(value, default=str))


def _key_text(key: Any) -> str:
    return "" if key is None else str(key)
