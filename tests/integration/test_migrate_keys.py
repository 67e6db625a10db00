"""``migrate``'s target keys: two source keys that map to one target key in different ranges are not merged unseen
(the second is rejected naming the first's range), and a range whose key orders alike on both sides is verified
against every target row between its bounds, so rows the target holds and the source lacks are found."""

from __future__ import annotations

import datetime
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import select, text

from batchyard import JobStatus, Yard
from batchyard.demo import legacy
from batchyard.errors import InvalidParams
from batchyard.store.sql import housekeeping
from batchyard.store.sql.copying import claim_keys
from batchyard.store.sql.resource_rows import resource_table


class Item(BaseModel):
    id: int = Field(ge=0)
    name: str


@pytest.fixture
def yard(database_url: str, tmp_path: Path) -> Iterator[Yard]:
    y = Yard(database_url, data_dir=tmp_path / "data", lease_seconds=2.0, migrate_sources=[f"sqlite:///{tmp_path}/*"])
    y.resource("items", Item, key=["id"])
    y.resource("users", legacy.User, key=["id"])
    try:
        yield y
    finally:
        y.close()


def _text_keyed_source(path: Path, codes: list[str]) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE old_items (code TEXT PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO old_items VALUES (?, ?)", [(c, f"item {c}") for c in codes])
    return path


def _migrate(yard: Yard, params: dict[str, Any]) -> Any:
    job = yard.submit("migrate", params=params, owner="alice")
    return yard.run_until_done(job.id, timeout=120)


def _report_table(yard: Yard, job: Any) -> dict[str, Any]:
    report: dict[str, Any] = yard.registry.get("migrate").report(job)  # type: ignore[attr-defined]
    table: dict[str, Any] = report["tables"][0]
    return table


def _rows(yard: Yard, resource: str) -> dict[int, tuple[Any, ...]]:
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        table = resource_table(conn, yard.resources[resource], create=False)
        return {row[0]: tuple(row) for row in conn.execute(select(*table.c))}


def test_two_source_keys_cast_to_one_target_key_in_different_ranges_are_not_merged(yard: Yard, tmp_path: Path) -> None:
    # text order: "001" < "002" < … < "1" < "10" < … — the padded codes and the plain ones fall in different ranges
    plain = [str(n) for n in range(1, 41)]
    padded = [f"{n:03d}" for n in (3, 17, 29)]
    source = _text_keyed_source(tmp_path / "old.db", plain + padded)
    params = {
        "source_url": f"sqlite:///{source}",
        "source": "old_items",
        "key": "code",
        "resource": "items",
        "mapping": {"id": {"from": "code", "cast": "int"}, "name": "name"},
        "range_rows": 5,
        "max_rejects": 10,
    }
    job = _migrate(yard, params)
    assert job.status == JobStatus.SUCCEEDED, job.error
    rows = _rows(yard, "items")
    assert sorted(rows) == list(range(1, 41))
    for n in (3, 17, 29):  # the padded row came first in key order: it holds the key; the plain one is refused
        assert rows[n][1] == f"item {n:03d}"
    table = _report_table(yard, job)
    assert (table["read"], table["written"], table["rejected"]) == (43, 40, 3)
    refused = yard.registry.get("migrate").report(job)["rejects"]["sample"]  # type: ignore[attr-defined]
    assert sorted(r["key"] for r in refused) == ["17", "29", "3"]
    assert all("another source row, in range 1" in r["reason"] for r in refused)
    assert table["verify"]["status"] == "passed"


def test_a_recopy_of_a_range_claims_its_own_keys_again_without_conflict(yard: Yard, tmp_path: Path) -> None:
    source = legacy.write_legacy_db(tmp_path / "legacy.db", 1_000)
    params = {**legacy.migration_params(source), "range_rows": 200}
    first = _migrate(yard, params)
    assert first.status == JobStatus.SUCCEEDED
    again = _migrate(yard, {**params, "recopy": {"job": first.id, "ranges": [0, 2]}})
    assert again.status == JobStatus.SUCCEEDED, again.error
    assert (
        _report_table(yard, again)["rejected"]
        == _report_table(yard, first)["range_details"][0]["rejected"]
        + (_report_table(yard, first)["range_details"][2]["rejected"])
    )


def test_rows_the_target_holds_and_the_source_lacks_fail_a_verification_of_extra_rows_naming_them(
    yard: Yard, tmp_path: Path
) -> None:
    source = legacy.write_legacy_db(tmp_path / "legacy.db", 1_000)
    params = {**legacy.migration_params(source), "range_rows": 200}
    assert _migrate(yard, params).status == JobStatus.SUCCEEDED
    strays = [150, 5_000_000]  # 150: a gap inside a range (deleted at the source's side); 5,000,000: between ids
    with yard.store.db.write() as conn:  # type: ignore[attr-defined]
        conn.execute(text("DELETE FROM users WHERE id = 150"))
        conn.execute(
            text(
                "INSERT INTO users (id, username, email, registered_at, vip, points) "
                "VALUES (:id, 'stray', NULL, '2020-01-01 00:00:00', false, 0)"
            ),
            [{"id": 5_000_000}],
        )
        conn.execute(
            text(
                "INSERT INTO users (id, username, email, registered_at, vip, points) "
                "VALUES (150, 'kept', NULL, '2020-01-01 00:00:00', false, 0)"
            )
        )
    with sqlite3.connect(source) as conn:  # the source loses row 150: the target's is now a row the source lacks
        conn.execute("DELETE FROM legacy_users WHERE user_id = 150")
    at_source_keys = _migrate(yard, {**params, "copy": False})  # by default: the target at the source's keys
    assert at_source_keys.status == JobStatus.SUCCEEDED, at_source_keys.error
    check = _migrate(yard, {**params, "copy": False, "verify_extra_rows": True})
    assert check.status == JobStatus.FAILED
    verify = _report_table(yard, check)["verify"]
    assert sorted(k for m in verify["mismatches"] for k in m["keys"]) == strays
    assert verify["mismatched_rows"] == 2


def test_a_text_key_is_verified_at_the_source_keys_and_still_passes(yard: Yard, tmp_path: Path) -> None:
    """Text orders by each side's collation: its ranges are checked at the source's keys, as before."""
    source = _text_keyed_source(tmp_path / "old.db", [f"K{n:04d}" for n in range(60)])

    class Coded(BaseModel):
        code: str
        name: str

    yard.resource("coded", Coded, key=["code"])
    params = {"source_url": f"sqlite:///{source}", "source": "old_items", "key": "code", "resource": "coded"}
    job = _migrate(yard, {**params, "range_rows": 25})
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert _report_table(yard, job)["verify"]["status"] == "passed"


def test_a_key_claimed_by_a_commit_in_flight_is_seen_once_that_commit_ends(yard: Yard) -> None:
    """Two ranges' commits claiming one key at once: the second waits for the first and then reports it."""
    job_id = _any_job(yard)
    db = yard.store.db  # type: ignore[attr-defined]
    first_in = threading.Event()
    release = threading.Event()
    seen: dict[str, dict[str, int]] = {}

    def first() -> None:
        with db.write() as conn:
            seen["first"] = claim_keys(conn, job_id, 0, ["7", "8"])
            first_in.set()
            release.wait(10)

    def second() -> None:
        first_in.wait(10)
        with db.write() as conn:
            seen["second"] = claim_keys(conn, job_id, 3, ["8", "9"])

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    assert "second" not in seen  # still waiting for the first commit
    release.set()
    for t in threads:
        t.join(20)
    assert seen == {"first": {}, "second": {"8": 0}}


def _any_job(yard: Yard) -> int:
    """A job row for the ledger's foreign key."""
    source = Path(yard.settings.data_dir) / "tiny.db"
    source.parent.mkdir(parents=True, exist_ok=True)
    _text_keyed_source(source, ["1"])
    params = {
        "source_url": f"sqlite:///{source}",
        "source": "old_items",
        "key": "code",
        "resource": "items",
        "mapping": {"id": {"from": "code", "cast": "int"}, "name": "name"},
        "dry_run": True,
    }
    return yard.submit("migrate", params=params, owner="alice").id


def test_a_migrations_key_claims_are_tidied_a_month_after_it_finished(yard: Yard, tmp_path: Path) -> None:
    source = _text_keyed_source(tmp_path / "old.db", [str(n) for n in range(1, 31)])
    params = {
        "source_url": f"sqlite:///{source}",
        "source": "old_items",
        "key": "code",
        "resource": "items",
        "mapping": {"id": {"from": "code", "cast": "int"}, "name": "name"},
        "range_rows": 10,
    }
    old, recent = _migrate(yard, params), _migrate(yard, params)
    db = yard.store.db  # type: ignore[attr-defined]
    with db.write() as conn:
        conn.execute(
            text("UPDATE by_jobs SET finished_at = :at WHERE id = :id"),
            {"at": datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=31), "id": old.id},
        )
    yard.store.tidy()
    with db.read() as conn:
        left = dict(conn.execute(text("SELECT job_id, COUNT(*) FROM by_migration_keys GROUP BY job_id")).all())
    assert left == {recent.id: 30}


def test_a_recopy_naming_another_users_migration_copies_nothing(yard: Yard, tmp_path: Path) -> None:
    source = legacy.write_legacy_db(tmp_path / "legacy.db", 600)
    params = {**legacy.migration_params(source), "range_rows": 200}
    theirs = _migrate(yard, params)
    assert theirs.status == JobStatus.SUCCEEDED
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        claims_before = conn.execute(text("SELECT COUNT(*) FROM by_migration_keys")).scalar_one()
    crafted = yard.submit("migrate", params={**params, "recopy": {"job": theirs.id, "ranges": [0]}}, owner="mallory")
    done = yard.run_until_done(crafted.id, timeout=60)
    assert done.status == JobStatus.FAILED
    assert "mallory" in (done.error or "")
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        assert conn.execute(text("SELECT COUNT(*) FROM by_migration_keys")).scalar_one() == claims_before


@pytest.mark.parametrize(
    "query",
    [
        "SELECT $$'$$ AS a, pg_read_file(chr(47)) AS b, $$'$$ AS c",
        "SELECT 1 AS a #'\n, 2 AS b #'\n",
        "SELECT E'x\\'' AS a, 1 AS b, E'\\'' AS c",
        "SELECT 1 AS a --'\r, 2 AS b",
    ],
)
def test_a_query_with_quoting_the_check_does_not_read_is_refused(yard: Yard, tmp_path: Path, query: str) -> None:
    source = _text_keyed_source(tmp_path / "old.db", ["1"])
    params = {"source_url": f"sqlite:///{source}", "source": query, "key": "a", "resource": "items"}
    with pytest.raises(InvalidParams, match="may not contain"):
        yard.submit("migrate", params=params, owner="alice")


def _finished_days_ago(yard: Yard, job_id: int, days: int) -> None:
    with yard.store.db.write() as conn:  # type: ignore[attr-defined]
        conn.execute(
            text("UPDATE by_jobs SET finished_at = :at WHERE id = :id"),
            {"at": datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days), "id": job_id},
        )


def _claims(yard: Yard) -> dict[int, int]:
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        return dict(conn.execute(text("SELECT job_id, COUNT(*) FROM by_migration_keys GROUP BY job_id")).all())


def test_a_migrations_claims_are_kept_while_a_recopy_of_it_is_recent_or_unfinished(yard: Yard, tmp_path: Path) -> None:
    source = legacy.write_legacy_db(tmp_path / "legacy.db", 600)
    params = {**legacy.migration_params(source), "range_rows": 200}
    first = _migrate(yard, params)
    again = _migrate(yard, {**params, "recopy": {"job": first.id, "ranges": [1]}})
    assert again.status == JobStatus.SUCCEEDED, again.error
    claimed = _claims(yard)
    assert set(claimed) == {first.id}
    _finished_days_ago(yard, first.id, 60)
    yard.store.tidy()
    assert _claims(yard) == claimed, "the re-copy finished yesterday: a re-copy of it must still see every claim"
    with yard.store.db.write() as conn:  # type: ignore[attr-defined]
        conn.execute(text("UPDATE by_jobs SET finished_at = NULL WHERE id = :id"), {"id": again.id})
    yard.store.tidy()
    assert _claims(yard) == claimed, "a re-copy still running claims under its first migration"
    _finished_days_ago(yard, again.id, 31)
    yard.store.tidy()
    assert _claims(yard) == {}


def test_a_recopy_of_a_migration_whose_claims_were_tidied_is_refused_saying_so(yard: Yard, tmp_path: Path) -> None:
    source = legacy.write_legacy_db(tmp_path / "legacy.db", 600)
    params = {**legacy.migration_params(source), "range_rows": 200}
    first = _migrate(yard, params)
    _finished_days_ago(yard, first.id, 31)
    yard.store.tidy()
    assert _claims(yard) == {}
    with pytest.raises(InvalidParams, match="new migration"):
        yard.submit("migrate", params={**params, "recopy": {"job": first.id, "ranges": [0]}}, owner="alice")


def _padded_and_plain(tmp_path: Path) -> dict[str, Any]:
    """ "003" and "3" both cast to id 3, in different ranges: only the key claims keep the second from merging."""
    source = _text_keyed_source(tmp_path / "old.db", [str(n) for n in range(1, 41)] + ["003", "017", "029"])
    return {
        "source_url": f"sqlite:///{source}",
        "source": "old_items",
        "key": "code",
        "resource": "items",
        "mapping": {"id": {"from": "code", "cast": "int"}, "name": "name"},
        "range_rows": 5,
        "max_rejects": 10,
    }


def test_a_recopy_asked_for_while_tidy_is_part_way_through_is_refused(
    yard: Yard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _padded_and_plain(tmp_path)
    first = _migrate(yard, params)
    assert _rows(yard, "items")[3][1] == "item 003"
    _finished_days_ago(yard, first.id, 31)
    monkeypatch.setattr(housekeeping, "TIDY_BATCH", 13)  # a big ledger: one sweep deletes a part of it
    now = datetime.datetime.now(datetime.UTC)
    housekeeping.tidy(yard.store.db, events_before=now - datetime.timedelta(days=365), now=now)  # type: ignore[attr-defined]
    assert 0 < _claims(yard)[first.id] < 40
    with pytest.raises(InvalidParams, match="new migration"):
        yard.submit(
            "migrate", params={**params, "recopy": {"job": first.id, "ranges": list(range(1, 9))}}, owner="alice"
        )
    assert _rows(yard, "items")[3][1] == "item 003"


def test_a_migration_that_claimed_keys_but_wrote_none_is_refused_a_recopy_once_tidied(
    yard: Yard, tmp_path: Path
) -> None:
    params = _padded_and_plain(tmp_path)
    seed = _migrate(yard, params)
    first = _migrate(yard, {**params, "mode": "insert"})  # the target holds every row: it writes none, claims all
    assert first.status == JobStatus.SUCCEEDED, first.error
    assert _claims(yard)[first.id] == 40
    for job in (seed, first):
        _finished_days_ago(yard, job.id, 31)
    yard.store.tidy()
    assert _claims(yard) == {}
    with pytest.raises(InvalidParams, match="new migration"):
        yard.submit(
            "migrate", params={**params, "mode": "insert", "recopy": {"job": first.id, "ranges": [1]}}, owner="alice"
        )


def test_a_recopy_let_in_just_before_its_claims_were_marked_tidied_fails_without_writing(
    yard: Yard, tmp_path: Path
) -> None:
    """The re-copy passed its check, then a tidy that had not seen it yet began on the claims: its ranges' commits
    see the mark and stop the job, rather than check keys against what is left."""
    params = _padded_and_plain(tmp_path)
    first = _migrate(yard, params)
    again = yard.submit("migrate", params={**params, "recopy": {"job": first.id, "ranges": [6]}}, owner="alice")
    with yard.store.db.write() as conn:  # type: ignore[attr-defined]
        conn.execute(
            text("INSERT INTO by_migration_claims_tidied (job_id, tidied_at) VALUES (:job, :at)"),
            {"job": first.id, "at": datetime.datetime.now(datetime.UTC)},
        )
        conn.execute(text("DELETE FROM by_migration_keys WHERE job_id = :job AND range = 0"), {"job": first.id})
        items = resource_table(conn, yard.resources["items"], create=False)
        conn.execute(items.update().values(name="changed"))
    done = yard.run_until_done(again.id, timeout=60)
    assert done.status == JobStatus.FAILED
    assert "new migration" in (done.error or "")
    assert {row[1] for row in _rows(yard, "items").values()} == {"changed"}, "the re-copy wrote nothing"
