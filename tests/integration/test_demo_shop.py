"""The demo shop `batchyard serve --demo` prepares, on SQLite and PostgreSQL: tables filled once with generated
rows, and sample files whose import shows both successes and an error report."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from batchyard import Yard
from batchyard.demo import shop


def test_the_shop_is_seeded_once_and_its_samples_import(database_url: str, tmp_path: Path) -> None:
    yard = Yard(database_url, data_dir=tmp_path, lease_seconds=2.0)
    shop.declare(yard)
    try:
        assert shop.seed(yard) == shop.PRODUCTS + shop.CUSTOMERS + shop.ORDERS
        assert shop.seed(yard) == 0
        samples = shop.write_samples(tmp_path / "samples")
        assert [p.name for p in samples] == ["products-gbk.csv", "products-utf8-bom.csv", "customers.xlsx"]
        results = {}
        for path, resource in zip(samples, ("products", "products", "customers"), strict=True):
            upload = yard.upload(path)
            job = yard.submit("import", params={"resource": resource, "mode": "upsert"}, upload_ids=[upload.id])
            done = yard.run_until_done(job.id, timeout=120)
            results[path.name] = (done.succeeded, done.failed)
        assert results == {"products-gbk.csv": (198, 2), "products-utf8-bom.csv": (198, 2), "customers.xlsx": (99, 1)}
        with yard.store.db.read() as conn:  # type: ignore[attr-defined]
            count = conn.execute(text("SELECT count(*) FROM products")).scalar_one()
        assert count == shop.PRODUCTS + 150 - 1  # of the two bad rows, one was new
    finally:
        yard.close()
