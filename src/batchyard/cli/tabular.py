"""``batchyard import FILE --resource R`` and ``batchyard export R -o FILE``: the import and export job types
from a terminal, over HTTP, each waiting for its job with a live bar, then saying where the result is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from batchyard.cli.remote import JsonOption, TokenOption, UrlOption, _client, _watch, console
from batchyard.client import Client


def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV, TSV, JSONL or XLSX")],
    resource: Annotated[str, typer.Option(help="the resource (table) the rows go to")],
    *,
    mode: Annotated[str, typer.Option(help="insert, upsert or skip_existing")] = "insert",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate and count; write nothing")] = False,
    encoding: Annotated[str | None, typer.Option(help="the text file's encoding (found when not given)")] = None,
    sheet: Annotated[str | None, typer.Option(help="the workbook's sheet (the first when not given)")] = None,
    errors: Annotated[
        Path | None, typer.Option(help="where to save the error report (default: FILE.errors.csv)")
    ] = None,
    wait: Annotated[bool, typer.Option(help="follow the job until it ends")] = True,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import a file into a resource: upload, submit, follow it live, then save the error report if rows failed."""
    params: dict[str, Any] = {"resource": resource, "mode": mode, "dry_run": dry_run}
    params |= {k: v for k, v in {"encoding": encoding, "sheet": sheet}.items() if v is not None}
    with _client(url, token) as client:
        upload = client.upload(file, job_type="import")
        job = client.submit_files("import", [upload["id"]], params)
        if not wait:
            _say(job, as_json, f"job {job['id']} submitted")
            return
        job = _follow(client, job["id"], as_json)
        if not as_json:  # a failed job too may have written rows before it stopped
            console.print(_counted(client.tally(job["id"]), dry_run=dry_run))
        if job["failed"]:
            target = errors or file.with_name(file.name + ".errors.csv")
            client.download(f"/jobs/{job['id']}/errors.csv", target)
            if not as_json:
                console.print(f"{job['failed']} row(s) failed: the report, to fix and import again, is {target}")
    if as_json:
        typer.echo(json.dumps(job, ensure_ascii=False))
    elif job["error"]:
        console.print(f"[red]{job['error']}[/red]")
    if job["status"] == "failed":
        raise typer.Exit(1)


def _counted(tally: dict[str, Any], *, dry_run: bool) -> str:
    """The rows by what became of them — or, in a dry run, what would have."""
    words = tally["outputs"]
    counts = [
        (words.get("inserted", 0), "inserted"),
        (words.get("updated", 0), "updated"),
        (tally["skipped"], "skipped"),
        (tally["failed"], "rejected"),
    ]
    said = ", ".join(f"{n:,} {what}" for n, what in counts)
    return f"dry run, nothing written: {said} (what the import would do)" if dry_run else said


def export(
    resource: Annotated[str, typer.Argument(help="the resource (table) to export")],
    output: Annotated[Path, typer.Option("-o", "--output", dir_okay=False, help="the file to write")],
    *,
    format: Annotated[str, typer.Option(help="csv, xlsx or jsonl")] = "csv",
    columns: Annotated[str | None, typer.Option(help="fields to export, comma-separated (all when not given)")] = None,
    where: Annotated[
        list[str] | None, typer.Option("--filter", help='a term as JSON: {"field": "stock", "op": "gt", "value": 0}')
    ] = None,
    order_by: Annotated[str | None, typer.Option(help='a field, "-field" for descending')] = None,
    language: Annotated[str, typer.Option(help="the column titles' language: en or zh-CN")] = "en",
    bom: Annotated[bool, typer.Option("--bom", help="CSV: a UTF-8 BOM, for Excel")] = False,
    gzip: Annotated[bool, typer.Option("--gzip", help="compress the file")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a resource's rows to a file: submit, follow it live, then download the result to OUTPUT."""
    params: dict[str, Any] = {"resource": resource, "format": format, "language": language, "bom": bom, "gzip": gzip}
    if columns:
        params["columns"] = [c.strip() for c in columns.split(",") if c.strip()]
    if where:
        params["filter"] = [_term(text) for text in where]
    if order_by:
        params["order_by"] = order_by
    with _client(url, token) as client:
        job = client.submit("export", params=params)
        job = _follow(client, job["id"], as_json)
        if job["status"] != "succeeded":
            typer.echo(f"error: the export {job['status']}: {job['error'] or ''}", err=True)
            raise typer.Exit(1)
        [made] = [a for a in client.artifacts(job["id"]) if a["kind"] == "export"]
        size = client.download(f"/artifacts/{made['id']}", output)
    if as_json:
        typer.echo(json.dumps({**job, "output": str(output), "bytes": size}, ensure_ascii=False))
    else:
        console.print(f"{job['processed'] - 1:,} rows written to {output} ({size:,} bytes)")


def _term(text: str) -> dict[str, Any]:
    try:
        term = json.loads(text)
    except ValueError:
        raise typer.BadParameter(
            f'--filter takes JSON, as {{"field": "stock", "op": "gt", "value": 0}}: {text}'
        ) from None
    if not isinstance(term, dict):
        raise typer.BadParameter(f"--filter takes a JSON object: {text}")
    return term


def _follow(client: Client, job_id: int, as_json: bool) -> dict[str, Any]:
    if not as_json:
        _watch(client, job_id)
    else:
        for event in client.events(job_id):
            if event["kind"] == "finished":
                break
    return client.job(job_id)


def _say(job: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(job, ensure_ascii=False))
    else:
        console.print(text)
