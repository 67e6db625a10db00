"""`batchyard import` and `batchyard export` as a user runs them against `batchyard serve`: a GBK CSV with a bad
row imported with a live bar and its error report saved beside it, then the table exported to a file."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import httpx

from tests.acceptance.helpers import (
    REPO,
    api_answers,
    batchyard_process,
    free_port,
    stop_group,
    subprocess_env,
    wait_for,
)
from tests.support.shop import csv_bytes, product_rows

APP = "tests.support.shop:yard"


def test_import_then_export_from_the_command_line(tmp_path: Path) -> None:
    env = subprocess_env(
        BATCHYARD_DATABASE_URL=f"sqlite:///{tmp_path}/cli.db", BATCHYARD_DATA_DIR=str(tmp_path / "data")
    )
    env.pop("BATCHYARD_TOKEN", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "batchyard", *args]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False)

    created = cli("users", "create", "alice", "--role", "operator", "--app", APP)
    assert created.returncode == 0, created.stderr
    env["BATCHYARD_TOKEN"] = created.stdout.strip().splitlines()[-1]
    port = free_port()
    env["BATCHYARD_URL"] = f"http://127.0.0.1:{port}"
    serve = batchyard_process(
        ["serve", "--app", APP, "--port", str(port), "--workers", "1"], env, tmp_path / "serve.log"
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=10) as http:
            wait_for(lambda: api_answers(http), timeout=60, what="the API to answer")
        rows = list(product_rows(2_000))
        rows[41][2] = "free"
        source = tmp_path / "商品.csv"
        source.write_bytes(csv_bytes(rows, encoding="gbk"))

        tried = cli("import", str(source), "--resource", "products", "--dry-run")
        assert tried.returncode == 0, tried.stderr
        assert "dry run, nothing written: 1,999 inserted, 0 updated, 0 skipped, 1 rejected" in tried.stdout

        imported = cli("import", str(source), "--resource", "products")
        assert imported.returncode == 0, imported.stderr
        assert "1,999 inserted, 0 updated, 0 skipped, 1 rejected" in imported.stdout
        assert "1 row(s) failed" in imported.stdout
        report = tmp_path / "商品.csv.errors.csv"
        lines = list(csv.reader(io.StringIO(report.read_text("utf-8-sig"))))
        assert [(line[0], line[6]) for line in lines[1:]] == [("SKU0000041", "43")]

        target = tmp_path / "out.csv"
        exported = cli(
            "export", "products", "-o", str(target), "--filter", '{"field": "stock", "op": "lt", "value": 3}'
        )
        assert exported.returncode == 0, exported.stderr
        got = list(csv.reader(io.StringIO(target.read_text("utf-8"))))
        assert got[0] == ["sku", "name", "price", "stock", "launched"]
        assert sorted(r[0] for r in got[1:]) == sorted(r[0] for r in rows if int(r[3]) < 3 and r[0] != "SKU0000041")

        missing = cli("export", "nope", "-o", str(tmp_path / "x.csv"))
        assert missing.returncode == 1
        assert "nope" in missing.stderr
    finally:
        stop_group(serve)
