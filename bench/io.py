"""Imports and exports at scale, each beside a reference measured in the same run, on SQLite and PostgreSQL.

One generated CSV of --rows product rows (8 columns, Chinese text, a unique ``sku``):

- import: batchyard's ``import`` job (every row validated by the model, keys checked against the table and the
  file, 2 worker processes), beside the raw limit of each database — ``csv.reader`` and one ``executemany`` in
  one transaction into the same table with its unique key (SQLite), ``COPY FROM STDIN`` of the file
  (PostgreSQL) — and beside ``pandas.read_csv`` + ``to_sql`` through SQLAlchemy and by pandas' fastest path
  (a plain sqlite3 connection; ``COPY`` on PostgreSQL), both validating nothing;
- export: all rows to CSV beside a cursor and ``csv.writer`` (2 worker processes, as the import, then 1);
  --xlsx-rows rows to XLSX beside XlsxWriter in constant-memory mode;
- memory: the workers' peak RSS importing --rows and --memory-rows rows (SQLite).

Run: ``.venv/bin/python bench/io.py`` (``--rows 200000`` for a quick look).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import os
import random
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PG = os.environ.get("BATCHYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_NAMES = ("连衣裙", "衬衫", "牛仔裤", "外套", "针织衫", "半身裙", "T恤", "风衣")
_COLOURS = ("红色", "黑色", "白色", "藏青", "米色")
HEADER = ["sku", "name", "category", "price", "cost", "stock", "weight", "launched"]


REST_SECONDS = [20.0]  # set by --rest


def settled() -> float:
    """The clock, once what earlier runs left to write is on disk and the machine has rested: this one slows
    down under sustained load (an import run right after 30 s of one busy core took 6.2 s, after 20 s of rest
    4.7 s), so each measurement starts from rest, the reference's as ours."""
    os.sync()
    time.sleep(REST_SECONDS[0])
    return time.perf_counter()


def generate(path: Path, rows: int) -> int:
    rng = random.Random(7)
    start = datetime.date(2020, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            price = rng.randrange(100, 100_000)
            writer.writerow(
                [
                    f"SKU{i:09d}",
                    f"{rng.choice(_COLOURS)}{rng.choice(_NAMES)} 第{i}号",
                    rng.choice(_NAMES),
                    f"{price / 100:.2f}",
                    f"{price * 0.6 / 100:.2f}",
                    rng.randrange(1000),
                    round(rng.random() * 5, 3),
                    (start + datetime.timedelta(days=rng.randrange(2000))).isoformat(),
                ]
            )
    return path.stat().st_size


class Workers:
    def __init__(self, url: str, data_dir: Path, count: int = 2) -> None:
        env = dict(os.environ, BATCHYARD_DATABASE_URL=url, BATCHYARD_DATA_DIR=str(data_dir), PYTHONPATH=str(HERE))
        command = [sys.executable, "-m", "batchyard", "worker", "--app", "io_app:yard"]
        self.procs = [
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(count)
        ]

    def peak_rss_mib(self) -> float:
        peaks = []
        for proc in self.procs:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return max(peaks)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=60)


@contextmanager
def yard_on(url: str, data_dir: Path) -> Iterator[object]:
    sys.path.insert(0, str(HERE))
    from batchyard import Yard
    from io_app import Item

    yard = Yard(url, data_dir=data_dir, upload_max_file_mb=10_000)  # the benchmark's files are large
    yard.resource("items", Item, key=["sku"])
    try:
        yard.store.ensure_resource(yard.resources["items"])
        yield yard
    finally:
        yard.close()


def batchyard_import(url: str, data_dir: Path, path: Path) -> tuple[float, float, int]:
    """Seconds from submit to finished (the upload is not timed), the workers' peak RSS, rows written."""
    with yard_on(url, data_dir) as yard:
        upload = yard.upload(path)  # type: ignore[attr-defined]
        workers = Workers(url, data_dir)
        try:
            time.sleep(3)  # the workers warm (imports done) before the clock starts
            began = settled()
            job = yard.submit("import", params={"resource": "items"}, upload_ids=[upload.id])  # type: ignore[attr-defined]
            while not yard.store.job_status(job.id).is_finished:  # type: ignore[attr-defined]
                time.sleep(0.05)
            seconds = time.perf_counter() - began
            done = yard.get(job.id)  # type: ignore[attr-defined]
            assert done.status == "succeeded", (done.status, done.error)
            return seconds, workers.peak_rss_mib(), done.succeeded
        finally:
            workers.stop()


def batchyard_export(url: str, data_dir: Path, fmt: str, limit: int | None, workers_count: int = 2) -> float:
    with yard_on(url, data_dir) as yard:
        workers = Workers(url, data_dir, count=workers_count)
        try:
            time.sleep(3)
            params: dict[str, object] = {"resource": "items", "format": fmt}
            if limit is not None:
                params["filter"] = [{"field": "sku", "op": "lt", "value": f"SKU{limit:09d}"}]
            began = settled()
            job = yard.submit("export", params=params)  # type: ignore[attr-defined]
            while not yard.store.job_status(job.id).is_finished:  # type: ignore[attr-defined]
                time.sleep(0.05)
            seconds = time.perf_counter() - began
            assert yard.get(job.id).status == "succeeded", yard.get(job.id).error  # type: ignore[attr-defined]
            return seconds
        finally:
            workers.stop()


def _create_keyed_table(conn: sqlite3.Connection) -> None:
    """The raw limit's table: the product's columns and its unique key."""
    conn.execute(
        "CREATE TABLE items (sku VARCHAR(32), name VARCHAR(200), category VARCHAR(50), price TEXT, cost TEXT, "
        "stock BIGINT, weight FLOAT, launched DATE, UNIQUE (sku))"
    )


def raw_sqlite_import(path: Path, db: Path) -> float:
    conn = sqlite3.connect(db)
    _create_keyed_table(conn)
    began = settled()
    with path.open(newline="", encoding="utf-8") as source:
        rows = csv.reader(source)
        next(rows)
        with conn:
            conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    seconds = time.perf_counter() - began
    conn.close()
    return seconds


def raw_pg_import(path: Path, url: str) -> float:
    import psycopg

    with psycopg.connect(url.split("?", maxsplit=1)[0], autocommit=False) as conn:
        schema = _schema(url)
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(
            "CREATE TABLE raw_items (sku VARCHAR(32) UNIQUE, name VARCHAR(200), category VARCHAR(50),"
            " price NUMERIC(38,2), cost NUMERIC(38,2), stock BIGINT, weight FLOAT, launched DATE)"
        )
        conn.commit()
        began = settled()
        with conn.cursor().copy("COPY raw_items FROM STDIN (FORMAT csv, HEADER true)") as copy, path.open("rb") as f:
            while block := f.read(1 << 20):
                copy.write(block)
        conn.commit()
        return time.perf_counter() - began


def pandas_import(path: Path, url: str) -> float:
    import pandas
    from sqlalchemy import create_engine

    engine = create_engine(url)
    began = settled()
    frame = pandas.read_csv(path)
    frame.to_sql("pandas_items", engine, index=False, chunksize=50_000)  # executemany, its default path
    seconds = time.perf_counter() - began
    engine.dispose()
    return seconds


def pandas_fastest_import(path: Path, url: str) -> float:
    """pandas' fastest way in: ``to_sql`` on a plain sqlite3 connection (its executemany fallback), and on
    PostgreSQL the ``COPY`` insertion method its documentation gives."""
    import pandas

    frame_seconds = settled()
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        frame = pandas.read_csv(path)
        frame.to_sql("pandas_fast_items", conn, index=False)
        conn.close()
        return time.perf_counter() - frame_seconds
    from sqlalchemy import create_engine

    engine = create_engine(url)
    frame = pandas.read_csv(path)
    frame.to_sql("pandas_fast_items", engine, index=False, method=_copy_rows)
    seconds = time.perf_counter() - frame_seconds
    engine.dispose()
    return seconds


def pandas_keyed_import(path: Path, db: Path) -> float:
    """pandas' fastest path on SQLite into the raw limit's table, with its unique key (its own table has none)."""
    import pandas

    conn = sqlite3.connect(db)
    _create_keyed_table(conn)
    began = settled()
    frame = pandas.read_csv(path)
    frame.to_sql("items", conn, if_exists="append", index=False)
    seconds = time.perf_counter() - began
    conn.close()
    return seconds


def _copy_rows(table: Any, conn: Any, keys: list[str], rows: Iterable[Any]) -> None:
    """pandas' documented ``method=`` for PostgreSQL: the rows as CSV through COPY."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    buffer.seek(0)
    columns = ", ".join(f'"{k}"' for k in keys)
    with (
        conn.connection.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN (FORMAT csv)") as copy,
    ):
        copy.write(buffer.getvalue())


def raw_csv_export(url: str, target: Path) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    began = settled()
    with engine.connect() as conn, target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        result = conn.execution_options(yield_per=10_000).execute(
            text(f"SELECT {', '.join(HEADER)} FROM items ORDER BY sku")
        )
        for part in result.partitions():
            writer.writerows(part)
    seconds = time.perf_counter() - began
    engine.dispose()
    return seconds


def raw_xlsx_export(url: str, target: Path, limit: int) -> float:
    import xlsxwriter
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    began = settled()
    workbook = xlsxwriter.Workbook(str(target), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    with engine.connect() as conn:
        query = text(f"SELECT {', '.join(HEADER)} FROM items WHERE sku < :last ORDER BY sku")
        for number, row in enumerate(
            conn.execution_options(yield_per=10_000).execute(query, {"last": f"SKU{limit:09d}"}), start=1
        ):
            sheet.write_row(number, 0, [str(v) if not isinstance(v, int | float) else v for v in row])
    workbook.close()
    seconds = time.perf_counter() - began
    engine.dispose()
    return seconds


def _schema(url: str) -> str:
    return url.split("search_path%3D")[1]


@contextmanager
def pg_schema() -> Iterator[str]:
    import psycopg

    schema = f"bench_io_{secrets.token_hex(4)}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def quiet_server(url: str) -> None:
    """The reference tables dropped and their pages written out: otherwise autovacuum (three million fresh rows
    to analyse) and the checkpointer work through the next measurement on the same two cores."""
    import psycopg

    with psycopg.connect(url.split("?", maxsplit=1)[0], autocommit=True) as conn:
        schema = _schema(url)
        conn.execute(f"DROP TABLE IF EXISTS {schema}.raw_items, {schema}.pandas_items, {schema}.pandas_fast_items")
        conn.execute("CHECKPOINT")


def report(what: str, rows: int, seconds: float, reference: float | None = None) -> None:
    ratio = f"  {reference / seconds:.2f}× the reference" if reference else ""
    print(f"  {what:<48} {seconds:7.2f} s  {rows / seconds:>10,.0f} rows/s{ratio}", flush=True)


def run_database(
    name: str, url: str, work: Path, path: Path, *, rows: int, xlsx_rows: int, exports: bool = True
) -> None:
    print(f"{name}:", flush=True)
    if name == "SQLite":
        raw = raw_sqlite_import(path, work / "raw.db")
        report("raw: csv.reader + executemany, 1 transaction", rows, raw)
        pandas_seconds = pandas_import(path, f"sqlite:///{work / 'pandas.db'}")
    else:
        raw = raw_pg_import(path, url)
        report("raw: COPY FROM STDIN of the file", rows, raw)
        pandas_seconds = pandas_import(path, url)
    report("pandas.read_csv + to_sql (no validation)", rows, pandas_seconds, raw)
    fastest = f"sqlite:///{work / 'pandas-fast.db'}" if name == "SQLite" else url
    report("pandas, its fastest path (no validation)", rows, pandas_fastest_import(path, fastest), raw)
    if name == "SQLite":
        keyed = pandas_keyed_import(path, work / "pandas-keyed.db")
        report("pandas, its fastest path, into a keyed table", rows, keyed, raw)
    else:
        quiet_server(url)
    seconds, rss, written = batchyard_import(url, work / f"data-{name}", path)
    assert written == rows
    report("batchyard import (validated, 2 workers)", rows, seconds, raw)
    print(f"  {'':<48} workers' peak RSS {rss:.0f} MiB", flush=True)
    if not exports:
        return
    raw_export = raw_csv_export(url, work / "raw.csv")
    report("raw: cursor + csv.writer", rows, raw_export)
    data = work / f"data-{name}"
    report("batchyard export csv (2 workers)", rows, batchyard_export(url, data, "csv", None), raw_export)
    report("batchyard export csv (1 worker)", rows, batchyard_export(url, data, "csv", None, 1), raw_export)
    raw_xlsx = raw_xlsx_export(url, work / "raw.xlsx", xlsx_rows)
    report(f"raw: XlsxWriter constant memory ({xlsx_rows:,} rows)", xlsx_rows, raw_xlsx)
    report("batchyard export xlsx (2 workers)", xlsx_rows, batchyard_export(url, data, "xlsx", xlsx_rows), raw_xlsx)


def memory(work: Path, sizes: list[int]) -> None:
    print("memory (SQLite, 2 workers):", flush=True)
    for size in sizes:
        path = work / f"m{size}.csv"
        generate(path, size)
        seconds, rss, _ = batchyard_import(f"sqlite:///{work / f'm{size}.db'}", work / f"m{size}", path)
        print(f"  {size:>10,} rows: {size / seconds:>9,.0f} rows/s, workers' peak RSS {rss:.0f} MiB", flush=True)
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=200_000)
    parser.add_argument("--memory-rows", type=int, default=5_000_000, help="0: no memory comparison")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--rest", type=float, default=20.0, help="seconds of rest before each measurement")
    parser.add_argument("--memory-only", action="store_true", help="only the peak RSS at --rows and --memory-rows")
    parser.add_argument("--imports-only", action="store_true", help="no exports, no memory comparison")
    args = parser.parse_args()
    REST_SECONDS[0] = args.rest
    with tempfile.TemporaryDirectory(prefix="bench-io-") as scratch:
        work = Path(scratch)
        if args.memory_only:
            memory(work, [args.rows, args.memory_rows])
            return
        path = work / "items.csv"
        size = generate(path, args.rows)
        print(f"{args.rows:,} rows, {size / 1e6:.0f} MB of CSV", flush=True)
        sizes = {"rows": args.rows, "xlsx_rows": args.xlsx_rows}
        if not args.no_sqlite:
            url = f"sqlite:///{work / 'batchyard.db'}"
            run_database("SQLite", url, work, path, **sizes, exports=not args.imports_only)
        if not args.no_postgres:
            with pg_schema() as url:
                run_database("PostgreSQL", url, work, path, **sizes, exports=not args.imports_only)
        if args.memory_rows and not args.imports_only:
            memory(work, [args.rows, args.memory_rows])


if __name__ == "__main__":
    main()
