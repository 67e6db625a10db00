"""Operations at scale, each beside references measured in the same run.

- migration: --rows legacy users (the demo's legacy table: Chinese names, text dates, Y/N flags, a tail of huge
  ids) from a SQLite file into PostgreSQL — batchyard's ``migrate`` (every row mapped, validated by the model,
  upserted, each range verified by count and checksum on both sides; 2 worker processes) beside pgloader (the
  Debian package: its own casts, no validation, no verification) and beside a plain copy (``sqlite3`` rows
  streamed into ``COPY FROM STDIN`` of a table of the same columns: the floor of moving the bytes);
- bulk update: --rows products, every price raised 5% (``round(price * 1.05, 2)``) by batchyard's
  ``bulk_update`` with ``apply: atomic`` (keys frozen, new values staged with their before-images, published in
  one transaction; 2 worker processes) beside one SQL ``UPDATE`` of a copy of the same table, on PostgreSQL and
  on SQLite.

Run: ``.venv/bin/python bench/ops.py`` (``--rows 100000`` for a quick look).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PG = os.environ.get("BATCHYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REST_SECONDS = [10.0]


def settled() -> float:
    """The clock, once earlier runs' writes are on disk and the machine has rested (it slows under load)."""
    os.sync()
    time.sleep(REST_SECONDS[0])
    return time.perf_counter()


class Workers:
    def __init__(self, url: str, data_dir: Path, count: int = 2) -> None:
        env = dict(os.environ, BATCHYARD_DATABASE_URL=url, BATCHYARD_DATA_DIR=str(data_dir), PYTHONPATH=str(HERE))
        command = [sys.executable, "-m", "batchyard", "worker", "--app", "ops_app:yard"]
        self.procs = [
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(count)
        ]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=60)


@contextmanager
def ops_yard(url: str, data_dir: Path) -> Iterator[Any]:
    sys.path.insert(0, str(HERE))
    from batchyard import Yard
    from ops_app import yard as app

    yard = Yard(url, data_dir=data_dir)
    for name, resource in app.resources.items():
        yard.resources[name] = resource
    try:
        yield yard
    finally:
        yard.close()


def timed_job(yard: Any, url: str, data_dir: Path, type_name: str, params: dict[str, Any]) -> tuple[float, Any]:
    workers = Workers(url, data_dir)
    try:
        time.sleep(3)  # the workers warm (imports done) before the clock starts
        began = settled()
        job = yard.submit(type_name, params=params)
        while not yard.store.job_status(job.id).is_finished:
            time.sleep(0.05)
        seconds = time.perf_counter() - began
        return seconds, yard.get(job.id)
    finally:
        workers.stop()


@contextmanager
def pg_schema() -> Iterator[str]:
    import psycopg

    schema = f"bench_ops_{secrets.token_hex(4)}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _schema(url: str) -> str:
    return url.split("search_path%3D")[1]


# migration ------------------------------------------------------------------------------------------------------
def batchyard_migration(source: Path, url: str, data_dir: Path) -> tuple[float, Any]:
    from batchyard.demo.legacy import migration_params

    with ops_yard(url, data_dir) as yard:
        seconds, job = timed_job(yard, url, data_dir, "migrate", migration_params(source))
        assert job.status == "succeeded", (job.status, job.error)
        return seconds, yard.service.registry.get("migrate").report(job)  # type: ignore[attr-defined]


def pgloader_migration(source: Path) -> float | None:
    """pgloader into a database of its own (it makes the table as it sees fit); None when it is not installed."""
    binary = shutil.which("pgloader")
    if binary is None:
        return None
    import psycopg

    database = f"bench_pgloader_{secrets.token_hex(4)}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    target = PG.rsplit("/", 1)[0] + f"/{database}"
    try:
        began = settled()
        subprocess.run([binary, "--quiet", f"sqlite:///{source}", target.replace("postgresql://", "pgsql://")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        seconds = time.perf_counter() - began
        with psycopg.connect(target) as conn:
            copied = conn.execute("SELECT count(*) FROM legacy_users").fetchone()
        print(f"  pgloader copied {copied[0] if copied else 0:,} rows", flush=True)
        return seconds
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {database} WITH (FORCE)")


def plain_copy(source: Path, url: str) -> float:
    import psycopg

    with psycopg.connect(url.split("?", maxsplit=1)[0]) as conn:
        conn.execute(f"SET search_path TO {_schema(url)}")
        conn.execute(
            "CREATE TABLE copied_users (user_id BIGINT PRIMARY KEY, user_name TEXT, email_addr TEXT,"
            " reg_time TEXT, vip_flag TEXT, score TEXT, memo TEXT)"
        )
        conn.commit()
        began = settled()
        reader = sqlite3.connect(source)
        with conn.cursor().copy("COPY copied_users FROM STDIN") as copy:
            for row in reader.execute("SELECT * FROM legacy_users ORDER BY user_id"):
                copy.write_row(row)
        conn.commit()
        reader.close()
        return time.perf_counter() - began


def migration(rows: int, work: Path) -> None:
    from batchyard.demo.legacy import write_legacy_db

    source = write_legacy_db(work / "data" / "sources" / "legacy.db", rows)  # where a migration may read
    print(f"\nmigration: {rows:,} legacy users, SQLite → PostgreSQL", flush=True)
    with pg_schema() as url:
        ours, report = batchyard_migration(source, url, work / "data")
        copied = plain_copy(source, url)
    theirs = pgloader_migration(source)
    table = report["tables"][0]
    said = f"written {table['written']:,}, rejected {table['rejected']}, verify {table['verify']['status']}"
    print(f"  batchyard migrate + verify: {ours:6.1f} s  {rows / ours:9,.0f} rows/s  ({said})")
    print(f"  plain COPY:                 {copied:6.1f} s  {rows / copied:9,.0f} rows/s  "
          f"batchyard / COPY = {ours / copied:.1f}×")  # fmt: skip
    if theirs is None:
        print("  pgloader: not installed (apt install pgloader)")
    else:
        print(f"  pgloader:                   {theirs:6.1f} s  {rows / theirs:9,.0f} rows/s  "
              f"batchyard / pgloader = {ours / theirs:.2f}×")  # fmt: skip


# bulk update ----------------------------------------------------------------------------------------------------
def fill_products(yard: Any, url: str, rows: int) -> None:
    resource = yard.resources["products"]
    yard.store.ensure_resource(resource)
    values = ((f"SKU{i:09d}", f"商品 {i}", f"{(i % 99_900 + 100) / 100:.2f}", i % 1000) for i in range(rows))
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executemany("INSERT INTO products (sku, name, price, stock) VALUES (?, ?, ?, ?)", values)
        return
    import psycopg

    with psycopg.connect(url.split("?", maxsplit=1)[0]) as conn:
        conn.execute(f"SET search_path TO {_schema(url)}")
        with conn.cursor().copy("COPY products (sku, name, price, stock) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)


def plain_update(url: str) -> float:
    """One UPDATE of a copy of the table (its unique key indexed, as the resource's)."""
    statements = (
        "CREATE TABLE products_ref AS SELECT * FROM products",
        "CREATE UNIQUE INDEX products_ref_sku ON products_ref (sku)",
    )
    update = "UPDATE products_ref SET price = round(price * 1.05, 2)"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            for statement in statements:
                conn.execute(statement)
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        began = settled()
        with conn:
            conn.execute(update)
        conn.close()
        return time.perf_counter() - began
    import psycopg

    with psycopg.connect(url.split("?", maxsplit=1)[0]) as pg:
        pg.execute(f"SET search_path TO {_schema(url)}")
        for statement in statements:
            pg.execute(statement)
        pg.commit()
        began = settled()
        pg.execute(update)
        pg.commit()
        return time.perf_counter() - began


def bulk_update(name: str, url: str, rows: int, work: Path) -> None:
    print(f"\nbulk update, {name}: {rows:,} products, price = round(price * 1.05, 2)", flush=True)
    data = work / f"data-{name}"
    with ops_yard(url, data) as yard:
        fill_products(yard, url, rows)
        params = {"resource": "products", "set": {"price": "round(price * 1.05, 2)"}, "apply": "atomic"}
        ours, job = timed_job(yard, url, data, "bulk_update", params)
        assert job.status == "succeeded", (job.status, job.error)
    reference = plain_update(url)
    print(f"  batchyard bulk_update (atomic, images kept): {ours:6.1f} s  {rows / ours:9,.0f} rows/s")
    print(f"  one SQL UPDATE:                              {reference:6.1f} s  {rows / reference:9,.0f} rows/s  "
          f"batchyard / UPDATE = {ours / reference:.1f}×")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rest", type=float, default=10.0, help="seconds of rest before each measurement")
    parser.add_argument("--only", choices=["migration", "bulk"], default=None)
    parser.add_argument("--no-sqlite", action="store_true", help="the bulk update on PostgreSQL only")
    args = parser.parse_args()
    REST_SECONDS[0] = args.rest
    with tempfile.TemporaryDirectory(prefix="bench-ops-") as scratch:
        work = Path(scratch)
        if args.only in (None, "migration"):
            migration(args.rows, work)
        if args.only in (None, "bulk"):
            with pg_schema() as url:
                bulk_update("PostgreSQL", url, args.rows, work)
            if not args.no_sqlite:
                bulk_update("SQLite", f"sqlite:///{work / 'bulk.db'}", args.rows, work)


if __name__ == "__main__":
    main()
