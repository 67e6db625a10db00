"""The ``import`` job type: an uploaded table's rows validated by a resource's model and written to its table.

Its items are the file's rows, but its chunks store only byte ranges of the file (``segments``): a worker reads
its range again, validates each row (``process``, on the worker's own core, outside any transaction) and writes
the valid ones in the chunk's commit transaction (``write``), so each row is written exactly once however often
a worker dies. Rows that fail keep their line, their cells and every reason, for the error report.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from batchyard.core.context import Context, Skip
from batchyard.core.jobtype import JobType, define_job_type
from batchyard.core.planning import Segment
from batchyard.core.resources import Resource
from batchyard.errors import DuplicateRow, InvalidParams, RowRejected
from batchyard.jobs.tabular.formats import detect_format
from batchyard.jobs.tabular.mapping import ColumnMapping, FieldNames, map_columns
from batchyard.jobs.tabular.reading import HEAD_BYTES
from batchyard.jobs.tabular.segments import TextLayout, read_piece, scan
from batchyard.jobs.tabular.validation import validate_row
from batchyard.store.sql.resource_rows import existing_keys, resource_table, write_rows

Mode = Literal["insert", "upsert", "skip_existing"]
INSERTED, UPDATED = "inserted", "updated"


class ImportParams(BaseModel):
    """What to import and how: the resource, what to do with rows whose key exists, and how to read the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resource: str = Field(min_length=1, description="The resource (table) the rows go to.")
    mode: Mode = Field(
        "insert",
        description="insert: an existing key is an error; upsert: it is updated; skip_existing: it is left as it "
        "is and the row counted as skipped.",
    )
    dry_run: bool = Field(False, description="Validate and count what would happen; write nothing.")
    encoding: str | None = Field(None, description="The text file's encoding; found from its bytes when not given.")
    mapping: dict[str, str] | None = Field(None, description="File column -> field, where names do not match.")
    sheet: str | None = Field(None, description="The workbook's sheet; the first when not given.")
    upload_ids: list[int] = Field(default_factory=list, description="The uploaded file (given at submit).")


@dataclass(frozen=True, slots=True)
class SourceRow:
    """A row of the file as a chunk loads it: its line, its cells in header order, and the file's header."""

    line: int
    cells: list[str]
    problem: str | None
    header: tuple[str, ...]

    def __repr__(self) -> str:  # what a job shows as ``current``
        return f"line {self.line}"

    def as_record(self) -> dict[str, str]:
        """The cells by the file's own column names, as the error report gives them back."""
        named = dict(zip(self.header, self.cells, strict=False))
        for extra, value in enumerate(self.cells[len(self.header) :], start=len(self.header) + 1):
            named[f"column {extra}"] = value
        return named


class Import:
    """导入 — import a CSV, TSV, JSONL or XLSX file into a resource."""

    Params = ImportParams

    def __init__(self, resources: Mapping[str, Resource]) -> None:
        self._resources = resources  # the yard's, read when a job runs: declared after this type is made

    # planning ---------------------------------------------------------------------------------------------------
    def source(self, params: ImportParams, ctx: Context) -> Iterator[Segment]:
        resource = self._resource(params.resource)
        upload_id = _single_upload(params)
        with ctx.open_upload(upload_id) as head_stream:
            head = head_stream.read(HEAD_BYTES)
        format = detect_format(head)
        if format == "xlsx":
            raise InvalidParams(reason="importing workbooks (xlsx) is not available yet; save the sheet as CSV")
        with ctx.open_upload(upload_id) as stream:
            layout, pieces = scan(stream, format=format, encoding=params.encoding)
            mapping = _checked_mapping(layout.header, resource, params.mapping)
            common = {
                "upload": upload_id,
                "format": layout.format,
                "encoding": layout.encoding,
                "header": layout.header,
                "columns": {str(k): v for k, v in mapping.columns.items()},
            }
            for piece in pieces:
                spec = {**common, "offset": piece.offset, "length": piece.length, "line": piece.line}
                yield Segment(spec, piece.rows)

    # running ----------------------------------------------------------------------------------------------------
    def load(self, spec: dict[str, Any], ctx: Context) -> list[SourceRow]:
        data = ctx.read_upload(int(spec["upload"]), int(spec["offset"]), int(spec["length"]))
        layout = TextLayout(spec["format"], spec["encoding"], list(spec["header"]), 0, 0)
        header = tuple(spec["header"])
        ctx.state = _ChunkState(
            resource=self._resource(ctx.params.resource),
            columns={int(k): v for k, v in spec["columns"].items()},
        )
        return [
            SourceRow(row.number, row.values, row.problem, header)
            for row in read_piece(data, layout, int(spec["line"]))
        ]

    def stored_form(self, row: SourceRow) -> tuple[dict[str, str], int]:
        return row.as_record(), row.line

    def process(self, row: SourceRow, ctx: Context) -> tuple[Any, ...]:
        state: _ChunkState = ctx.state
        if row.problem is not None:
            raise RowRejected(reason=row.problem, reason_zh=row.problem)
        cells = row.cells
        values = {name: cells[i] if i < len(cells) else "" for i, name in state.columns.items()}
        checked = validate_row(state.resource.model, values)
        if checked.record is None:
            raise RowRejected(
                reason="; ".join(r.en for r in checked.reasons), reason_zh="；".join(r.zh for r in checked.reasons)
            )
        record = checked.record
        return tuple(getattr(record, f.name) for f in state.resource.fields)

    def write(self, records: list[tuple[Any, ...]], ctx: Context) -> dict[int, Any]:
        state: _ChunkState = ctx.state
        params: ImportParams = ctx.params
        resource = state.resource
        columns = [f.name for f in resource.fields]
        positions = [columns.index(k) for k in resource.key]
        keys = [tuple(r[p] for p in positions) for r in records]
        said, chosen = _first_of_each_key(keys, params.mode)
        table = resource_table(ctx.connection, resource)
        if params.dry_run:
            exist = existing_keys(ctx.connection, table, resource.key, [keys[i] for i in chosen])
            return said | _judged(chosen, keys, exist, params.mode)
        written = write_rows(
            ctx.connection,
            table,
            columns=columns,
            key=resource.key,
            rows=[records[i] for i in chosen],
            update=params.mode == "upsert",
        )
        exist = {keys[i] for i in chosen if keys[i] not in written.inserted and keys[i] not in written.updated}
        judged = _judged(chosen, keys, exist, params.mode)
        for i in chosen:
            if keys[i] in written.updated:
                judged[i] = UPDATED
        return said | judged

    def _resource(self, name: str) -> Resource:
        found = self._resources.get(name)
        if found is None:
            known = ", ".join(sorted(self._resources)) or "none"
            raise InvalidParams(reason=f"there is no resource {name!r} (resources: {known})")
        return found


@dataclass(frozen=True, slots=True)
class _ChunkState:
    resource: Resource
    columns: dict[int, str]


def _single_upload(params: ImportParams) -> int:
    if len(params.upload_ids) != 1:
        raise InvalidParams(reason=f"an import reads one uploaded file; {len(params.upload_ids)} were given")
    return params.upload_ids[0]


def _checked_mapping(header: list[str], resource: Resource, explicit: dict[str, str] | None) -> ColumnMapping:
    fields = [FieldNames(f.name, f.titles, f.required) for f in resource.fields]
    mapping = map_columns(header, fields, explicit)
    if mapping.missing:
        raise InvalidParams(reason=f"the file has no column for {', '.join(mapping.missing)}")
    return mapping


def _first_of_each_key(keys: list[tuple[Any, ...]], mode: str) -> tuple[dict[int, Any], list[int]]:
    """Rows repeating a key earlier in the chunk: under upsert the later row wins (the earlier is counted as
    written), otherwise the first stays and a repeat is refused (insert) or skipped (skip_existing)."""
    said: dict[int, Any] = {}
    seen: dict[tuple[Any, ...], int] = {}
    for i, key in enumerate(keys):
        if key not in seen:
            seen[key] = i
        elif mode == "upsert":
            said[seen[key]] = UPDATED
            seen[key] = i
        elif mode == "insert":
            said[i] = DuplicateRow(key=_shown(key))
        else:
            said[i] = Skip(f"the key {_shown(key)} appears earlier in the file")
    return said, sorted(seen.values())


def _judged(chosen: list[int], keys: list[tuple[Any, ...]], exist: set[tuple[Any, ...]], mode: str) -> dict[int, Any]:
    judged: dict[int, Any] = {}
    for i in chosen:
        if keys[i] not in exist:
            judged[i] = INSERTED
        elif mode == "upsert":
            judged[i] = UPDATED
        elif mode == "insert":
            judged[i] = DuplicateRow(key=_shown(keys[i]))
        else:
            judged[i] = Skip(f"the key {_shown(keys[i])} is in the table already")
    return judged


def _shown(key: tuple[Any, ...]) -> str:
    return ", ".join(str(v) for v in key)


def import_job_type(resources: Mapping[str, Resource], **overrides: Any) -> JobType:
    """The ``import`` job type over ``resources`` (the yard's, looked up when a job runs)."""
    options: dict[str, Any] = {"max_attempts": 1, **overrides}
    return define_job_type("import", Import(resources), title="Import a table", **options)
