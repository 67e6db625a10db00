"""Client commands over HTTP: ``batchyard login`` and ``batchyard jobs ...``, each with ``--json`` for scripts.

The server and token come from ``--url``/``--token``, else ``BATCHYARD_URL``/``BATCHYARD_TOKEN``, else what
``batchyard login`` saved (a file only its owner can read).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from batchyard.client import Client, ClientError

DEFAULT_URL = "http://127.0.0.1:8000"
UrlOption = Annotated[str | None, typer.Option("--url", envvar="BATCHYARD_URL", help="the service's address")]
TokenOption = Annotated[str | None, typer.Option("--token", envvar="BATCHYARD_TOKEN", help="an API token")]
JsonOption = Annotated[bool, typer.Option("--json", help="print the API's JSON, for scripts")]
JobArgument = Annotated[int, typer.Argument(min=1, help="the job's id")]

jobs = typer.Typer(help="Jobs on a batchyard service, over HTTP.", no_args_is_help=True)
console = Console()


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "batchyard" / "credentials.json"


def _saved() -> dict[str, str]:
    try:
        saved: dict[str, str] = json.loads(credentials_path().read_text())
    except (OSError, ValueError):
        return {}
    return saved


@contextmanager
def _client(url: str | None, token: str | None) -> Iterator[Client]:
    saved = _saved()
    with Client(url or saved.get("url") or DEFAULT_URL, token or saved.get("token"), language=_lang()) as client:
        try:
            yield client
        except ClientError as exc:
            typer.echo(f"error: {exc.message} ({exc.code})", err=True)
            raise typer.Exit(1) from None


def _lang() -> str | None:
    locale = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "zh-CN" if locale.lower().startswith("zh") else None


def login(
    username: Annotated[str, typer.Option(prompt=True, help="your user name")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="your password")],
    url: UrlOption = None,
) -> None:
    """Sign in and save the token (readable by you alone) for the other client commands."""
    address = url or _saved().get("url") or DEFAULT_URL
    with _client(address, None) as client:
        signed_in = client.sign_in(username, password)
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps({"url": address, "token": signed_in["token"]}))
    console.print(f"signed in as [bold]{username}[/bold] until {signed_in['expires_at']}; token saved in {path}")


@jobs.command("list")
def list_jobs(
    *,
    status: Annotated[str | None, typer.Option(help="pending, running, succeeded, ...")] = None,
    group: Annotated[str | None, typer.Option(help="active, finished or failed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Your jobs, newest first."""
    with _client(url, token) as client:
        page = client.jobs(status=status, group=group, limit=limit)
    if as_json:
        typer.echo(json.dumps(page, ensure_ascii=False))
        return
    table = Table("id", "type", "owner", "status", "progress", "succeeded", "failed", "created")
    for job in page["jobs"]:
        table.add_row(
            str(job["id"]),
            job["type"],
            job["owner"],
            job["status"],
            f"{job['progress']:.0f}%",
            str(job["succeeded"]),
            str(job["failed"]),
            job["created_at"][:19],
        )
    console.print(table)


@jobs.command("show")
def show(job_id: JobArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """One job: its counters, rounds, quota and its failures grouped by cause."""
    with _client(url, token) as client:
        job = client.job(job_id)
        failures = client.failures(job_id) if job["failed"] else {"causes": []}
    if as_json:
        typer.echo(json.dumps({**job, "failures": failures["causes"]}, ensure_ascii=False))
        return
    console.print(f"[bold]job {job['id']}[/bold] {job['type']} by {job['owner']}: [bold]{job['status']}[/bold]")
    console.print(
        f"{job['processed']}/{job['total']} processed ({job['progress']:.0f}%): {job['succeeded']} succeeded, "
        f"{job['failed']} failed, {job['skipped']} skipped; round {job['round']}; "
        f"quota charged {job['quota']['charged']}, refunded {job['quota']['refunded']}"
    )
    for cause in failures["causes"]:
        console.print(f"  {cause['count']} × {cause['cause']}  (e.g. item {cause['sample']['index']})")
    if job["error"]:
        console.print(f"[red]{job['error']}[/red]")


@jobs.command("watch")
def watch(job_id: JobArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Follow a job live until it ends: a bar, the ETA, its counts and the item in hand."""
    with _client(url, token) as client:
        if as_json:
            for event in client.events(job_id):
                typer.echo(json.dumps(event, ensure_ascii=False))
                if event["kind"] == "finished":
                    return
            return
        _watch(client, job_id)


def _watch(client: Client, job_id: int) -> None:
    job = client.job(job_id)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    with Progress(*columns, TimeRemainingColumn(), TextColumn("{task.fields[counts]}"), console=console) as bar:
        task = bar.add_task(f"job {job_id}", total=max(job["total"], 1), counts="")
        update = _updater(bar, task)
        update(job)
        if job["finished_at"] is None:
            for event in client.events(job_id):
                job = client.job(job_id)
                update(job)
                if event["kind"] == "finished":
                    break
    console.print(f"job {job_id} {job['status']}: {job['succeeded']} succeeded, {job['failed']} failed")


def _updater(bar: Progress, task: Any) -> Callable[[dict[str, Any]], None]:
    def update(job: dict[str, Any]) -> None:
        counts = f"✓ {job['succeeded']} ✗ {job['failed']}" + (f"  {job['current']}" if job["current"] else "")
        bar.update(task, total=max(job["total"], 1), completed=job["processed"], counts=counts)

    return update


def _action(name: str, action: str, done: str) -> None:
    def command(
        job_id: JobArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False
    ) -> None:
        with _client(url, token) as client:
            job = client.act(job_id, action)
        if as_json:
            typer.echo(json.dumps(job, ensure_ascii=False))
        else:
            moved = job["quota"]
            console.print(
                f"job {job_id} {done}: now {job['status']} (quota charged {moved['charged']}, "
                f"refunded {moved['refunded']})"
            )

    command.__doc__ = f"{done.capitalize()} a job."
    jobs.command(name)(command)


_action("cancel", "cancel", "cancelled")
_action("pause", "pause", "paused")
_action("resume", "resume", "resumed")
_action("retry", "retry-failed", "retried")
