"""bulk_update run by real worker processes (``batchyard worker --app``), on SQLite and PostgreSQL: two workers
share an atomic update and its rollback, and the table ends as it began."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchyard import Yard
from tests.acceptance.helpers import batchyard_process, stop_group, subprocess_env, wait_for
from tests.integration.test_bulk_update import RAISE, ROWS, checksum, prices, raised, seed
from tests.support.shop import declare

APP = "tests.support.shop:yard"


@pytest.fixture
def shop(yard: Yard) -> Yard:
    declare(yard)
    seed(yard, ROWS)
    return yard


def test_two_worker_processes_apply_an_atomic_update_and_roll_it_back(
    shop: Yard, database_url: str, tmp_path: Path
) -> None:
    env = subprocess_env(BATCHYARD_DATABASE_URL=database_url, BATCHYARD_DATA_DIR=str(tmp_path))
    workers = [batchyard_process(["worker", "--app", APP], env, tmp_path / f"worker-{n}.log") for n in range(2)]
    try:
        original, before = checksum(shop), prices(shop)
        job = shop.submit("bulk_update", params={"resource": "products", "set": RAISE, "apply": "atomic"})
        done = wait_for(lambda: shop.get(job.id).status.is_finished and shop.get(job.id), timeout=120, what="update")
        assert done.status == "succeeded", done.error
        assert prices(shop) == {sku: raised(p) for sku, p in before.items()}
        undo = shop.submit("bulk_rollback", params={"job_id": job.id})
        undone = wait_for(lambda: shop.get(undo.id).status.is_finished and shop.get(undo.id), timeout=120, what="undo")
        assert undone.status == "succeeded", undone.error
        assert checksum(shop) == original
    finally:
        for worker in workers:
            stop_group(worker)
