"""What a bulk update does to one row: the new values of its ``set`` expressions (or of its transform), fitted to
their fields, checked by the resource's model, and compared with the old ones — worked out in Python, never SQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from batchyard.core.expressions import Expression, coerce, compile_set
from batchyard.core.resources import Resource
from batchyard.errors import InvalidParams, RowRejected
from batchyard.jobs.bulk.params import BulkUpdateParams
from batchyard.jobs.bulk.transforms import Transform, transform
from batchyard.jobs.bulk.values import same_values
from batchyard.jobs.tabular.exporting import _condition
from batchyard.store.sql.resource_reads import Condition


@dataclass(frozen=True, slots=True)
class Change:
    """A row's old and new values, in the fields the update writes."""

    old: dict[str, Any]
    new: dict[str, Any]


class Changer:
    """Computes a row's change: every expression reads the row as it was (as SQL's UPDATE does), a decimal is
    rounded half up to the places its field keeps (as PostgreSQL's numeric column would, and SQLite's text
    would not), and the whole new row must pass the resource's model."""

    def __init__(
        self, resource: Resource, *, expressions: Mapping[str, Expression] | None = None, fn: Transform | None = None
    ) -> None:
        self.resource = resource
        self._expressions = dict(expressions or {})
        self._fn = fn

    @property
    def fields(self) -> list[str]:
        """The fields the update writes, when known before any row (a transform says per row)."""
        return list(self._expressions)

    def change(self, row: Mapping[str, Any]) -> Change | None:
        """The row's change, or None when its new values equal its old ones; ExpressionFailed or RowRejected
        (the row's failure) when it cannot be computed or the model refuses it. A transform may raise anything."""
        new = {f: self._fitted(f, v) for f, v in self._computed(row).items()}
        new = self._validated(row, new)
        old = {f: row[f] for f in new}
        return None if same_values(old, new) else Change(old, new)

    def _computed(self, row: Mapping[str, Any]) -> dict[str, Any]:
        if self._fn is None:
            return {f: e.apply(row) for f, e in self._expressions.items()}
        changes = dict(self._fn(dict(row)))
        for name in changes:
            if name in self.resource.key or all(f.name != name for f in self.resource.fields):
                raise RowRejected(
                    reason=f"the transform changed {name!r}, which is not a field that can be updated",
                    reason_zh=f"转换函数修改了 {name!r}，它不是可更新的字段",
                )
        return {f: coerce(v, self.resource.field(f).kind, field=f) for f, v in changes.items()}

    def _fitted(self, name: str, value: Any) -> Any:
        places = self.resource.field(name).decimal_places
        if not isinstance(value, Decimal) or places is None:
            return value
        try:
            return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise RowRejected(
                reason=f"{name}: {value} has too many digits", reason_zh=f"{name}：{value} 位数过多"
            ) from None

    def _validated(self, row: Mapping[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        try:
            checked = self.resource.model.model_validate({**row, **new})
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            value = first.get("input")
            raise RowRejected(
                reason=f"{where}: {first['msg']} (the new value is {value!r})",
                reason_zh=f"{where}：新值 {value!r} 不符合要求（{first['msg']}）",
            ) from None
        return {f: getattr(checked, f) for f in new}


@dataclass(frozen=True, slots=True)
class Plan:
    """A bulk update worked out from its params once: the resource, which rows, and the change."""

    resource: Resource
    conditions: list[Condition]
    changer: Changer
    described: dict[str, str]  # each written field and its expression as normalised text, or the transform


def make_plan(resources: Mapping[str, Resource], params: BulkUpdateParams) -> Plan:
    """The plan, or the first reason the params cannot work: InvalidParams naming the resource, filter or
    transform at fault, InvalidExpression naming the field."""
    resource = resource_named(resources, params.resource)
    conditions = [_condition(resource, term) for term in params.filter]
    if params.set is not None:
        kinds = {f.name: f.kind for f in resource.fields}
        expressions = compile_set(params.set, kinds, key=resource.key)
        described = {f: e.describe() for f, e in expressions.items()}
        return Plan(resource, conditions, Changer(resource, expressions=expressions), described)
    name = params.transform or ""
    return Plan(resource, conditions, Changer(resource, fn=transform(name)), {"transform": name})


def resource_named(resources: Mapping[str, Resource], name: str) -> Resource:
    """A resource a bulk job may write: declared, and in batchyard's own database, where each row changes in the
    same transaction as its item's state (exactly once)."""
    found = resources.get(name)
    if found is None:
        known = ", ".join(sorted(resources)) or "none"
        raise InvalidParams(reason=f"resource: there is no resource {name!r} (resources: {known})")
    if found.database_url is not None:
        raise InvalidParams(
            reason=f"resource: {name!r} is in another database; bulk updates write only resources in batchyard's "
            "own database, where each row changes with its item's state"
        )
    return found
