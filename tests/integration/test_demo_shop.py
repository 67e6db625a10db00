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


def test_the_large_sample_holds_a_hundred_thousand_new_products_and_imports(tmp_path: Path) -> None:
    """Seed 003's 100k-SKU import: every row new (none of the shop's keys), all valid, imported whole."""
    path = shop.write_large_sample(tmp_path / "samples", rows=3_000)  # the shape of the 100k file, smaller
    assert shop.write_large_sample(tmp_path / "samples", rows=3_000) == path  # written once
    yard = Yard(f"sqlite:///{tmp_path / 'by.db'}", data_dir=tmp_path, lease_seconds=2.0)
    shop.declare(yard)
    try:
        shop.seed(yard)
        job = yard.submit("import", params={"resource": "products"}, upload_ids=[yard.upload(path).id])
        done = yard.run_until_done(job.id, timeout=120)
        assert (done.status, done.succeeded, done.failed) == ("succeeded", 3_000, 0)
    finally:
        yard.close()
    text = (tmp_path / "samples" / "products-100k.csv").read_text(encoding="utf-8-sig").splitlines()
    assert text[0] == "商品编码,名称,价格,库存,上架日期"
    assert len(text) == 3_001
    assert len({line.split(",")[0] for line in text[1:]}) == 3_000
    assert shop.LARGE_SAMPLE_ROWS == 100_000
