"""The ``export`` job type: a resource's rows, filtered and ordered, as a CSV, XLSX or JSON Lines file.

Its items are the rows; its chunks are keyset pages (the rows after one position and up to another, positions
found while planning by reading only the sort columns). A worker reads its page, turns the rows into the
format's text and keeps it as a part file of the job's, named by the page's first row, when it loads the chunk
(a page run again writes the same part again). The last item of every export assembles the parts, in order,
into the one file users download — so progress is counted in rows, a worker killed midway costs one page, and
the file is written from start to end once. Text that a spreadsheet
would run as a formula is neutralised in CSV (a leading ``'``, taken off again by an import) and written as
text in XLSX.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import repeat
from operator import methodcaller
from types import NoneType
from typing import Any, Literal

import orjson
import xlsxwriter  # type: ignore[import-untyped]  # ships annotations but no py.typed marker
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from batchyard.core.cells import FORMULA_STARTS, neutralise_formula
from batchyard.core.context import Completed, Context, RetryLater
from batchyard.core.files import Artifact
from batchyard.core.jobtype import JobType, define_job_type
from batchyard.core.planning import Segment
from batchyard.core.resources import Resource, ResourceField
from batchyard.errors import BlobNotFound, CellTooLong, InvalidParams
from batchyard.jobs.labels import zh
from batchyard.store.sql.resource_reads import Condition, Order, ResourceDatabases, page_bounds, read_page

Format = Literal["csv", "xlsx", "jsonl"]
Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "startswith", "is_null", "not_null"]
PAGE_ROWS = 5_000
PART_PREFIX = "part-"
PARTS_WAIT_SECONDS = 0.2  # the pages in hand are one page's work from done
MAX_IN_VALUES = 1_000
EXCEL_DIGITS = 15  # significant digits a spreadsheet number keeps
EXCEL_CELL_CHARS = 32_767
SHEET_ROWS = 1_048_576  # Excel's limit, the header included: a new sheet past it
PIECE_BYTES = 1 << 20
_TEXT_OPS = frozenset({"contains", "startswith"})
_NULL_OPS = frozenset({"is_null", "not_null"})
_CONTENT_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ExportFilter(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, title="Condition", json_schema_extra=zh("条件", "字段、比较方式和值。")
    )

    field: str = Field(min_length=1, title="Field", json_schema_extra=zh("字段"))
    op: Op = Field("eq", title="Comparison", json_schema_extra=zh("比较"))
    value: Any = Field(None, title="Value", json_schema_extra=zh("值"))


class ExportParams(BaseModel):
    """What to export: the resource, which rows (a structured filter, never SQL), which columns, in what order."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="Export a table", json_schema_extra=zh("导出表格", "把表中的行写成文件。")
    )

    resource: str = Field(
        min_length=1,
        title="Resource",
        description="The resource (table) to export.",
        json_schema_extra=zh("资源", "要导出的资源（表）。"),
    )
    format: Format = Field("csv", title="Format", json_schema_extra=zh("格式"))
    columns: list[str] | None = Field(
        None,
        title="Columns",
        description="The fields to export, in order; all when not given.",
        json_schema_extra=zh("列", "要导出的字段及其顺序；不填则导出全部。"),
    )
    filter: list[ExportFilter] = Field(
        default_factory=list,
        title="Filter",
        description="Terms that must all hold.",
        json_schema_extra=zh("筛选", "须同时满足的条件。"),
    )
    order_by: str | None = Field(
        None,
        title="Order by",
        description='A field, "-field" for descending; the key when not given.',
        json_schema_extra=zh("排序", "字段名，前加 “-” 为降序；不填则按主键。"),
    )
    language: str = Field(
        "en",
        title="Column titles",
        description="The language of the column titles: en or zh-CN.",
        json_schema_extra=zh("列标题语言", "列标题的语言：en 或 zh-CN。"),
    )
    bom: bool = Field(
        False,
        title="UTF-8 BOM",
        description="CSV: start with a UTF-8 BOM, so Excel reads Chinese correctly.",
        json_schema_extra=zh("UTF-8 BOM", "CSV：文件以 UTF-8 BOM 开头，Excel 才能正确显示中文。"),
    )
    gzip: bool = Field(
        False,
        title="gzip",
        description="Compress the file with gzip.",
        json_schema_extra=zh("gzip 压缩", "用 gzip 压缩文件。"),
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """What a worker needs to read and write a page, worked out once from the params."""

    resource: Resource
    columns: list[ResourceField]
    conditions: list[Condition]
    order: Order


class Export:
    """导出 — export a resource's rows as CSV, XLSX or JSON Lines."""

    Params = ExportParams

    def __init__(self, resources: Mapping[str, Resource], databases: ResourceDatabases) -> None:
        self._resources = resources
        self._databases = databases

    # planning ---------------------------------------------------------------------------------------------------
    def source(self, params: ExportParams, ctx: Context) -> Iterator[Segment]:
        plan = self._plan(params)
        first = 0
        with self._databases.reading(plan.resource) as conn:
            for after, last, rows in page_bounds(conn, plan.resource, plan.conditions, plan.order, PAGE_ROWS):
                spec = {"after": _stored(after), "last": _stored(last), "first": first, "rows": rows}
                yield Segment(spec, rows)
                first += rows
        yield Segment({"assemble": True}, 1)

    # running ----------------------------------------------------------------------------------------------------
    def load(self, spec: dict[str, Any], ctx: Context) -> list[Any]:
        """The page's rows, kept as its part file; its items are then only counted."""
        plan = self._plan(ctx.params)
        ctx.state = plan
        if spec.get("assemble"):
            return [{"assemble": True}]
        first, size = int(spec["first"]), int(spec["rows"])
        ctx.current = f"rows {first + 1:,}–{first + size:,}"
        names = _sort_fields(plan)
        after = None if spec["after"] is None else _positions(plan.resource, names, spec["after"])
        last = _positions(plan.resource, names, spec["last"])
        with self._databases.reading(plan.resource) as conn:
            rows = read_page(
                conn,
                plan.resource,
                columns=[f.name for f in plan.columns],
                conditions=plan.conditions,
                order=plan.order,
                after=after,
                last=last,
            )
        text = _encoded(rows, plan, ctx.params.format)
        name = f"{PART_PREFIX}{first:012d}-{size}-{len(rows)}"  # planned rows, and the rows it holds
        ctx.save_file(name, [text.encode()], "application/octet-stream", kind="part")
        return Completed([None] * size)  # each row's item is done: counted, it shows the progress

    def process(self, item: Any, ctx: Context) -> Any:
        """Only the last item comes here (a page's rows complete as it loads): it assembles the file."""
        return self._assemble(ctx, ctx.state)

    # assembling -------------------------------------------------------------------------------------------------
    def _assemble(self, ctx: Context, plan: Plan) -> dict[str, Any]:
        params: ExportParams = ctx.params
        name = _file_name(plan.resource.name, params)
        files = ctx.list_files()
        found = [a for a in files if a.name.startswith(PART_PREFIX)]
        made = next((a for a in files if a.kind == "export" and a.name == name), None)
        if made is not None:  # assembled before, its commit lost: the file stands (a page run again since, too)
            ctx.delete_files(p.name for p in found)
            return {"artifact_id": made.id, "name": made.name, "size": made.size}
        parts = _ordered_parts(found, expected=ctx.index)
        header = [_title(f, params.language) for f in plan.columns]
        if params.format == "xlsx":
            body: Iterable[bytes] = _workbook(ctx, parts, plan, header)
        else:
            body = _text_file(ctx, parts, params, header)
        if params.gzip:
            body = _gzipped(body)
        try:
            artifact = ctx.save_file(name, body, _content_type(params), kind="export")
        except BlobNotFound:  # a part replaced while it was read (its page run again): join them again later
            raise RetryLater("a page of the export was written again while it was joined", PARTS_WAIT_SECONDS) from None
        ctx.delete_files(p.name for p in found)
        rows = sum(_part_rows_written(p) for p in parts)
        return {"artifact_id": artifact.id, "name": artifact.name, "size": artifact.size, "rows": rows}

    def _plan(self, params: ExportParams) -> Plan:
        resource = self._resources.get(params.resource)
        if resource is None:
            known = ", ".join(sorted(self._resources)) or "none"
            raise InvalidParams(reason=f"there is no resource {params.resource!r} (resources: {known})")
        fields = {f.name: f for f in resource.fields}
        wanted = params.columns or [f.name for f in resource.fields]
        unknown = [c for c in wanted if c not in fields]
        if unknown:
            raise InvalidParams(reason=f"{', '.join(unknown)} is not a field of {resource.name}")
        conditions = [_condition(resource, term) for term in params.filter]
        return Plan(resource, [fields[c] for c in wanted], conditions, _order(resource, params.order_by))


# -- params -------------------------------------------------------------------------------------------------------


def _condition(resource: Resource, term: ExportFilter) -> Condition:
    """A filter term with its value checked and converted to the field's type (a date from "2024-01-31")."""
    found = next((f for f in resource.fields if f.name == term.field), None)
    if found is None:
        raise InvalidParams(reason=f"filter: {term.field!r} is not a field of {resource.name}")
    if term.op in _NULL_OPS:
        return Condition(term.field, term.op, None)
    if term.value is None:
        if term.op in ("eq", "ne"):  # "equals nothing" is "is empty"
            return Condition(term.field, "is_null" if term.op == "eq" else "not_null", None)
        raise InvalidParams(reason=f"filter: {term.op} needs a value ({term.field})")
    if term.op in _TEXT_OPS:
        if found.kind != "text" or not isinstance(term.value, str):
            raise InvalidParams(reason=f"filter: {term.op} needs a text field and a text value ({term.field})")
        return Condition(term.field, term.op, term.value)
    if term.op == "in":
        if not isinstance(term.value, list) or not term.value:
            raise InvalidParams(reason=f"filter: in needs a non-empty list of values ({term.field})")
        if len(term.value) > MAX_IN_VALUES or None in term.value:
            raise InvalidParams(reason=f"filter: in takes 1 to {MAX_IN_VALUES:,} values, none empty ({term.field})")
        return Condition(term.field, term.op, [_typed(resource, found, v) for v in term.value])
    return Condition(term.field, term.op, _typed(resource, found, term.value))


def _typed(resource: Resource, found: ResourceField, value: Any) -> Any:
    annotation: Any = resource.model.model_fields[found.name].annotation
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        raise InvalidParams(reason=f"filter: {value!r} is not a valid {found.kind} for {found.name}") from None


def _order(resource: Resource, order_by: str | None) -> Order:
    if order_by is None:
        return Order(None)
    descending = order_by.startswith("-")
    name = order_by.removeprefix("-")
    found = next((f for f in resource.fields if f.name == name), None)
    if found is None:
        raise InvalidParams(reason=f"order_by: {name!r} is not a field of {resource.name}")
    if found.nullable and name not in resource.key:
        raise InvalidParams(reason=f"order_by: {name!r} may be empty; order by a field that is always filled")
    return Order(name, descending)


def _sort_fields(plan: Plan) -> list[ResourceField]:
    names = ([plan.order.field] if plan.order.field and plan.order.field not in plan.resource.key else []) + list(
        plan.resource.key
    )
    return [plan.resource.field(n) for n in names]


def _positions(resource: Resource, fields: list[ResourceField], values: list[Any]) -> list[Any]:
    """A page position as stored in its spec (JSON) back in the columns' types."""
    return [_from_json(f, v) for f, v in zip(fields, values, strict=True)]


def _stored(position: list[Any] | None) -> list[Any] | None:
    """A page position as its spec keeps it: a float JSON cannot hold (infinity, NaN — a decimal past a float's
    range ordered as a float on SQLite) as ``{"float": "inf"}``, not as the null that would match no row."""
    if position is None:
        return None
    return [{"float": repr(v)} if isinstance(v, float) and not math.isfinite(v) else v for v in position]


def _from_json(f: ResourceField, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return float(value["float"])
    if f.kind == "date":
        return datetime.date.fromisoformat(value)
    if f.kind == "datetime":
        return datetime.datetime.fromisoformat(value)
    if f.kind == "decimal":
        return Decimal(str(value))
    return value


# -- encoding -----------------------------------------------------------------------------------------------------


def _encoded(rows: list[tuple[Any, ...]], plan: Plan, format: str) -> str:
    if format == "jsonl":
        names = [f.name for f in plan.columns]
        return "".join(
            orjson.dumps(dict(zip(names, map(_json_value, row), strict=True))).decode() + "\n" for row in rows
        )
    if format == "xlsx":  # typed values, as JSON, for the workbook the last item writes
        return "".join(orjson.dumps([_json_value(v) for v in row]).decode() + "\n" for row in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = [_csv_column(f.kind, values) for f, values in zip(plan.columns, zip(*rows, strict=True), strict=False)]
    writer.writerows(zip(*columns, strict=True))
    return out.getvalue()


_CSV_TYPES: dict[str, frozenset[type]] = {
    "text": frozenset({str, NoneType}),
    "integer": frozenset({int, NoneType}),
    "float": frozenset({float, int, NoneType}),
    "decimal": frozenset({Decimal, NoneType}),
    "date": frozenset({datetime.date, NoneType}),
    "datetime": frozenset({datetime.datetime, NoneType}),
}
_FORMULA_PREFIXES = tuple(FORMULA_STARTS) + tuple(f"'{c}" for c in FORMULA_STARTS)


def _csv_column(kind: str, values: tuple[Any, ...]) -> Sequence[Any]:
    """A page's column as CSV cells, a column at a time: ``_csv_value`` of each value, done in C where the
    column holds the types its field says (the csv module writes None as an empty cell and a number as its
    ``str``), and only the cells that need it neutralised."""
    found = set(map(type, values))
    if not found <= _CSV_TYPES.get(kind, frozenset()):
        return [_csv_value(v) for v in values]
    if kind in ("date", "datetime"):
        return (
            [None if v is None else v.isoformat() for v in values]
            if NoneType in found
            else list(map(methodcaller("isoformat"), values))
        )
    if kind != "text":
        return values
    filled = [v for v in values if v is not None] if NoneType in found else values
    if any(map(str.startswith, filled, repeat(_FORMULA_PREFIXES))):
        return [None if v is None else neutralise_formula(v) for v in values]
    return values


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise_formula(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _title(f: ResourceField, language: str) -> str:
    if language.lower().startswith("zh"):
        return f.titles.get("zh-CN") or f.titles.get("zh") or f.name
    return f.titles.get("en") or f.name


def _file_name(resource: str, params: ExportParams) -> str:
    return f"{resource}.{params.format}" + (".gz" if params.gzip else "")


def _content_type(params: ExportParams) -> str:
    return "application/gzip" if params.gzip else _CONTENT_TYPES[params.format]


# -- assembling ---------------------------------------------------------------------------------------------------


def _ordered_parts(files: list[Artifact], *, expected: int) -> list[Artifact]:
    """The part files in row order, one per page — the latest, when a page was run again (its worker lost) and
    read a different number of rows; while a page is still to be done (in another worker's hands, or retried
    after a fault), the assembly waits for it rather than failing."""
    latest: dict[int, Artifact] = {}
    for part in sorted(files, key=lambda a: a.id):
        latest[_part_first(part)] = part
    parts = sorted(latest.values(), key=_part_first)
    position = 0
    for part in parts:
        first, planned = _part_first(part), int(part.name.removeprefix(PART_PREFIX).split("-")[1])
        if first != position:
            break
        position += planned
    if position != expected:
        raise RetryLater(f"the export's rows from {position + 1} are not ready yet", seconds=PARTS_WAIT_SECONDS)
    return parts


def _part_first(part: Artifact) -> int:
    return int(part.name.removeprefix(PART_PREFIX).split("-")[0])


def _part_rows_written(part: Artifact) -> int:
    return int(part.name.removeprefix(PART_PREFIX).split("-")[2])


def _text_file(ctx: Context, parts: list[Artifact], params: ExportParams, header: list[str]) -> Iterator[bytes]:
    if params.format == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerow([neutralise_formula(h) for h in header])
        yield ("\ufeff" if params.bom else "").encode() + out.getvalue().encode()
    for part in parts:
        with ctx.open_file(part.name) as stream:
            while piece := stream.read(PIECE_BYTES):
                yield piece


def _workbook(ctx: Context, parts: list[Artifact], plan: Plan, header: list[str]) -> Iterator[bytes]:
    """XlsxWriter in constant-memory mode, rows streamed from the parts; a new sheet every 1,048,576 rows."""
    kinds = [f.kind for f in plan.columns]
    with tempfile.TemporaryFile() as spool:
        workbook = xlsxwriter.Workbook(spool, {"constant_memory": True})
        try:
            _fill_workbook(ctx, workbook, parts, kinds, header)
        finally:
            workbook.close()
        spool.seek(0)
        while piece := spool.read(PIECE_BYTES):
            yield piece


def _fill_workbook(ctx: Context, workbook: Any, parts: list[Artifact], kinds: list[str], header: list[str]) -> None:
    bold = workbook.add_format({"bold": True})
    dates = workbook.add_format({"num_format": "yyyy-mm-dd"})
    times = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    text = workbook.add_format({"quote_prefix": True})
    sheet, row_number = None, SHEET_ROWS
    for values in _part_rows(ctx, parts):
        if row_number == SHEET_ROWS:
            sheet = workbook.add_worksheet()
            for column, title in enumerate(header):
                sheet.write_string(0, column, title, bold)
            row_number = 1
        for column, (kind, value) in enumerate(zip(kinds, values, strict=True)):
            _write_cell(sheet, row_number, column, kind, value, formats=(dates, times, text))
        row_number += 1
    if sheet is None:
        sheet = workbook.add_worksheet()
        for column, title in enumerate(header):
            sheet.write_string(0, column, title, bold)


def _write_cell(sheet: Any, row: int, column: int, kind: str, value: Any, *, formats: tuple[Any, Any, Any]) -> None:
    if value is None:
        return
    dates, times, text = formats
    if kind in ("integer", "decimal") and not _exact_in_excel(value):
        sheet.write_string(row, column, str(value))  # Excel keeps 15 digits: a longer number stays text, exact
    elif kind in ("integer", "float", "decimal"):
        sheet.write_number(row, column, float(value))
    elif kind == "boolean":
        sheet.write_boolean(row, column, bool(value))
    elif kind == "date":
        sheet.write_datetime(row, column, datetime.datetime.fromisoformat(value), dates)
    elif kind == "datetime":
        sheet.write_datetime(row, column, datetime.datetime.fromisoformat(value).replace(tzinfo=None), times)
    else:
        string = str(value)
        if len(string) > EXCEL_CELL_CHARS:
            raise CellTooLong(row=row + 1, limit=EXCEL_CELL_CHARS)
        sheet.write_string(row, column, string, text if neutralise_formula(string) != string else None)


def _exact_in_excel(value: Any) -> bool:
    digits = len(str(value).lstrip("-").replace(".", "").lstrip("0"))
    return digits <= EXCEL_DIGITS


def _part_rows(ctx: Context, parts: list[Artifact]) -> Iterator[list[Any]]:
    for part in parts:
        with ctx.open_file(part.name) as stream:
            for line in stream:
                if line.strip():
                    yield orjson.loads(line)


def _gzipped(pieces: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # the gzip container
    for piece in pieces:
        if out := compressor.compress(piece):
            yield out
    yield compressor.flush()


def export_job_type(resources: Mapping[str, Resource], databases: ResourceDatabases, **overrides: Any) -> JobType:
    """The ``export`` job type over ``resources``. Pages are read and encoded by as many workers as there are;
    the last item, which assembles the file, waits for the pages still in hand. A page that cannot be read (not
    a fault of the database or storage, which are retried) stops the job: the file could never be whole, and
    the assembly would otherwise wait for it for ever."""
    options: dict[str, Any] = {"on_error": "stop", **overrides}
    return define_job_type("export", Export(resources, databases), title="Export a table", **options)
