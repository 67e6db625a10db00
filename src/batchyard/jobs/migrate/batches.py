"""A range of the source read and mapped, ready for its commit: the valid rows as the target's driver takes them,
their keys and hashes, and the rows rejected with why; and the dry run of a migration's first rows."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from batchyard.jobs.migrate.checksums import key_text, row_hash
from batchyard.jobs.migrate.mapping import FieldMapping, RowRejected
from batchyard.store.sql.copying import Reject, SourceSpec, read_range
from batchyard.store.sql.resource_rows import stored_rows

DRY_RUN_ROWS = 1_000
# Key kinds whose order is the same in every database (text depends on each side's collation; an instant on how
# each side stores its zone), with the type of a source bound that keeps that order.
_ORDERED_ALIKE: dict[str, type] = {"integer": int, "date": datetime.date}


@dataclass(frozen=True, slots=True)
class Plan:
    """What a worker needs for any range of a job, worked out once per process from its params."""

    spec: SourceSpec
    columns: tuple[str, ...]
    mapping: FieldMapping
    verify_extra_rows: bool = False

    def orders_alike(self, lo: Any, hi: Any) -> bool:
        """Whether the range ``lo < key <= hi`` of the source is the same range of the target's key, so the target
        can be read between the bounds (seeing rows it holds and the source lacks): the whole table, or a key
        copied as it is (no cast) whose values — whole numbers or dates — order alike in every database."""
        if lo is None and hi is None:
            return True
        key = self.mapping.key_rule
        kind = self.mapping.resource.field(key.field).kind
        wanted = _ORDERED_ALIKE.get(kind)
        bounds = [b for b in (lo, hi) if b is not None]
        return key.cast is None and wanted is not None and all(type(b) is wanted for b in bounds)

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
    sources: list[dict[str, Any]] = field(default_factory=list)  # each kept row as the source gave it
    scan_bounds: bool = False  # verify against every target row between the bounds (see ``Plan.orders_alike``)

    def reject_written_elsewhere(self, claimed: dict[str, int]) -> None:
        """Move the rows whose key another range already wrote to the rejects: two source keys that map to one
        target key ("01" and "1" cast to 1) must not overwrite each other unseen."""
        kept = [i for i, key in enumerate(self.keys) if key_text(key) not in claimed]
        for i in sorted(set(range(len(self.keys))) - set(kept)):
            key = self.keys[i]
            reason = (
                f"the key {key} was written from another source row, in range {claimed[key_text(key)] + 1}; "
                "the key map gives two source keys one target key"
            )
            self.rejects.append(Reject(_key_text(key), self.sources[i], reason))
        self.values = [self.values[i] for i in kept]
        self.keys = [self.keys[i] for i in kept]
        self.hashes = [self.hashes[i] for i in kept]
        self.stored = [self.stored[i] for i in kept]
        self.sources = [self.sources[i] for i in kept]


def read_batch(
    plan: Plan, index: int, lo: Any, hi: Any, converters: Sequence[Callable[[Any], Any] | None]
) -> RangeBatch:
    """The range's rows mapped one by one; a row the map or the model refuses, or whose key came before in the
    range, is rejected with its reason — never dropped without a record."""
    batch = RangeBatch(index, lo, hi, datetime.datetime.now(datetime.UTC))
    batch.scan_bounds = plan.verify_extra_rows and plan.orders_alike(lo, hi)
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
        batch.sources.append(row)
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
