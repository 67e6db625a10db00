"""Imports on SQLite and PostgreSQL against what a careful reader found: decimals kept exactly, a file whose
encoding shows late, files that cannot be read failing before any row is written, repeated headers, old Mac
line ends, reasons in Chinese, a column too narrow for a value, and a file storage that is away for a while."""

from __future__ import annotations

import datetime
import io
import threading
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import AfterValidator, BaseModel, PlainValidator, field_validator
from sqlalchemy import create_engine, text, update

from batchyard import Yard
from batchyard.core.model import Job
from batchyard.errors import BlobStorageError
from batchyard.service.downloads import Downloads
from batchyard.store.sql import resource_rows
from batchyard.store.sql.tables import jobs
from tests.support.shop import csv_bytes, declare, product_rows


class Amount(BaseModel):
    code: str
    amount: Decimal


@pytest.fixture
def shop(yard: Yard) -> Yard:
    return declare(yard)


def run(yard: Yard, data: bytes, resource: str = "products", **params: Any) -> Job:
    upload = yard.upload(io.BytesIO(data), filename="f.csv")
    job = yard.submit("import", params={"resource": resource, **params}, upload_ids=[upload.id])
    return yard.run_until_done(job.id, timeout=120)


def raw(yard: Yard, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(yard.settings.database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_decimals_are_written_exactly_and_decimal_keys_are_found(yard: Yard) -> None:
    yard.resource("amounts", Amount, key=["amount"])
    job = run(yard, b"code,amount\nA,12345678901234567.89\nB,0.10\n", "amounts")
    assert job.succeeded == 2
    stored = sorted(str(Decimal(str(v))) for (v,) in raw(yard, "SELECT amount FROM amounts"))
    assert stored == ["0.10", "12345678901234567.89"]
    again = run(yard, b"code,amount\nC,0.10\n", "amounts")
    assert (again.succeeded, again.failed) == (0, 1)  # the key exists: refused, not silently dropped


def test_a_file_ascii_at_its_head_and_gbk_further_on_imports_whole(shop: Yard) -> None:
    rows = list(product_rows(4_000))
    rows[3_500][1] = "连衣裙 红色"
    job = run(shop, csv_bytes(rows, encoding="gbk"))
    assert (job.status, job.succeeded) == ("succeeded", 4_000), job.error
    assert raw(shop, "SELECT name FROM products WHERE sku = 'SKU0003500'") == [("连衣裙 红色",)]


def test_a_file_unreadable_at_its_end_fails_before_any_row_is_written(shop: Yard) -> None:
    for tail in (b'SKUX,"never closed,1.00,1,\n', b"SKUY,\xff\xfe\xff,1.00,1,\n"):
        job = run(shop, csv_bytes(list(product_rows(20_000))) + tail)
        assert job.status == "failed"
        assert "line 20002" in (job.error or "")
        assert raw(shop, "SELECT count(*) FROM products") == [(0,)]


def test_two_columns_for_one_field_are_refused_by_name(shop: Yard) -> None:
    job = run(shop, b"sku,name,price,stock,launched,name\nA,first,1,1,,second\n")
    assert job.status == "failed"
    assert "'name'" in (job.error or "")


def test_a_repeated_column_name_stays_in_the_error_report(shop: Yard) -> None:
    job = run(shop, b"sku,name,price,stock,note,note\nA,x,-1,1,one,two\n")
    [failed] = shop.items(job.id, "failed")
    assert failed.input == {"sku": "A", "name": "x", "price": "-1", "stock": "1", "note": "one", "note (2)": "two"}


def test_cr_only_line_ends_are_refused_with_what_to_do(shop: Yard) -> None:
    job = run(shop, b"sku,name,price,stock\rA,x,1,1\r")
    assert job.status == "failed"
    assert "CR only" in (job.error or "")


def test_duplicates_and_skips_have_their_reason_in_chinese(shop: Yard) -> None:
    run(shop, csv_bytes([["K", "x", "1", 1, ""]]))
    refused = run(shop, csv_bytes([["K", "y", "1", 1, ""]]))
    [item] = shop.items(refused.id, "failed")
    assert item.error_zh == "键 K 已存在于表中，或在文件中重复出现"
    skipped = run(
        shop, csv_bytes([["K", "y", "1", 1, ""], ["L", "y", "1", 1, ""], ["L", "z", "1", 1, ""]]), mode="skip_existing"
    )
    assert sorted(i.error_zh or "" for i in shop.items(skipped.id, "skipped")) == [
        "键 K 已存在于表中",
        "键 L 在文件中已出现过",
    ]
    report = b"".join(Downloads(shop.store, shop.files).errors(refused, format="csv", language="zh-CN")).decode(
        "utf-8-sig"
    )
    assert "键 K 已存在于表中" in report


def test_a_value_too_wide_for_an_existing_column_fails_its_row_alone(yard: Yard, database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE narrow (code VARCHAR(40) UNIQUE, amount NUMERIC(20, 2))"))
    engine.dispose()
    yard.resource("narrow", Amount, key=["code"], table="narrow")
    long_code = "X" * 50
    job = run(yard, f"code,amount\nA,1\n{long_code},2\nB,3\n".encode(), "narrow")
    if database_url.startswith("sqlite"):  # SQLite keeps any length
        assert job.succeeded == 3
        return
    assert (job.succeeded, job.failed) == (2, 1)
    [failed] = yard.items(job.id, "failed")
    assert failed.error == "the database refused a value: value too long for type character varying(40)"
    assert failed.ref == 3


def test_a_file_storage_away_while_a_chunk_loads_pauses_it_instead_of_failing_rows(
    shop: Yard, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchyard.service.files import FileService

    real = FileService.read_upload
    calls = {"n": 0}

    def flaky(self: FileService, owner: str, upload_id: int, offset: int, length: int) -> bytes:
        calls["n"] += 1
        if calls["n"] == 1:
            raise BlobStorageError(reason="the storage is away")
        return real(self, owner, upload_id, offset, length)

    monkeypatch.setattr(FileService, "read_upload", flaky)
    monkeypatch.setattr("batchyard.engine.runner.LOAD_RETRY_SECONDS", 0.2)
    job = run(shop, csv_bytes(list(product_rows(10))))
    assert (job.status, job.succeeded, job.failed) == ("succeeded", 10, 0)
    assert calls["n"] == 2


def test_a_key_held_by_another_transaction_past_the_lock_timeout_is_waited_out_not_failed(
    pg_schema_url: str, tmp_path: Path
) -> None:
    """COPY into the table waits for a transaction writing the same key; past ``lock_timeout`` that is the
    moment's fault, so the commit is tried again — no row fails for it."""
    yard = declare(Yard(pg_schema_url, data_dir=tmp_path, pg_lock_timeout=0.3))
    try:
        yard.store.ensure_resource(yard.resources["products"])
        engine = create_engine(pg_schema_url)
        holder = engine.connect()
        holder.execute(text("INSERT INTO products (sku, name, price, stock) VALUES ('SKU0000003', 'x', '1', 1)"))
        releaser = threading.Timer(2.0, holder.rollback)  # the other transaction gives the key up after a while
        releaser.start()
        try:
            done = run(yard, csv_bytes(list(product_rows(10))))
        finally:
            releaser.join()
            holder.close()
            engine.dispose()
        assert (done.succeeded, done.failed) == (10, 0), yard.store.job_status(done.id)
        assert raw(yard, "SELECT count(*) FROM products") == [(10,)]
    finally:
        yard.close()


class Shipment(BaseModel):
    """A model whose own code raises what pydantic does not report, for one row."""

    code: str
    country: Annotated[str, AfterValidator(lambda c: {"CN": "China", "US": "United States"}[c])]


def test_a_row_whose_check_raises_fails_alone_and_keeps_its_cells(yard: Yard) -> None:
    yard.resource("shipments", Shipment, key=["code"])
    data = b"code,country\nS1,CN\nS2,US\nS3,XX\nS4,CN\n"

    done = run(yard, data, resource="shipments")

    assert (done.succeeded, done.failed) == (3, 1)
    [failed] = list(yard.items(done.id, status="failed"))
    assert failed.error == "KeyError: 'XX'"
    assert failed.input == {"code": "S3", "country": "XX"}
    assert raw(yard, "SELECT code, country FROM shipments ORDER BY code") == [
        ("S1", "China"),
        ("S2", "United States"),
        ("S4", "China"),
    ]


@pytest.mark.parametrize(
    ("tables", "straight"),
    [
        (["CREATE TABLE t (k bigint NOT NULL, v text, UNIQUE (k))"], True),
        (["CREATE TABLE t (k bigint PRIMARY KEY, v text)"], True),
        (["CREATE TABLE t (k bigint NOT NULL, v text)"], False),  # no unique index: a COPY would write keys twice
        (["CREATE TABLE t (k bigint NOT NULL, v text, UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)"], False),
        (["CREATE TABLE t (k bigint NOT NULL, v text)", "CREATE UNIQUE INDEX t_k ON t (k) WHERE v IS NULL"], False),
        (["CREATE TABLE base (k bigint UNIQUE, v text)", "CREATE VIEW t AS SELECT k, v FROM base"], False),
        (
            [
                "CREATE TABLE t (k bigint UNIQUE, v text)",
                "CREATE TABLE audit (k bigint)",
                "CREATE RULE audited AS ON INSERT TO t DO ALSO INSERT INTO audit VALUES (NEW.k)",
            ],
            False,  # COPY passes rules by
        ),
    ],
)
def test_rows_are_copied_straight_only_into_a_plain_table_whose_key_is_unique_at_once(
    pg_schema_url: str, tables: list[str], straight: bool
) -> None:
    engine = create_engine(pg_schema_url)
    try:
        with engine.begin() as conn:
            for statement in tables:
                conn.exec_driver_sql(statement)
            assert resource_rows._copies_straight(conn, "t", ["k"]) is straight
    finally:
        engine.dispose()
        resource_rows._straight.clear()


def test_an_upsert_into_a_table_without_a_unique_key_never_writes_a_key_twice(
    pg_schema_url: str, tmp_path: Path
) -> None:
    class Pair(BaseModel):
        k: int
        v: str

    engine = create_engine(pg_schema_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE pairs (k bigint NOT NULL, v text)")
        conn.exec_driver_sql("INSERT INTO pairs VALUES (1, 'before')")
    yard = Yard(pg_schema_url, data_dir=tmp_path)
    try:
        yard.resource("pairs", Pair, key=["k"])
        run(yard, b"k,v\n1,upserted\n2,new\n", resource="pairs", mode="upsert")
        assert raw(yard, "SELECT k FROM pairs GROUP BY k HAVING count(*) > 1") == []
    finally:
        yard.close()
        engine.dispose()


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_tally_says_how_many_rows_were_or_would_be_inserted_and_updated(shop: Yard, dry_run: bool) -> None:
    run(shop, csv_bytes(list(product_rows(3))))
    rows = list(product_rows(10))
    rows[8][3] = "-1"  # a row that fails

    done = run(shop, csv_bytes(rows), mode="upsert", dry_run=dry_run)

    assert shop.tally(done.id) == {
        "job_id": done.id,
        "succeeded": 9,
        "failed": 1,
        "skipped": 0,
        "outputs": {"inserted": 6, "updated": 3},
        "other_outputs": 0,
    }
    assert raw(shop, "SELECT count(*) FROM products") == [(3,) if dry_run else (9,)]


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("insert", {"succeeded": 11_999, "failed": 1, "skipped": 0, "outputs": {"inserted": 11_999}}),
        ("upsert", {"succeeded": 12_000, "failed": 0, "skipped": 0, "outputs": {"inserted": 11_999, "updated": 1}}),
        ("skip_existing", {"succeeded": 11_999, "failed": 0, "skipped": 1, "outputs": {"inserted": 11_999}}),
    ],
)
def test_a_dry_run_meets_a_key_repeated_in_a_later_chunk_as_the_import_does(
    shop: Yard, mode: str, outcome: dict[str, Any]
) -> None:
    rows = list(product_rows(12_000))
    rows[11_000] = [rows[0][0], *rows[11_000][1:]]  # the first row's key again, chunks later
    data = csv_bytes(rows)

    dry = run(shop, data, mode=mode, dry_run=True)
    real = run(shop, data, mode=mode)

    expected = {**outcome, "other_outputs": 0}
    assert {k: v for k, v in shop.tally(dry.id).items() if k != "job_id"} == expected
    assert {k: v for k, v in shop.tally(real.id).items() if k != "job_id"} == expected


def _counts(yard: Yard, job_id: int) -> dict[str, Any]:
    return {k: v for k, v in yard.tally(job_id).items() if k != "job_id"}


def test_a_dry_run_takes_keys_as_equal_where_the_table_does(yard: Yard) -> None:
    """PostgreSQL compares 0.5 and 0.50 as one number; SQLite keeps our decimals as text, two keys."""
    yard.resource("amounts", Amount, key=["amount"])
    rows = [f"C{n},{n}.5" for n in range(12_000)]
    rows[11_000] = "C-again,0.50"
    data = ("code,amount\n" + "\n".join(rows) + "\n").encode()

    dry = run(yard, data, "amounts", dry_run=True)
    real = run(yard, data, "amounts")

    assert _counts(yard, dry.id) == _counts(yard, real.id)


def test_a_dry_runs_failed_rows_retried_still_meet_the_keys_it_counted(shop: Yard) -> None:
    rows = list(product_rows(12_000))
    rows[11_000] = [rows[0][0], *rows[11_000][1:]]
    dry = run(shop, csv_bytes(rows), dry_run=True)
    assert dry.failed == 1

    again = shop.run_until_done(shop.retry_failed(dry.id).id, timeout=120)

    assert (again.succeeded, again.failed) == (11_999, 1)


def test_a_dry_runs_keys_are_tidied_a_week_after_it_finished(shop: Yard) -> None:
    dry = run(shop, csv_bytes(list(product_rows(10))), dry_run=True)
    assert raw(shop, "SELECT count(*) FROM by_dry_run_keys") == [(10,)]
    shop.store.tidy()
    assert raw(shop, "SELECT count(*) FROM by_dry_run_keys") == [(10,)]  # kept for a retry of its failed rows

    engine = create_engine(shop.settings.database_url)
    with engine.begin() as conn:
        week_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=8)
        conn.execute(update(jobs).where(jobs.c.id == dry.id).values(finished_at=week_ago))
    engine.dispose()
    shop.store.tidy()
    assert raw(shop, "SELECT count(*) FROM by_dry_run_keys") == [(0,)]


def _yes_no(value: Any) -> Any:
    """Known words become booleans; anything else is passed on as it was written."""
    return {"y": True, "n": False, "": None}.get(value, value)


class FlagsRowByRow(BaseModel):  # a field validator: its rows are checked one by one
    k: str
    active: bool | None = None

    @field_validator("active", mode="plain")
    @classmethod
    def yes_no(cls, value: Any) -> Any:
        return _yes_no(value)


class FlagsByColumn(BaseModel):  # a plain validator that sees nothing else: checked a column at a time
    k: str
    active: Annotated[bool | None, PlainValidator(_yes_no)] = None


@pytest.mark.parametrize("model", [FlagsRowByRow, FlagsByColumn])
def test_a_value_its_column_cannot_store_fails_only_its_row(yard: Yard, model: type[BaseModel]) -> None:
    """A model may pass on a value its column's type refuses ("maybe" for a boolean): that row fails with its
    line, the chunk's other rows are written."""
    lines = ["k,active"] + [f"k{i},{'y' if i % 2 else 'n'}" for i in range(20)]
    lines[4] = "k3x,maybe"  # line 5
    yard.resource("flags", model, key=["k"])

    done = run(yard, ("\n".join(lines) + "\n").encode(), resource="flags")

    assert (done.succeeded, done.failed) == (19, 1)
    [failed] = list(yard.items(done.id, status="failed"))
    assert failed.ref == 5
    assert "maybe" in failed.error
    assert failed.error_zh is not None
    assert "maybe" in failed.error_zh
    assert raw(yard, "SELECT count(*) FROM flags") == [(19,)]


def _currents_after_each_chunk(yard: Yard, rows: list[list[Any]]) -> list[str | None]:
    declare(yard)
    upload = yard.upload(io.BytesIO(csv_bytes(rows)), filename="f.csv")
    job = yard.submit("import", params={"resource": "products"}, upload_ids=[upload.id])
    seen: list[str | None] = []
    worker = yard.worker()
    worker.on_chunk = lambda job_type, _seconds: seen.append(yard.get(job.id).current) if job_type == "import" else None
    worker.run(until=lambda: yard.store.job_status(job.id).is_finished)
    return seen


def test_a_running_import_shows_the_line_it_is_at(yard: Yard) -> None:
    """Chunks of valid rows complete as they load: the job still shows the last line each one took."""
    seen = _currents_after_each_chunk(yard, list(product_rows(12_000)))  # three chunks, every row valid

    assert len(seen) == 3
    assert all(current is not None and current.startswith("line ") for current in seen)
    assert seen[-1] == "line 12001"


def test_the_line_shown_moves_on_past_a_chunk_with_a_bad_row(yard: Yard) -> None:
    rows = list(product_rows(15_000))
    rows[10][2] = "-1"  # the first chunk's rows go one by one, the others complete as they load
    seen = _currents_after_each_chunk(yard, rows)

    assert len(set(seen)) == len(seen) == 4
