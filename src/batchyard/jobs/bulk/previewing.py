"""A bulk update's preview: how many rows match, how many would change, sample diffs, the totals of numeric
fields before and after — worked out by reading the rows, nothing written."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from batchyard.errors import BatchyardError
from batchyard.jobs.bulk.changes import Change, Plan
from batchyard.jobs.bulk.values import json_value, key_json

SAMPLE_DIFFS = 20
FAILURES_SHOWN = 5
_NUMERIC = frozenset({"integer", "decimal", "float"})


class _Tally:
    """The preview, row by row."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.matched = self.changed = self.unchanged = self.failing = 0
        self.samples: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.sums: dict[str, list[Any]] = {}  # field -> [rows, before, after], over the rows that change

    def add(self, row: dict[str, Any]) -> None:
        self.matched += 1
        key = key_json([row[k] for k in self.plan.resource.key])
        try:
            change = self.plan.changer.change(row)
        except Exception as error:  # noqa: BLE001 - a transform is user code: whatever it raises fails its row
            self._failed(key, error)
            return
        if change is None:
            self.unchanged += 1
            return
        self.changed += 1
        self._sample(key, change)
        self._sum(change)

    def _failed(self, key: list[Any], error: Exception) -> None:
        self.failing += 1
        if len(self.failures) < FAILURES_SHOWN:
            reason = error.message() if isinstance(error, BatchyardError) else f"{type(error).__name__}: {error}"
            self.failures.append({"key": key, "reason": reason})

    def _sample(self, key: list[Any], change: Change) -> None:
        for field, after in change.new.items():
            if len(self.samples) < SAMPLE_DIFFS:
                before = json_value(change.old[field])
                self.samples.append({"key": key, "field": field, "before": before, "after": json_value(after)})

    def _sum(self, change: Change) -> None:
        for field, after in change.new.items():
            before = change.old[field]
            if self.plan.resource.field(field).kind not in _NUMERIC or before is None or after is None:
                continue
            sums = self.sums.setdefault(field, [0, Decimal(0), Decimal(0)])
            sums[0] += 1
            sums[1] += Decimal(str(before))
            sums[2] += Decimal(str(after))

    def result(self) -> dict[str, Any]:
        return {
            "resource": self.plan.resource.name,
            "set": self.plan.described,
            "matched": self.matched,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "failing": self.failing,
            "failures": self.failures,
            "samples": self.samples,
            "totals": {
                field: {"rows": rows, "before": str(before), "after": str(after), "delta": str(after - before)}
                for field, (rows, before, after) in self.sums.items()
            },
        }


def preview_of(plan: Plan, pages: Iterable[list[dict[str, Any]]]) -> dict[str, Any]:
    """The preview over the matching rows (``pages`` of them, whole): totals are over the rows that would
    change, so ``delta`` is what the update adds to each numeric field's sum."""
    tally = _Tally(plan)
    for page in pages:
        for row in page:
            tally.add(row)
    return tally.result()
