"""bulk_update and its rollback end to end through a yard and its worker, on SQLite and PostgreSQL: rows chosen
once by a filter, changed by safe expressions or a transform, chunked or atomic, previewed without a change,
and rolled back — restoring what nobody touched since and listing what somebody did."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from batchyard import Yard
from batchyard.core.model import Job
from batchyard.errors import InvalidExpression, InvalidParams, RollbackRefused
from batchyard.jobs.bulk import register_transform, updating
from batchyard.store.sql.resource_rows import resource_table, stored_converters, stored_rows, write_rows
from tests.support.shop import Product, declare, product_rows

ROWS = 3_000
RAISE = {"price": "price * 1.05"}
IN_STOCK = [{"field": "stock", "op": "ge", "value": 250}]  # half the rows


@pytest.fixture
def shop(yard: Yard) -> Yard:
    declare(yard)
    seed(yard, ROWS)
    return yard


def seed(yard: Yard, count: int) -> None:
    resource = yard.resources["products"]
    yard.store.ensure_resource(resource)
    fields = [f.name for f in resource.fields]
    records = [Product.model_validate(dict(zip(fields, row, strict=True))) for row in product_rows(count)]
    values = [tuple(getattr(r, f) for f in fields) for r in records]
    with yard.store.db.write() as conn:  # type: ignore[attr-defined]
        table = resource_table(conn, resource)
        stored = stored_rows(stored_converters(conn.dialect, resource), values)
        keys = [(r.sku,) for r in records]
        write_rows(conn, table, columns=fields, key=["sku"], rows=stored, keys=keys, update=False)


def query(yard: Yard, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        return [tuple(row) for row in conn.execute(text(sql), params)]


def checksum(yard: Yard) -> str:
    rows = query(yard, "SELECT sku, name, price, stock, launched FROM products ORDER BY sku")
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def prices(yard: Yard) -> dict[str, Decimal]:
    return {sku: Decimal(str(price)) for sku, price in query(yard, "SELECT sku, price FROM products")}


def stocks(yard: Yard) -> dict[str, int]:
    return {sku: int(stock) for sku, stock in query(yard, "SELECT sku, stock FROM products")}


def raised(price: Decimal) -> Decimal:
    return (price * Decimal("1.05")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def update(yard: Yard, **params: Any) -> Job:
    job = yard.submit("bulk_update", params={"resource": "products", **params}, owner="alice")
    return yard.run_until_done(job.id, timeout=300)


def rollback(yard: Yard, job_id: int, *, force: bool = False) -> Job:
    job = yard.submit("bulk_rollback", params={"job_id": job_id, "force": force}, owner="alice")
    return yard.run_until_done(job.id, timeout=300)


def edit(yard: Yard, prices_by_sku: Mapping[str, str]) -> None:
    with yard.store.db.write() as conn:  # type: ignore[attr-defined]
        for sku, price in prices_by_sku.items():
            conn.execute(text("UPDATE products SET price = :price WHERE sku = :sku"), {"price": price, "sku": sku})


@pytest.mark.parametrize("apply", ["chunked", "atomic"])
def test_an_update_changes_each_matching_row_once_and_no_other(shop: Yard, apply: str) -> None:
    before, in_stock = prices(shop), {sku for sku, stock in stocks(shop).items() if stock >= 250}
    job = update(shop, filter=IN_STOCK, set=RAISE, apply=apply)
    after = prices(shop)
    assert job.status == "succeeded", job.error
    unchanged = {sku for sku in in_stock if raised(before[sku]) == before[sku]}  # 0.00 stays 0.00
    assert job.skipped == len(unchanged)
    assert job.succeeded == len(in_stock) - len(unchanged) + (1 if apply == "atomic" else 0)  # and the publish
    assert after == {sku: raised(p) if sku in in_stock else p for sku, p in before.items()}
    images = query(shop, "SELECT count(*) FROM by_bulk_images WHERE job_id = :j AND applied = :t", j=job.id, t=True)
    assert images == [(len(in_stock) - len(unchanged),)]


@pytest.mark.parametrize("apply", ["chunked", "atomic"])
def test_a_rollback_with_no_concurrent_writes_gives_back_the_table_checksum(shop: Yard, apply: str) -> None:
    original = checksum(shop)
    job = update(shop, filter=IN_STOCK, set={**RAISE, "stock": "stock + 1"}, apply=apply)
    assert checksum(shop) != original
    undone = rollback(shop, job.id)
    assert undone.status == "succeeded", undone.error
    assert undone.skipped == 0
    assert checksum(shop) == original


def test_five_rows_edited_after_the_update_are_the_five_conflicts_and_every_other_row_is_restored(shop: Yard) -> None:
    before = prices(shop)
    job = update(shop, set=RAISE)
    edited = {f"SKU{i:07d}": f"{1000 + i}.00" for i in (3, 700, 1500, 2201, 2999)}
    edit(shop, edited)
    undone = rollback(shop, job.id)
    conflicts = list(shop.items(undone.id, status="skipped"))
    assert sorted(item.input for item in conflicts) == sorted(f'["{sku}"]' for sku in edited)
    assert {item.error for item in conflicts} == {"changed since the update"}
    assert {item.error_zh for item in conflicts} == {"更新后已被修改"}
    after = prices(shop)
    assert {sku: p for sku, p in after.items() if sku not in edited} == {
        sku: p for sku, p in before.items() if sku not in edited
    }
    assert {sku: after[sku] for sku in edited} == {sku: Decimal(p) for sku, p in edited.items()}
    logged = query(shop, "SELECT count(*) FROM by_bulk_images WHERE job_id = :j", j=undone.id)
    assert logged == [(undone.succeeded,)]  # the rollback is itself logged, a pair of images per restored row


def test_a_forced_rollback_restores_the_rows_edited_since(shop: Yard) -> None:
    original = checksum(shop)
    job = update(shop, set=RAISE)
    edit(shop, {f"SKU{i:07d}": "1.00" for i in (10, 20, 30, 40, 50)})
    undone = rollback(shop, job.id, force=True)
    assert undone.skipped == 0
    assert {i.output for i in shop.items(undone.id)} >= {"restored over a later change", "restored"}
    assert checksum(shop) == original


def test_a_second_rollback_of_the_same_update_is_refused(shop: Yard) -> None:
    job = update(shop, filter=IN_STOCK, set=RAISE)
    rollback(shop, job.id)
    with pytest.raises(RollbackRefused, match="rolled it back already"):
        shop.submit("bulk_rollback", params={"job_id": job.id}, owner="alice")


def test_readers_during_an_atomic_publish_see_only_the_total_before_or_after(shop: Yard, database_url: str) -> None:
    engine = create_engine(database_url, pool_size=8, connect_args={"timeout": 30} if "sqlite" in database_url else {})
    total = "SELECT sum(price) FROM products"
    before = query(shop, total)[0][0]
    job = shop.submit("bulk_update", params={"resource": "products", "set": RAISE, "apply": "atomic"}, owner="alice")
    finished = threading.Event()
    seen: list[Any] = []

    def read() -> None:
        with engine.connect() as conn:
            while not finished.is_set() or len(seen) < 1_000:
                seen.append(conn.execute(text(total)).scalar_one())
                conn.rollback()

    with ThreadPoolExecutor(8) as readers:
        running = [readers.submit(read) for _ in range(8)]
        try:
            assert shop.run_until_done(job.id, timeout=300).status == "succeeded"
        finally:
            finished.set()
        for reader in running:
            reader.result()
    engine.dispose()
    after = query(shop, total)[0][0]
    assert after != before
    assert len(seen) >= 1_000
    assert set(seen) <= {before, after}
    assert after in seen


def test_the_rows_are_chosen_once_when_the_job_is_planned(shop: Yard) -> None:
    before = prices(shop)
    job = shop.submit("bulk_update", params={"resource": "products", "filter": IN_STOCK, "set": RAISE}, owner="a")
    shop.worker().run(until=lambda: shop.get(job.id).sealed)  # planned: the keys are in its chunks
    assert shop.get(job.id).processed == 0
    leaving, joining = "SKU0000499", "SKU0000000"  # stock 499 (matching) and 0 (not)
    with shop.store.db.write() as conn:  # type: ignore[attr-defined]
        conn.execute(text("UPDATE products SET stock = 0 WHERE sku = :s"), {"s": leaving})
        conn.execute(text("UPDATE products SET stock = 400, price = 10.00 WHERE sku = :s"), {"s": joining})
    done = shop.run_until_done(job.id, timeout=300)
    after = prices(shop)
    assert done.status == "succeeded"
    assert after[leaving] == raised(before[leaving])  # updated once, though it left the filter
    assert after[joining] == Decimal("10.00")  # came to match after the rows were chosen: not updated
    assert done.total == ROWS // 2


def test_a_preview_counts_and_shows_the_change_and_changes_nothing(shop: Yard) -> None:
    original, before = checksum(shop), prices(shop)
    params = {"resource": "products", "filter": IN_STOCK, "set": RAISE}
    shown = shop.preview("bulk_update", params=params)
    job = update(shop, filter=IN_STOCK, set=RAISE, preview=True)
    assert checksum(shop) == original
    [item] = list(shop.items(job.id))
    assert item.output == shown
    in_stock = [sku for sku, stock in stocks(shop).items() if stock >= 250]
    changing = [sku for sku in in_stock if raised(before[sku]) != before[sku]]
    assert (shown["matched"], shown["changed"], shown["failing"]) == (len(in_stock), len(changing), 0)
    assert len(shown["samples"]) == 20
    sample = shown["samples"][0]
    assert Decimal(sample["after"]) == raised(Decimal(sample["before"]))
    delta = sum(raised(before[sku]) - before[sku] for sku in changing)
    assert Decimal(shown["totals"]["price"]["delta"]) == delta
    assert shown["set"] == {"price": "price * 1.05"}


def test_an_atomic_update_with_a_row_it_cannot_compute_changes_nothing(shop: Yard) -> None:
    original = checksum(shop)
    job = update(shop, set={"price": "price - 100"}, apply="atomic")  # negative for the cheap ones: the model says no
    assert checksum(shop) == original
    assert job.failed > 1
    [publish] = [i for i in shop.items(job.id, status="failed") if i.index == job.total - 1]
    assert publish.error is not None
    assert "none was changed" in publish.error
    with pytest.raises(RollbackRefused, match="changed no rows"):
        shop.submit("bulk_rollback", params={"job_id": job.id}, owner="alice")


def shout(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": str(row["name"]).upper() + "!"}


def test_a_registered_transform_changes_rows_as_it_says(shop: Yard) -> None:
    register_transform("shout", shout)
    job = update(shop, filter=[{"field": "sku", "op": "in", "value": ["SKU0000001", "SKU0000002"]}], transform="shout")
    assert job.succeeded == 2
    assert query(shop, "SELECT name FROM products WHERE sku = 'SKU0000002'") == [("商品 2 号!",)]


@pytest.mark.parametrize(
    ("params", "error", "named"),
    [
        ({"set": {"colour": "'red'"}}, InvalidExpression, "colour"),
        ({"set": {"sku": "'x'"}}, InvalidExpression, "sku"),
        ({"set": {"price": "price *"}}, InvalidExpression, "price"),
        ({"set": {"price": "__import__('os')"}}, InvalidExpression, "price"),
        ({"filter": [{"field": "colour", "value": 1}], "set": RAISE}, InvalidParams, "colour"),
        ({"transform": "nothing such"}, InvalidParams, "transform"),
        ({"resource": "nowhere", "set": RAISE}, InvalidParams, "resource"),
        ({"set": RAISE, "transform": "shout"}, InvalidParams, "set or transform"),
    ],
)
def test_params_that_cannot_work_are_refused_at_submit_naming_what(
    shop: Yard, params: dict[str, Any], error: type[Exception], named: str
) -> None:
    with pytest.raises(error, match=named):
        shop.submit("bulk_update", params={"resource": "products", **params}, owner="alice")


def test_a_publish_kept_from_a_locked_row_is_retried_until_the_lock_is_released(
    pg_schema_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(updating, "ROW_LOCK_SECONDS", 0.2)  # the wait ends long before the lock is released
    yard = declare(Yard(pg_schema_url, lease_seconds=2.0, data_dir=tmp_path))
    try:
        seed(yard, 600)
        before = prices(yard)
        engine = create_engine(pg_schema_url)
        locked, hold = threading.Event(), 3.0

        def lock_a_row() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT price FROM products WHERE sku = 'SKU0000005' FOR UPDATE"))
                locked.set()
                time.sleep(hold)
                conn.rollback()

        with ThreadPoolExecutor(1) as pool:
            holder = pool.submit(lock_a_row)
            locked.wait(10)
            started = time.monotonic()
            job = yard.submit("bulk_update", params={"resource": "products", "set": RAISE, "apply": "atomic"})
            done = yard.run_until_done(job.id, timeout=120)
            holder.result()
        engine.dispose()
        assert done.status == "succeeded", done.error
        assert time.monotonic() - started >= hold - 0.5
        assert any("lock timeout" in record.getMessage() for record in caplog.records)  # retried, not waited
        assert prices(yard) == {sku: raised(p) for sku, p in before.items()}
    finally:
        yard.close()
