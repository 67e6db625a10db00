"""A migration's report — per table: rows read, written, rejected and skipped, duration, rows per second, and the
verification with the exact keys that differ — as JSON, as an HTML page (every value escaped), and its rejected
rows as CSV (text a spreadsheet would run as a formula neutralised)."""

from __future__ import annotations

import csv
import datetime
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from batchyard.core.cells import neutralise_formula

SAMPLE_REJECTS = 20
SHOWN_KEYS = 1_000  # mismatching keys a range keeps and shows; the count is always whole


def build_report(
    params: Mapping[str, Any],
    ranges: Sequence[Mapping[str, Any]],
    rejects: Sequence[Mapping[str, Any]],
    *,
    job_id: int,
    planned: int | None,
    status: str | None = None,
) -> dict[str, Any]:
    """The report of a job from its committed range rows (``planned``: how many ranges it has, when known)."""
    sizes = [int(r["read"]) for r in ranges]
    seconds = _duration(ranges)
    read = sum(sizes)
    table = {
        "source": params.get("source"),
        "resource": params.get("resource"),
        "key": params.get("key"),
        "mode": params.get("mode"),
        "ranges": planned,
        "ranges_done": len(ranges),
        "read": read,
        "written": sum(int(r["written"]) for r in ranges),
        "rejected": sum(int(r["rejected"]) for r in ranges),
        "skipped": sum(int(r["skipped"]) for r in ranges),
        "duration_seconds": round(seconds, 3),
        "rows_per_second": round(read / seconds, 1) if seconds > 0 else None,
        "largest_range": max(sizes, default=0),
        "mean_range": round(read / len(sizes), 1) if sizes else 0,
        "verify": _verification(params, ranges, planned),
        "range_details": [_range(r) for r in ranges],
    }
    return {
        "job_id": job_id,
        "status": status,
        "dry_run": bool(params.get("dry_run")),
        "tables": [table],
        "rejects": {
            "count": table["rejected"],
            "max_rejects": params.get("max_rejects"),
            "sample": [_reject(r) for r in rejects[:SAMPLE_REJECTS]],
        },
    }


def _verification(
    params: Mapping[str, Any], ranges: Sequence[Mapping[str, Any]], planned: int | None
) -> dict[str, Any]:
    if not params.get("verify", True) or params.get("dry_run"):
        return {"status": "off", "ranges_verified": 0, "mismatched_rows": 0, "mismatches": []}
    checked = [r for r in ranges if r["verified"] is not None]
    bad = [r for r in checked if not r["verified"]]
    if bad:
        status = "failed"
    elif planned is not None and len(checked) >= planned:
        status = "passed"
    else:
        status = "pending"
    return {
        "status": status,
        "ranges_verified": len(checked),
        "mismatched_rows": sum(int(r["mismatches"]) for r in bad),
        "mismatches": [
            {"range": r["range"], "lo": r["lo"], "hi": r["hi"], "rows": r["mismatches"], "keys": r["mismatched_keys"]}
            for r in bad
        ],
    }


def _range(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "range": r["range"],
        "lo": r["lo"],
        "hi": r["hi"],
        "read": r["read"],
        "written": r["written"],
        "rejected": r["rejected"],
        "skipped": r["skipped"],
        "source": {"count": r["source_count"], "checksum": r["source_sum"]},
        "target": {"count": r["target_count"], "checksum": r["target_sum"]},
        "verified": r["verified"],
    }


def _duration(ranges: Sequence[Mapping[str, Any]]) -> float:
    if not ranges:
        return 0.0
    start = min(_aware(r["started_at"]) for r in ranges)
    end = max(_aware(r["finished_at"]) for r in ranges)
    seconds: float = (end - start).total_seconds()
    return max(seconds, 0.0)


def _aware(instant: datetime.datetime) -> datetime.datetime:
    """An instant as SQLite gives it back (without its zone: UTC) or as PostgreSQL does."""
    return instant.replace(tzinfo=datetime.UTC) if instant.tzinfo is None else instant


def _reject(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"range": r["range"], "key": r["key"], "reason": r["reason"], "row": r["row"]}


# -- files --------------------------------------------------------------------------------------------------------


def report_json(report: Mapping[str, Any]) -> bytes:
    return orjson.dumps(report, default=str, option=orjson.OPT_INDENT_2)


def rejects_csv(rejects: Iterable[Mapping[str, Any]]) -> bytes:
    """Each rejected row: its range, its key, why, and the row as JSON — every cell neutralised, so a value such
    as ``=HYPERLINK(…)`` from the old system is shown, never run."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["range", "key", "reason", "row"])
    for r in rejects:
        row_text = orjson.dumps(r["row"], default=str).decode()
        writer.writerow([r["range"], *(neutralise_formula(str(v)) for v in (r["key"], r["reason"], row_text))])
    return ("\ufeff" + out.getvalue()).encode()  # a BOM: Excel reads the Chinese in the rows correctly


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}"
    "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}.failed{color:#b00}.passed{color:#070}"
)


def report_html(report: Mapping[str, Any]) -> bytes:
    """The report as a page of its own; every value from the job (a query, a key, a reason) is escaped."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Migration report — job {_e(report['job_id'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Migration report — job {_e(report['job_id'])}</h1><p>Status: {_e(report.get('status'))}</p>",
    ]
    for table in report["tables"]:
        parts.append(_table_html(table))
    parts.append(_rejects_html(report["rejects"]))
    parts.append("</body></html>")
    return "".join(parts).encode()


def _table_html(table: Mapping[str, Any]) -> str:
    verify = table["verify"]
    shown = ("source", "resource", "key", "mode", "ranges", "read", "written", "rejected", "skipped")
    rows = "".join(f"<tr><th>{_e(name)}</th><td>{_e(table[name])}</td></tr>" for name in shown)
    rows += f"<tr><th>duration</th><td>{_e(table['duration_seconds'])} s</td></tr>"
    rows += f"<tr><th>rows/s</th><td>{_e(table['rows_per_second'])}</td></tr>"
    status = verify["status"]
    rows += f"<tr><th>verification</th><td class='{_e(status)}'>{_e(status)}</td></tr>"
    mismatches = "".join(
        f"<tr><td>{_e(m['range'])}</td><td>{_e(m['rows'])}</td><td>{_e(', '.join(map(str, m['keys'])))}</td></tr>"
        for m in verify["mismatches"]
    )
    found = (
        f"<h3>Rows that differ</h3><table><tr><th>range</th><th>rows</th><th>keys</th></tr>{mismatches}</table>"
        if mismatches
        else ""
    )
    return f"<h2>{_e(table['source'])} → {_e(table['resource'])}</h2><table>{rows}</table>{found}"


def _rejects_html(rejects: Mapping[str, Any]) -> str:
    sample = "".join(f"<tr><td>{_e(r['key'])}</td><td>{_e(r['reason'])}</td></tr>" for r in rejects["sample"])
    head = f"<h2>Rejected rows: {_e(rejects['count'])} (limit {_e(rejects['max_rejects'])})</h2>"
    return head + (f"<table><tr><th>key</th><th>reason</th></tr>{sample}</table>" if sample else "")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)
