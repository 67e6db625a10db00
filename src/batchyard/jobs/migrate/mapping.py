"""The field map of a migration: checked against the source's columns and the resource's fields at submit, then
applied to each source row — column, function, cast, default, then the resource's model — giving the row's
values or the reasons it is rejected."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from batchyard.core.resources import Resource
from batchyard.errors import InvalidParams
from batchyard.jobs.migrate.params import FieldMap, MigrateParams

Function = Callable[[Any], Any]
_TRUE = frozenset({"y", "yes", "true", "t", "1", "on", "是"})
_FALSE = frozenset({"n", "no", "false", "f", "0", "off", "否"})


class RowRejected(ValueError):
    """A source row the map or the model refuses, with every reason."""


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _empty_to_null(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


_FUNCTIONS: dict[str, Function] = {
    "strip": _strip,
    "lower": lambda v: v.lower() if isinstance(v, str) else v,
    "upper": lambda v: v.upper() if isinstance(v, str) else v,
    "empty_to_null": _empty_to_null,
}


def register_function(name: str, fn: Function) -> None:
    """Make ``fn`` (one value in, one value out; raise to reject the row) usable as ``"fn": name`` in a map.
    Register it where workers import it too (the app module)."""
    if not name or not callable(fn):
        raise InvalidParams(reason="a map function needs a name and a callable")
    _FUNCTIONS[name] = fn


def function_names() -> list[str]:
    return sorted(_FUNCTIONS)


# -- casts --------------------------------------------------------------------------------------------------------


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal) and value == int(value):
        return int(value)
    if isinstance(value, str):
        return int(_without_grouping(value.strip()))
    raise ValueError("not a whole number")


_GROUPED = re.compile(r"[-+]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?")


def _without_grouping(text: str) -> str:
    """Commas only as thousands separators (``1,234,567.5``); "1,5" is a decimal comma, not fifteen: refused."""
    if "," not in text:
        return text
    if not _GROUPED.fullmatch(text):
        raise ValueError("a comma that does not separate thousands")
    return text.replace(",", "")


def _to_decimal(value: Any) -> Decimal:
    try:
        found = Decimal(_without_grouping(str(value).strip()))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not found.is_finite():
        raise ValueError("not a finite number")
    return found


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError("not a yes/no value")


def _to_datetime(value: Any) -> datetime.datetime:
    """An instant, in UTC: text in ISO form (a space or ``/`` allowed), seconds since 1970, or a date at 00:00;
    one without a zone is taken as UTC."""
    if isinstance(value, datetime.datetime):
        found = value
    elif isinstance(value, datetime.date):
        found = datetime.datetime.combine(value, datetime.time())
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        found = datetime.datetime.fromtimestamp(float(value), datetime.UTC)
    else:
        found = datetime.datetime.fromisoformat(str(value).strip().replace("/", "-"))
    return utc(found)


def _to_date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value).strip().replace("/", "-")[:10])


def _to_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


CASTS: dict[str, Function] = {
    "int": _to_int,
    "float": float,
    "decimal": _to_decimal,
    "str": _to_str,
    "bool": _to_bool,
    "date": _to_date,
    "datetime": _to_datetime,
}


def utc(instant: datetime.datetime) -> datetime.datetime:
    """An aware instant in UTC (a naive one taken as UTC): what every database reads back as the same instant."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=datetime.UTC)
    return instant.astimezone(datetime.UTC)


# -- the compiled map ---------------------------------------------------------------------------------------------

_NO_DEFAULT = object()


@dataclass(frozen=True, slots=True)
class Rule:
    """How one field gets its value."""

    field: str
    column: str | None
    fn: Function | None
    cast: Function | None
    cast_name: str | None
    default: Any

    def value(self, row: Mapping[str, Any]) -> Any:
        value = row.get(self.column) if self.column is not None else None
        if self.fn is not None:
            value = self.fn(value)
        if value is not None and self.cast is not None:
            try:
                value = self.cast(value)
            except (ValueError, TypeError, ArithmeticError, OverflowError) as exc:
                raise RowRejected(f"{self.field}: {_shown(value)} cannot be cast to {self.cast_name} ({exc})") from None
        return self.default if value is None and self.default is not _NO_DEFAULT else value


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """A checked field map: a rule per field the source feeds, in the resource's field order."""

    resource: Resource
    rules: tuple[Rule, ...]
    key_rule: Rule
    dropped: tuple[str, ...]

    def apply(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The row's values in the resource's field order, as its model gives them; ``RowRejected`` with every
        reason when a function, a cast or the model refuses it."""
        values, reasons = {}, []
        for rule in self.rules:
            try:
                values[rule.field] = rule.value(row)
            except RowRejected as exc:
                reasons.append(str(exc))
            except Exception as exc:  # noqa: BLE001 - a registered function may raise anything: the row's reason
                reasons.append(f"{rule.field}: {rule.fn and getattr(rule.fn, '__name__', 'fn')} failed ({exc})")
        if reasons:
            raise RowRejected("; ".join(reasons))
        try:
            record = self.resource.model.model_validate(values)
        except ValidationError as exc:
            raise RowRejected(_model_reasons(exc)) from None
        return tuple(_normalised(getattr(record, f.name)) for f in self.resource.fields)

    def key_of(self, row: Mapping[str, Any]) -> Any:
        """The row's key as its source column holds it (for a rejected row's record)."""
        return row.get(self.key_rule.column or "")

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"field": r.field, "from": r.column, "cast": r.cast_name, "fn": _fn_name(r.fn)}
            | ({"default": r.default} if r.default is not _NO_DEFAULT else {})
            for r in self.rules
        ]


def _fn_name(fn: Function | None) -> str | None:
    if fn is None:
        return None
    return next((name for name, found in _FUNCTIONS.items() if found is fn), getattr(fn, "__name__", "fn"))


def _normalised(value: Any) -> Any:
    return utc(value) if isinstance(value, datetime.datetime) else value


def _model_reasons(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'row'}: {error['msg']}" for error in exc.errors(include_url=False)
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def compile_mapping(params: MigrateParams, resource: Resource, columns: Sequence[str]) -> FieldMapping:
    """The map checked against both schemas: every target field a field of the resource, every source column
    one of the source's, every function registered; every required field fed; every source column mapped or
    dropped (nothing left behind unsaid); the resource's key fed by the key column. ``InvalidParams`` names
    the first column or field at fault."""
    known, fields = set(columns), {f.name: f for f in resource.fields}
    if params.key not in known:
        raise InvalidParams(reason=f"key: {params.key!r} is not a column of the source ({_listed(columns)})")
    for name in params.mapping:
        if name not in fields:
            raise InvalidParams(reason=f"mapping: {name!r} is not a field of {resource.name} ({_listed(fields)})")
    for column in params.drop:
        if column not in known:
            raise InvalidParams(reason=f"drop: {column!r} is not a column of the source ({_listed(columns)})")
    rules = tuple(
        rule for f in resource.fields if (rule := _rule(f.name, params, resource, known, columns)) is not None
    )
    used = {r.column for r in rules if r.column is not None}
    _check_complete(params, columns, used)
    key_rule = _key_rule(params, resource, rules)
    return FieldMapping(resource, rules, key_rule, tuple(params.drop))


def _rule(
    field: str, params: MigrateParams, resource: Resource, known: set[str], columns: Sequence[str]
) -> Rule | None:
    entry = params.mapping.get(field)
    if entry is None:
        if field in known and field not in params.drop:
            return Rule(field, field, None, None, None, _NO_DEFAULT)
        if resource.field(field).required:
            raise InvalidParams(
                reason=f"mapping: the field {field!r} gets no value; map a source column to it or give a default"
            )
        return None
    found = entry if isinstance(entry, FieldMap) else FieldMap(from_=entry)
    if found.from_ is not None and found.from_ not in known:
        raise InvalidParams(
            reason=f"mapping: {found.from_!r} (for {field}) is not a column of the source ({_listed(columns)})"
        )
    if found.from_ in params.drop:
        raise InvalidParams(reason=f"mapping: {found.from_!r} is both mapped (to {field}) and dropped")
    if found.fn is not None and found.fn not in _FUNCTIONS:
        raise InvalidParams(reason=f"mapping: {field}: no function {found.fn!r} (functions: {_listed(_FUNCTIONS)})")
    default = found.default if "default" in found.model_fields_set else _NO_DEFAULT
    if found.from_ is None and default is _NO_DEFAULT and found.fn is None:
        raise InvalidParams(reason=f"mapping: {field}: give a source column (from) or a default")
    cast = CASTS[found.cast] if found.cast is not None else None
    fn = _FUNCTIONS[found.fn] if found.fn is not None else None
    return Rule(field, found.from_, fn, cast, found.cast, default)


def _check_complete(params: MigrateParams, columns: Sequence[str], used: set[str]) -> None:
    left = [c for c in columns if c not in used and c not in params.drop]
    if left:
        raise InvalidParams(
            reason=f"the source column(s) {_listed(left)} are neither mapped nor dropped; map them or list them in drop"
        )


def _key_rule(params: MigrateParams, resource: Resource, rules: Sequence[Rule]) -> Rule:
    """The rule of the resource's key: one field, fed straight (a rename, perhaps a cast) by the key column, so
    a range of the source's key is a range of the target's."""
    if len(resource.key) != 1:
        raise InvalidParams(reason=f"resource: {resource.name} has a key of several fields; migrate needs one")
    rule = next((r for r in rules if r.field == resource.key[0]), None)
    if rule is None or rule.column != params.key or rule.fn is not None:
        raise InvalidParams(
            reason=f"key: the key field {resource.key[0]!r} of {resource.name} must be mapped from the key column "
            f"{params.key!r} (a rename, perhaps with a cast)"
        )
    return rule


def _listed(names: Any) -> str:
    return ", ".join(sorted(names) if isinstance(names, set | dict) else list(names)) or "none"
