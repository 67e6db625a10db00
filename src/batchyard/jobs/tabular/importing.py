"""The ``import`` job type: an uploaded table's rows validated by a resource's model and written to its table.

Its items are the file's rows, but its chunks store only byte ranges of the file (``segments``): a worker reads
its range again, validates each row (``process``, on the worker's own core, outside any transaction) and writes
the valid ones in the chunk's commit transaction (``write``), so each row is written exactly once however often
a worker dies. Rows that fail keep their line, their cells and every reason, for the error report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from itertools import islice, repeat
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from batchyard.core.context import Completed, Context, Skip
from batchyard.core.jobtype import JobType, define_job_type
from batchyard.core.planning import Segment
from batchyard.core.resources import Resource
from batchyard.core.sniff import TEXT, XLSX
from batchyard.errors import DuplicateRow, InvalidParams, RowRejected, ValueRefused
from batchyard.jobs.labels import zh
from batchyard.jobs.tabular.formats import detect_format
from batchyard.jobs.tabular.mapping import ColumnMapping, FieldNames, map_columns
from batchyard.jobs.tabular.reading import HEAD_BYTES, Row, problem_zh, shaped_row, sheet_records
from batchyard.jobs.tabular.segments import Piece, TextLayout, read_piece, scan
from batchyard.jobs.tabular.validation import CheckedChunk, Reason, RowValidator, quoted
from batchyard.store.sql.resource_reads import ResourceDatabases
from batchyard.store.sql.resource_rows import (
    existing_keys,
    keys_counted_before,
    resource_table,
    stored_column,
    stored_converters,
    write_rows,
)

Mode = Literal["insert", "upsert", "skip_existing"]
SPOOL = "sheet.csv"  # a workbook's rows, as the job's own file
SPOOL_PIECE = 1 << 20
PREVIEW_ROWS = 20  # the rows a preview shows with their verdicts
PREVIEW_COLUMNS = 1_000  # a wider file is refused by the preview rather than answered as megabytes of JSON
PREVIEW_CELL_CHARS = 500  # a cell's text, as far as a preview shows it
PREVIEW_SCAN_BYTES = 16 << 20  # how far a preview reads on to find the encoding after a head of plain ASCII
INSERTED, UPDATED = "inserted", "updated"


class ImportParams(BaseModel):
    """What to import and how: the resource, what to do with rows whose key exists, and how to read the file."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="Import a table",
        json_schema_extra=zh("导入表格", "把文件的行校验后写入表中。"),
    )

    resource: str = Field(
        min_length=1,
        title="Resource",
        description="The resource (table) the rows go to.",
        json_schema_extra=zh("资源", "行写入的资源（表）。"),
    )
    mode: Mode = Field(
        "insert",
        title="Mode",
        description="insert: an existing key is an error; upsert: it is updated; skip_existing: it is left as it "
        "is and the row counted as skipped.",
        json_schema_extra=zh(
            "模式", "insert：键已存在即为错误；upsert：更新已有行；skip_existing：保留已有行，计为跳过。"
        ),
    )
    dry_run: bool = Field(
        False,
        title="Dry run",
        description="Validate and count what would happen; write nothing.",
        json_schema_extra=zh("试运行", "只校验并统计将会发生什么，不写入任何数据。"),
    )
    encoding: str | None = Field(
        None,
        title="Encoding",
        description="The text file's encoding; found from its bytes when not given.",
        json_schema_extra=zh("编码", "文本文件的编码；不填则根据内容自动识别。"),
    )
    mapping: dict[str, str] | None = Field(
        None,
        title="Column mapping",
        description="File column -> field, where names do not match.",
        json_schema_extra=zh("列映射", "文件列 → 字段，名称不一致时填写。"),
    )
    sheet: str | None = Field(
        None,
        title="Sheet",
        description="The workbook's sheet; the first when not given.",
        json_schema_extra=zh("工作表", "工作簿中的工作表；不填则为第一个。"),
    )
    upload_ids: list[int] = Field(
        default_factory=list,
        title="File",
        description="The uploaded file (given at submit).",
        json_schema_extra=zh("文件", "上传的文件（提交时给出）。"),
    )


Record = tuple[tuple[Any, ...], tuple[Any, ...]]
"""A valid row as ``write`` takes it: its key as the model gave it (duplicates are judged by the values' own
equality: 1.5 and 1.50 are one key) and its values as the database's driver takes them."""


class SourceRow(NamedTuple):
    """A row of the file as a chunk loads it: its line, its cells in header order, why it cannot be used as it
    is (when it cannot), the file's header, and the row's verdict — its record for the table, or the reasons
    it is not valid — found with the chunk's other rows. (A tuple: a chunk makes thousands at once.)"""

    line: int
    cells: list[str]
    problem: str | None
    header: tuple[str, ...]
    record: Record | None
    reasons: tuple[Reason, ...] | Exception

    def __repr__(self) -> str:  # what a job shows as ``current``
        return f"line {self.line}"

    def as_record(self) -> dict[str, str]:
        """The cells by the file's own column names, as the error report gives them back (a name the header
        repeats, numbered from its second time; cells past the header as "column N")."""
        named: dict[str, str] = {}
        for position, value in enumerate(self.cells):
            title = self.header[position] if position < len(self.header) else f"column {position + 1}"
            numbered, n = title, 1
            while numbered in named:
                n += 1
                numbered = f"{title} ({n})"
            named[numbered] = value
        return named


_new_source_row = partial(tuple.__new__, SourceRow)  # from a tuple of its fields, without a Python call
_problem = itemgetter(2)  # a Row's problem: None, or words (never empty)


class Import:
    """导入 — import a CSV, TSV, JSONL or XLSX file into a resource."""

    Params = ImportParams

    def __init__(self, resources: Mapping[str, Resource], databases: ResourceDatabases) -> None:
        self._resources = resources  # the yard's, read when a job runs: declared after this type is made
        self._databases = databases

    # planning ---------------------------------------------------------------------------------------------------
    def source(self, params: ImportParams, ctx: Context) -> Iterator[Segment]:
        resource = self._resource(params.resource)
        _check_writable(resource)
        upload_id = _single_upload(params)
        with ctx.open_upload(upload_id) as head_stream:
            format = detect_format(head_stream.read(HEAD_BYTES))
        if format == "xlsx":
            yield from self._sheet_segments(params, resource, upload_id, ctx)
            return
        _check_no_sheet(params, format)
        with ctx.open_upload(upload_id) as stream:
            layout, pieces = scan(stream, format=format, encoding=params.encoding)
            mapping = _checked_mapping(layout.header, resource, params.mapping)
            yield from _segments({"upload": upload_id}, layout, layout.header, mapping, pieces)

    def _sheet_segments(
        self, params: ImportParams, resource: Resource, upload_id: int, ctx: Context
    ) -> Iterator[Segment]:
        """A workbook's sheet is read whole (its zip directory is at its end), once: its rows are spooled as a
        CSV of the job's own, each with its sheet row number in front, and that file is cut like any other."""
        _check_no_encoding(params)
        with ctx.open_upload(upload_id) as stream:
            records = sheet_records(stream, params.sheet)
            header = _sheet_header(records)
            mapping = _checked_mapping(header[1], resource, params.mapping)
            if not any(f.name == SPOOL for f in ctx.list_files()):  # a planner taking over keeps the first's
                ctx.save_file(SPOOL, _spooled(header, records), "text/csv", kind="spool")
        with ctx.open_file(SPOOL) as spool:
            layout, pieces = scan(spool, format="csv", encoding="utf-8")
            yield from _segments({"spool": SPOOL}, layout, header[1], mapping, pieces)

    # running ----------------------------------------------------------------------------------------------------
    def load(self, spec: dict[str, Any], ctx: Context) -> list[SourceRow] | Completed:
        offset, length, line = int(spec["offset"]), int(spec["length"]), int(spec["line"])
        header = tuple(spec["header"])
        resource = self._resource(ctx.params.resource)
        columns = {int(k): v for k, v in spec["columns"].items()}
        validator = RowValidator(resource.model, columns)
        ctx.state = _ChunkState(resource)
        records = _Records(resource, stored_converters(self._databases.state_dialect(), resource))
        if "spool" in spec:  # a sheet's rows, each with its sheet row number in front
            data = ctx.read_file(str(spec["spool"]), offset, length)
            spooled = read_piece(data, TextLayout("csv", "utf-8", ["", *header], 0, 0), line)
            rows = [Row(int(r.values[0]), r.values[1:], _sheet_problem(r, header)) for r in spooled]
        else:
            data = ctx.read_upload(int(spec["upload"]), offset, length)
            rows = read_piece(data, TextLayout(spec["format"], spec["encoding"], list(header), 0, 0), line)
        return _judged_rows(rows, header, validator, records)

    def stored_form(self, row: SourceRow) -> tuple[dict[str, str], int]:
        return row.as_record(), row.line

    def process(self, row: SourceRow, ctx: Context) -> Record:
        if row.record is not None:
            return row.record
        if row.problem is not None:
            raise RowRejected(reason=row.problem, reason_zh=problem_zh(row.problem))
        reasons = row.reasons
        if isinstance(reasons, Exception):  # the model's own code failed on this row
            raise reasons
        raise RowRejected(reason="; ".join(r.en for r in reasons), reason_zh="；".join(r.zh for r in reasons))

    def write(self, records: list[Record], ctx: Context) -> dict[int, Any]:
        state: _ChunkState = ctx.state
        params: ImportParams = ctx.params
        resource = state.resource
        keys = list(map(_key_of, records))
        said, chosen = _first_of_each_key(keys, params.mode)
        table = resource_table(ctx.connection, resource)
        if params.dry_run:  # keys in the table, and keys an earlier chunk of this file would have written
            exist = existing_keys(ctx.connection, table, resource.key, [keys[i] for i in chosen])
            new = [keys[i] for i in chosen if keys[i] not in exist]
            exist |= keys_counted_before(ctx.connection, ctx.job_id, new)
            return said | _judged(chosen, keys, exist, params.mode)
        every = len(chosen) == len(records)
        written = write_rows(
            ctx.connection,
            table,
            columns=state.columns,
            key=resource.key,
            rows=list(map(_stored_of, records)) if every else [records[i][1] for i in chosen],
            keys=keys if every else [keys[i] for i in chosen],
            update=params.mode == "upsert",
        )
        if not written.updated and len(written.inserted) == len(chosen):
            return said | dict.fromkeys(chosen, INSERTED)  # every row new: the usual chunk of an import
        exist = {keys[i] for i in chosen if keys[i] not in written.inserted and keys[i] not in written.updated}
        judged = _judged(chosen, keys, exist, params.mode)
        for i in chosen:
            if keys[i] in written.updated:
                judged[i] = UPDATED
        return said | judged

    # previewing -------------------------------------------------------------------------------------------------
    def preview(self, params: ImportParams, ctx: Context) -> dict[str, Any]:
        """What an import of this file would do, before it is submitted: the format and encoding found, each
        column and the field it feeds (or none), the fields no column feeds, and the first rows with their
        verdicts — so a user fixes the mapping or the file before a thousand rows fail. The file is read as the
        import reads it (the same refusals), but only its head: a fault further on shows when it runs."""
        resource = self._resource(params.resource)
        _check_writable(resource)
        upload_id = _single_upload(params)
        with ctx.open_upload(upload_id) as stream:
            head = stream.read(HEAD_BYTES)
        format = detect_format(head)
        if format == "xlsx":
            _check_no_encoding(params)
            with ctx.open_upload(upload_id) as stream:
                records = sheet_records(stream, params.sheet)
                header = _sheet_header(records)[1]
                rows = [shaped_row(n, cells, len(header)) for n, cells in islice(records, PREVIEW_ROWS)]
            encoding = None
        else:
            _check_no_sheet(params, format)
            with ctx.open_upload(upload_id) as stream:
                layout, pieces = scan(stream, format=format, encoding=params.encoding)
                first = next(pieces, None)
                if first is not None and params.encoding is None and head.isascii():
                    encoding = _encoding_further_on(first, pieces)
                else:
                    encoding = first.encoding if first is not None else layout.encoding
            header, rows = layout.header, []
            if first is not None:
                data = ctx.read_upload(upload_id, first.offset, first.length)
                part = TextLayout(format, first.encoding, header, 0, 0)
                rows = read_piece(data, part, first.line)[:PREVIEW_ROWS]
        if len(header) > PREVIEW_COLUMNS:
            raise InvalidParams(reason=f"the file has {len(header):,} columns; a preview shows {PREVIEW_COLUMNS:,}")
        mapping = map_columns(header, _field_names(resource), params.mapping)
        validator = RowValidator(resource.model, mapping.columns)
        return {
            "format": format,
            "encoding": encoding,
            "header": header,
            "columns": [{"column": title, "field": mapping.columns.get(i)} for i, title in enumerate(header)],
            "unmapped": mapping.unmapped,
            "missing": mapping.missing,
            "repeated": mapping.repeated,
            "ready": not mapping.missing and not mapping.repeated,
            "rows": [_previewed(row, validator) for row in rows],
        }

    def _resource(self, name: str) -> Resource:
        found = self._resources.get(name)
        if found is None:
            known = ", ".join(sorted(self._resources)) or "none"
            raise InvalidParams(reason=f"there is no resource {name!r} (resources: {known})")
        return found


def _judged_rows(
    rows: list[Row], header: tuple[str, ...], validator: RowValidator, records: _Records
) -> list[SourceRow] | Completed:
    """The chunk's rows with their verdicts, its well-shaped rows validated together; when every row is valid,
    their records as the chunk's outputs (the rows kept as its items)."""
    shaped = [row for row in rows if row.problem is None] if any(map(_problem, rows)) else rows
    checked = validator.check_chunk(list(map(_cells_of, shaped)))
    valid = records.valid(checked) if checked.valid else ([], {})
    if rows and len(checked.valid) == len(rows) and not valid[1]:  # the usual chunk: nothing left to ``process``
        lines, cells = map(_line_of, rows), map(_cells_of, rows)
        made = list(map(_new_source_row, zip(lines, cells, repeat(None), repeat(header), valid[0], repeat(()))))
        return Completed(valid[0], items=made)
    verdicts = iter(records.of(checked, *valid))
    unread = (None, ())
    return [_new_source_row((*row, header, *(unread if row.problem is not None else next(verdicts)))) for row in rows]


Judged = tuple[Record | None, tuple[Reason, ...] | Exception]
"""A row's record and no reasons, or None and why it cannot be written (its reasons, or what its values raised)."""


class _Records:
    """A chunk's valid rows as ``write`` takes them (``Record``), made a field at a time as they were checked:
    converting the values for the driver here, while the chunk loads, keeps it off the commit, which on SQLite
    holds the database's only write lock. A value its column's conversion refuses (a model may pass on what it
    was given) fails its own row, as the write would have."""

    def __init__(self, resource: Resource, converters: list[Callable[[Any], Any] | None]) -> None:
        self._names = [f.name for f in resource.fields]
        self._key = [self._names.index(k) for k in resource.key]
        self._converters = converters

    def valid(self, checked: CheckedChunk) -> tuple[list[Record], dict[int, Exception]]:
        """The records of the rows that passed the column check, in order, and by their place among those, the
        rows a conversion refused (their records are not to be written)."""
        fields = checked.fields
        refused: dict[int, Exception] = {}
        stored = [
            self._stored(name, convert, column, refused)
            for name, convert, column in zip(self._names, self._converters, fields, strict=True)
        ]
        keys = zip(*(fields[p] for p in self._key), strict=True)
        return list(zip(keys, zip(*stored, strict=True), strict=True)), refused

    def of(self, checked: CheckedChunk, valid: list[Record], refused: dict[int, Exception]) -> list[Judged]:
        """Each row's record and no reasons, or None and its reasons (``valid`` and ``refused`` as ``valid``
        gave them)."""
        found: list[Judged] = [(None, ())] * checked.size
        for place, (i, record) in enumerate(zip(checked.valid, valid, strict=True)):
            found[i] = (None, refused[place]) if place in refused else (record, ())
        for i, (values, reasons) in checked.others.items():
            found[i] = (None, reasons) if values is None else self._record(values)
        return found

    def _record(self, values: tuple[Any, ...]) -> Judged:
        refused: dict[int, Exception] = {}
        try:
            stored = tuple(v if c is None or v is None else c(v) for c, v in zip(self._converters, values, strict=True))
        except Exception:  # noqa: BLE001 - which value, and why: as for a column
            columns = zip(self._names, self._converters, values, strict=True)
            stored = tuple(self._stored(name, c, [v], refused)[0] for name, c, v in columns)
        if refused:
            return None, refused[0]
        return (tuple(values[p] for p in self._key), stored), ()

    @staticmethod
    def _stored(
        name: str, convert: Callable[[Any], Any] | None, column: list[Any], refused: dict[int, Exception]
    ) -> Sequence[Any]:
        """``stored_column``, or when it raises, the column converted value by value: a value that raises is
        noted in ``refused`` by its place (a row's first refusal is kept) and left as it was."""
        try:
            return stored_column(convert, column)
        except Exception:  # noqa: BLE001 - a converter may raise anything for a value it was not made for
            assert convert is not None
            converted = []
            for place, value in enumerate(column):
                try:
                    converted.append(None if value is None else convert(value))
                except Exception as error:  # noqa: BLE001 - as above: the row fails with it
                    reason = f"{name}: {quoted(value)} does not fit its column ({type(error).__name__}: {error})"
                    refused.setdefault(place, ValueRefused(reason=reason))
                    converted.append(value)
            return converted


class _ChunkState:
    """What a chunk's rows share: the resource and its table's columns."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.columns = [f.name for f in resource.fields]


_key_of, _stored_of = itemgetter(0), itemgetter(1)  # of a Record
_line_of, _cells_of = itemgetter(0), itemgetter(1)  # of a Row


def _encoding_further_on(first: Piece, pieces: Iterator[Piece]) -> str:
    """The encoding the import will find: a head of plain ASCII is read as UTF-8 until the file shows otherwise
    (GB18030, as Excel in China saves it), so the preview reads on — up to ``PREVIEW_SCAN_BYTES`` — while it may."""
    encoding, read = first.encoding, first.length
    try:
        for piece in pieces:
            if encoding != "utf-8" or read >= PREVIEW_SCAN_BYTES:
                break
            encoding, read = piece.encoding, read + piece.length
    except InvalidParams:  # a fault further on shows when the import runs; the head's preview stands
        pass
    return encoding


def _check_writable(resource: Resource) -> None:
    if resource.database_url is not None:
        raise InvalidParams(
            reason=f"the resource {resource.name!r} is in another database; imports write only to resources "
            "in batchyard's own database, where each row is written exactly once with its chunk"
        )


def _previewed(row: Row, validator: RowValidator) -> dict[str, Any]:
    """A row as a preview shows it: its line, its cells, and every reason it would fail, in both languages."""
    if row.problem is not None:
        reasons = [{"field": None, "en": row.problem, "zh": problem_zh(row.problem)}]
    else:
        [(_, found)] = validator.check_all([row.values])
        if isinstance(found, Exception):
            said = f"{type(found).__name__}: {found}"
            reasons = [{"field": None, "en": f"the check failed: {said}", "zh": f"校验出错：{said}"}]
        else:
            reasons = [{"field": r.field, "en": r.en, "zh": r.zh} for r in found]
    cells = [c if len(c) <= PREVIEW_CELL_CHARS else c[: PREVIEW_CELL_CHARS - 1] + "…" for c in row.values]
    return {"line": row.number, "cells": cells, "valid": not reasons, "reasons": reasons}


def _sheet_problem(row: Row, header: tuple[str, ...]) -> str | None:
    """A spooled row's problem, counting the sheet's cells, not the row number put in front of them."""
    if row.problem is None:
        return None
    return f"row has {len(row.values) - 1} cells; the header has {len(header)}"


def _segments(
    where: dict[str, Any], layout: TextLayout, header: list[str], mapping: ColumnMapping, pieces: Iterator[Piece]
) -> Iterator[Segment]:
    """The file's segments, once the whole file was read: a file that turns out to be unreadable at its end (a
    quote never closed, bytes of no encoding) fails its job before any of its rows is written."""
    common = {
        **where,
        "format": layout.format,
        "header": header,
        "columns": {str(k): v for k, v in mapping.columns.items()},
    }
    for piece in list(pieces):
        spec = {**common, "encoding": piece.encoding, "offset": piece.offset, "length": piece.length}
        yield Segment({**spec, "line": piece.line}, piece.rows)


def _spooled(header: tuple[int, list[str]], records: Iterator[tuple[int, list[str]]]) -> Iterator[bytes]:
    """The sheet as CSV in pieces of about 1 MiB: the header, then each row with its sheet row number first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["", *header[1]])
    for number, cells in records:
        writer.writerow([number, *cells])
        if buffer.tell() >= SPOOL_PIECE:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _single_upload(params: ImportParams) -> int:
    if len(params.upload_ids) != 1:
        raise InvalidParams(reason=f"an import reads one uploaded file; {len(params.upload_ids)} were given")
    return params.upload_ids[0]


def _check_no_encoding(params: ImportParams) -> None:
    if params.encoding is not None:
        raise InvalidParams(reason="an encoding applies to text files (csv, tsv, jsonl) only, not to a workbook")


def _sheet_header(records: Iterator[tuple[int, list[str]]]) -> tuple[int, list[str]]:
    header = next(records, None)
    if header is None:
        raise InvalidParams(reason="the sheet has no rows; its first row must be the header")
    return header


def _check_no_sheet(params: ImportParams, format: str) -> None:
    if params.sheet is not None:
        raise InvalidParams(reason=f"a sheet applies to workbooks (xlsx) only, not to {format}")


def _field_names(resource: Resource) -> list[FieldNames]:
    """The names a column may go by for each field: its own and its titles."""
    return [FieldNames(f.name, f.titles, f.required) for f in resource.fields]


def _checked_mapping(header: list[str], resource: Resource, explicit: dict[str, str] | None) -> ColumnMapping:
    mapping = map_columns(header, _field_names(resource), explicit)
    if mapping.missing:
        raise InvalidParams(reason=f"the file has no column for {', '.join(mapping.missing)}")
    if mapping.repeated:
        taken = ", ".join(repr(title) for title in mapping.repeated)
        raise InvalidParams(
            reason=f"more than one column feeds the same field ({taken}); remove or rename the extra ones, or "
            "give a mapping"
        )
    return mapping


def _first_of_each_key(keys: list[tuple[Any, ...]], mode: str) -> tuple[dict[int, Any], list[int]]:
    """Rows repeating a key earlier in the chunk: under upsert the later row wins (the earlier is counted as
    written), otherwise the first stays and a repeat is refused (insert) or skipped (skip_existing)."""
    if len(set(keys)) == len(keys):
        return {}, list(range(len(keys)))  # no key twice: the usual chunk
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
            said[i] = Skip(
                f"the key {_shown(key)} appears earlier in the file", reason_zh=f"键 {_shown(key)} 在文件中已出现过"
            )
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
            judged[i] = Skip(
                f"the key {_shown(keys[i])} is in the table already", reason_zh=f"键 {_shown(keys[i])} 已存在于表中"
            )
    return judged


def _shown(key: tuple[Any, ...]) -> str:
    return ", ".join(str(v) for v in key)


def import_job_type(resources: Mapping[str, Resource], databases: ResourceDatabases, **overrides: Any) -> JobType:
    """The ``import`` job type over ``resources`` (the yard's, looked up when a job runs).

    A bad row fails at once (on_error="continue"); max_attempts is how often a chunk may lose its worker. Text
    files (CSV, TSV, JSONL: their encoding and format are judged later, from their bytes) and workbooks are
    accepted."""
    options = {"accepts": (TEXT.content_type, XLSX.content_type), **overrides}
    return define_job_type("import", Import(resources, databases), title="Import a table", **options)
