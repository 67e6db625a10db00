"""``migrate`` from a legacy SQLite file into a resource, on a SQLite and a PostgreSQL state database: every valid row
arrives exactly as mapped, the field map is checked at submit, a dry run writes nothing, rejects are kept and
limited, skewed keys make even ranges, and a verification finds exactly the rows that differ."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from batchyard import JobStatus, Yard
from batchyard.api.app import create_app
from batchyard.core.users import Role
from batchyard.demo import legacy
from batchyard.errors import InvalidParams
from batchyard.service.auth import AuthService
from batchyard.store.sql.resource_rows import resource_table

ROWS = 3_000
RANGE_ROWS = 400


@pytest.fixture
def migrating(database_url: str, tmp_path: Path) -> Iterator[tuple[Yard, Path]]:
    yard = Yard(database_url, data_dir=tmp_path / "data", lease_seconds=2.0)
    yard.resource("users", legacy.User, key=["id"])
    source = legacy.write_legacy_db(tmp_path / "data" / "sources" / "legacy.db", ROWS)
    try:
        yield yard, source
    finally:
        yard.close()


def _params(database: Path, /, **changes: Any) -> dict[str, Any]:
    return {**legacy.migration_params(database), "range_rows": RANGE_ROWS, **changes}


def _expected() -> dict[int, tuple[Any, ...]]:
    """The legacy rows as the map must write them, worked out here from the generator's own rows."""
    found = {}
    for user_id, name, email, reg_time, vip, score, _memo in legacy.legacy_rows(ROWS):
        if email == "not-an-address":
            continue
        registered = datetime.datetime.fromisoformat(reg_time).replace(tzinfo=datetime.UTC)
        found[user_id] = (user_id, name.strip(), email or None, registered, vip == "Y", int(score))
    return found


def _target(yard: Yard) -> dict[int, tuple[Any, ...]]:
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        table = resource_table(conn, yard.resources["users"], create=False)
        rows = conn.execute(select(*table.c)).all()
    return {row[0]: (*row[:3], _utc(row[3]), *row[4:]) for row in rows}


def _utc(instant: datetime.datetime) -> datetime.datetime:
    return instant.replace(tzinfo=datetime.UTC) if instant.tzinfo is None else instant.astimezone(datetime.UTC)


def _migrate(yard: Yard, params: dict[str, Any]) -> Any:
    job = yard.submit("migrate", params=params, owner="alice")
    return yard.run_until_done(job.id, timeout=120)


def _report(yard: Yard, job: Any) -> dict[str, Any]:
    report: dict[str, Any] = yard.registry.get("migrate").report(job)  # type: ignore[attr-defined]
    return report


@contextmanager
def _api(yard: Yard) -> Iterator[tuple[TestClient, dict[str, str]]]:
    auth = AuthService(yard.store)
    _, issued = auth.create_user("alice", role=Role.OPERATOR, quota=100, password=None)
    app = create_app(yard.store, yard.registry, auth_service=auth, files=yard.files, resources=yard.resources)
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {issued.secret}"}


def test_every_valid_row_arrives_as_mapped_and_both_checksums_agree(migrating: tuple[Yard, Path]) -> None:
    yard, source = migrating
    job = _migrate(yard, _params(source))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert _target(yard) == _expected()
    table = _report(yard, job)["tables"][0]
    assert (table["read"], table["written"], table["rejected"], table["skipped"]) == (ROWS, ROWS - 12, 12, 0)
    assert table["verify"]["status"] == "passed"
    for part in table["range_details"]:
        assert part["source"] == part["target"]
        assert part["source"]["count"] == part["read"] - part["rejected"]


def test_a_migration_run_again_upserts_and_leaves_every_key_once(migrating: tuple[Yard, Path]) -> None:
    yard, source = migrating
    _migrate(yard, _params(source))
    again = _migrate(yard, _params(source))
    assert again.status == JobStatus.SUCCEEDED
    assert _target(yard) == _expected()


def test_rejected_rows_are_kept_with_their_reason_in_rejects_csv(migrating: tuple[Yard, Path]) -> None:
    yard, source = migrating
    job = _migrate(yard, _params(source))
    [kept] = [a for a in yard.artifacts(job.id) if a.name == "rejects.csv"]
    with yard.open_artifact(kept.id) as stream:
        rows = list(csv.DictReader(io.StringIO(stream.read().decode("utf-8-sig"))))
    bad = {uid for uid, _, email, *_ in legacy.legacy_rows(ROWS) if email == "not-an-address"}
    assert {int(r["key"]) for r in rows} == bad
    assert all("email" in r["reason"] for r in rows)
    assert {a.name for a in yard.artifacts(job.id)} >= {"report.json", "report.html", "rejects.csv"}


def test_rejects_over_max_rejects_fail_the_job_and_none_is_dropped(migrating: tuple[Yard, Path]) -> None:
    yard, source = migrating
    job = _migrate(yard, _params(source, max_rejects=3))
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert "over the limit of 3" in job.error
    table = _report(yard, job)["tables"][0]
    assert table["rejected"] > 3
    written = len(_target(yard))
    assert written == table["written"]  # what the report says was written is what the table holds


def test_a_ratio_of_rejects_within_the_limit_lets_the_job_succeed(migrating: tuple[Yard, Path]) -> None:
    yard, source = migrating
    job = _migrate(yard, _params(source, max_rejects=0.01))
    assert job.status == JobStatus.SUCCEEDED


def test_skewed_keys_make_ranges_no_larger_than_one_and_a_half_times_the_mean(migrating: tuple[Yard, Path]) -> None:
    yard, source = migrating
    job = _migrate(yard, _params(source))
    sizes = [r["read"] for r in _report(yard, job)["tables"][0]["range_details"]]
    assert len(sizes) == ROWS // RANGE_ROWS + 1
    assert max(sizes) <= 1.5 * (sum(sizes) / len(sizes))
    # an even split of the key's span would put nearly every row in the first range
    ids = sorted(uid for uid, *_ in legacy.legacy_rows(ROWS))
    width = (ids[-1] - ids[0]) / len(sizes)
    assert sum(1 for i in ids if i < ids[0] + width) > 0.8 * ROWS


def test_three_corrupted_target_rows_are_listed_exactly_and_a_recopy_fixes_them(
    migrating: tuple[Yard, Path],
) -> None:
    yard, source = migrating
    assert _migrate(yard, _params(source)).status == JobStatus.SUCCEEDED
    corrupted = [7, 1_500, max(_expected())]
    with yard.store.db.write() as conn:  # type: ignore[attr-defined]
        conn.execute(text("UPDATE users SET points = points + 1 WHERE id IN (7, 1500)"))
        conn.execute(text("UPDATE users SET username = 'tampered' WHERE id = :id"), {"id": corrupted[2]})
    check = _migrate(yard, _params(source, copy=False))
    assert check.status == JobStatus.FAILED
    verify = _report(yard, check)["tables"][0]["verify"]
    assert verify["status"] == "failed"
    assert sorted(k for m in verify["mismatches"] for k in m["keys"]) == corrupted
    assert verify["mismatched_rows"] == 3
    with _api(yard) as (client, headers):
        for mismatch in verify["mismatches"]:
            answer = client.post(f"/api/v1/jobs/{check.id}/ranges/{mismatch['range']}/recopy", headers=headers)
            assert answer.status_code == 202, answer.text
            fixed = yard.run_until_done(answer.json()["id"], timeout=60)
            assert fixed.status == JobStatus.SUCCEEDED
            assert (
                client.get(f"/api/v1/jobs/{fixed.id}/report", headers=headers).json()["tables"][0]["verify"]["status"]
                == "passed"
            )
    assert _target(yard) == _expected()


def test_the_report_is_served_over_http_and_a_missing_range_is_404(migrating: tuple[Yard, Path]) -> None:
    yard, source = migrating
    job = _migrate(yard, _params(source))
    with _api(yard) as (client, headers):
        report = client.get(f"/api/v1/jobs/{job.id}/report", headers=headers)
        missing = client.post(f"/api/v1/jobs/{job.id}/ranges/999/recopy", headers=headers)
    assert report.status_code == 200
    assert report.json()["tables"][0]["written"] == ROWS - 12
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "range_not_found"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"mapping": {**legacy.MAPPING, "username": {"from": "user_nam"}}}, "'user_nam'"),
        ({"mapping": {**legacy.MAPPING, "nickname": "user_name"}}, "'nickname'"),
        ({"drop": []}, "memo"),
        ({"key": "uid"}, "'uid'"),
        ({"mapping": {**legacy.MAPPING, "points": {"from": "score", "fn": "no_such_fn"}}}, "'no_such_fn'"),
        ({"source": "DELETE FROM legacy_users"}, "SELECT"),
        ({"source": "SELECT * FROM legacy_users; DROP TABLE legacy_users"}, "one SELECT"),
    ],
)
def test_a_field_map_that_does_not_fit_either_schema_is_422_naming_it(
    migrating: tuple[Yard, Path], changes: dict[str, Any], named: str
) -> None:
    yard, source = migrating
    with _api(yard) as (client, headers):
        body = {"type": "migrate", "params": _params(source, **changes)}
        answer = client.post("/api/v1/jobs", json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["error"]["message"]


def test_a_dry_run_shows_rows_before_and_after_and_writes_nothing(migrating: tuple[Yard, Path]) -> None:
    yard, source = migrating
    preview = yard.preview("migrate", params=_params(source), owner="alice")
    first_ids = sorted(uid for uid, *_ in legacy.legacy_rows(ROWS))[:1_000]
    bad = sum(1 for uid, _, email, *_ in legacy.legacy_rows(ROWS) if email == "not-an-address" and uid in first_ids)
    assert (preview["checked"], preview["valid"], preview["rejected"]) == (1_000, 1_000 - bad, bad)
    first = preview["rows"][0]
    assert first["after"]["username"] == first["before"]["user_name"].strip() != first["before"]["user_name"]
    assert first["after"]["vip"] == (first["before"]["vip_flag"] == "Y")
    job = _migrate(yard, _params(source, dry_run=True))
    assert job.status == JobStatus.SUCCEEDED
    assert _target(yard) == {}
    assert "dry_run.json" in {a.name for a in yard.artifacts(job.id)}


def test_a_read_only_query_can_be_the_source(migrating: tuple[Yard, Path]) -> None:
    yard, source = migrating
    query = "SELECT * FROM legacy_users WHERE vip_flag = 'Y'"
    job = _migrate(yard, _params(source, source=query))
    assert job.status == JobStatus.SUCCEEDED
    expected = {k: v for k, v in _expected().items() if v[4]}
    assert _target(yard) == expected


def test_the_source_file_is_opened_read_only(migrating: tuple[Yard, Path]) -> None:
    yard, source = migrating
    before = source.stat().st_mtime_ns, source.read_bytes()
    _migrate(yard, _params(source))
    assert (source.stat().st_mtime_ns, source.read_bytes()) == before
    with pytest.raises(InvalidParams, match="UPDATE"):
        yard.submit("migrate", params=_params(source, source="WITH x AS (UPDATE legacy_users SET memo = 1) SELECT 1"))


def test_postgresql_can_be_the_source(database_url: str, pg_schema_url: str, tmp_path: Path) -> None:
    """The legacy rows in PostgreSQL (typed columns this time), migrated into either state database."""
    schema = pg_schema_url.rsplit("%3D", 1)[1]
    with psycopg.connect(pg_schema_url.split("?", maxsplit=1)[0], autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {schema}.old_users (user_id bigint PRIMARY KEY, user_name text, email_addr text,"
            " reg_time timestamp, vip_flag char(1), score numeric(10, 0), memo text)"
        )
        with conn.cursor().copy(f"COPY {schema}.old_users FROM STDIN") as copy:
            for row in legacy.legacy_rows(ROWS):
                copy.write_row(row)
    server = pg_schema_url.split("?", maxsplit=1)[0]  # the test server's database, allowed by name
    yard = Yard(database_url, data_dir=tmp_path / "data", lease_seconds=2.0, migrate_sources=[server])
    yard.resource("users", legacy.User, key=["id"])
    try:
        params = {**legacy.migration_params(tmp_path), "source_url": pg_schema_url, "source": "old_users"}
        job = _migrate(yard, {**params, "range_rows": RANGE_ROWS})
        assert job.status == JobStatus.SUCCEEDED, job.error
        assert _target(yard) == _expected()
        assert _report(yard, job)["tables"][0]["verify"]["status"] == "passed"
    finally:
        yard.close()
