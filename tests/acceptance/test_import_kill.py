"""A worker importing 200,000 rows is killed (kill -9) in the middle; another finishes the job: the table holds
every row exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from batchyard import JobStatus, Yard
from tests.acceptance.helpers import REPO, stop_process, subprocess_env, wait_for
from tests.support.shop import csv_bytes, declare, product_rows

ROWS = 200_000
APP = "tests.support.shop:yard"

pytestmark = pytest.mark.slow


def _worker(database_url: str, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = subprocess_env(
        BATCHYARD_DATABASE_URL=database_url, BATCHYARD_DATA_DIR=str(data_dir), BATCHYARD_LEASE_SECONDS="2"
    )
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "batchyard", "worker", "--app", APP],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def test_kill_9_during_a_200k_row_import_leaves_every_row_once(database_url: str, tmp_path: Path) -> None:
    yard = declare(Yard(database_url, data_dir=tmp_path))
    try:
        upload = yard.upload(io.BytesIO(csv_bytes(product_rows(ROWS))), filename="products.csv")
        job_id = yard.submit("import", params={"resource": "products"}, upload_ids=[upload.id]).id
        first = _worker(database_url, tmp_path, tmp_path / "first.log")
        try:
            wait_for(lambda: yard.get(job_id).processed >= 40_000, timeout=120, what="part of the rows to be written")
            first.kill()
            first.wait(timeout=10)
            assert yard.get(job_id).processed < ROWS, "the import ended before the kill"
            second = _worker(database_url, tmp_path, tmp_path / "second.log")
            try:
                wait_for(lambda: yard.store.job_status(job_id).is_finished, timeout=300, what="the import to finish")
            finally:
                stop_process(second)
        finally:
            stop_process(first)
        job = yard.get(job_id)
        assert (job.status, job.total, job.succeeded, job.failed) == (JobStatus.SUCCEEDED, ROWS, ROWS, 0)
        with yard.store.db.read() as conn:  # type: ignore[attr-defined]
            count, distinct = conn.execute(text("SELECT count(*), count(DISTINCT sku) FROM products")).one()
        assert (count, distinct) == (ROWS, ROWS)
    finally:
        yard.close()
