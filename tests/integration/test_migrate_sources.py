"""Where a migration may read from, over the API: the allow-list holds for a submit, a dry run's preview and a
re-copy alike (422 naming the setting, in the caller's language, the password never echoed); and MariaDB — the
legacy database our users most often have — is a source like any other, opened in a read-only session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
from sqlalchemy import select, text

from batchyard import JobStatus, Yard
from batchyard.core.users import Role
from batchyard.demo import legacy
from batchyard.errors import InvalidParams
from batchyard.store.sql.copying import SourceSpec, reading
from batchyard.store.sql.resource_rows import resource_table
from tests.integration.api_helpers import Service, service

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}
MARIADB_URL = "mysql://root@127.0.0.1:3306/test"
ROWS = 1_200


@pytest.fixture
def svc(database_url: str) -> Iterator[Service]:
    with service(database_url) as s:  # no allow-list: the data directory's sources/ folder only
        legacy.declare(s.yard)
        s.add_user("olga", Role.OPERATOR)
        yield s


def _submit(svc: Service, params: dict[str, Any], **headers: str) -> Any:
    return svc.client.post(
        "/api/v1/jobs", json={"type": "migrate", "params": params}, headers=svc.headers("olga", **headers)
    )


def test_a_file_outside_the_sources_folder_is_refused_for_submit_and_preview(svc: Service, tmp_path: Path) -> None:
    outside = legacy.write_legacy_db(tmp_path / "legacy.db", 50)
    params = legacy.migration_params(outside)
    submitted = _submit(svc, params)
    assert submitted.status_code == 422, submitted.text
    assert submitted.json()["error"]["code"] == "migrate_source_not_allowed"
    assert "BATCHYARD_MIGRATE_SOURCES" in submitted.json()["error"]["message"]
    in_chinese = _submit(svc, params, **{"Accept-Language": "zh-CN"})
    assert "不允许" in in_chinese.json()["error"]["message"]
    preview = svc.client.post("/api/v1/job-types/migrate/preview", json={"params": params}, headers=svc.headers("olga"))
    assert preview.status_code == 422
    assert "user_name" not in preview.text  # not one row of the file came back
    assert svc.client.get("/api/v1/jobs", headers=svc.headers("olga")).json()["jobs"] == []


def test_a_refused_server_url_is_shown_without_its_password(svc: Service) -> None:
    params = {**legacy.migration_params(Path("x")), "source_url": "postgresql://erp:hunter2@db.internal/erp"}
    answer = _submit(svc, params)
    assert answer.status_code == 422
    assert "hunter2" not in answer.text
    assert "db.internal" in answer.json()["error"]["message"]


def test_a_file_in_the_sources_folder_is_migrated(svc: Service) -> None:
    inside = legacy.prepare(svc.yard)  # the demo's own place for it
    answer = _submit(svc, {**legacy.migration_params(inside), "range_rows": 5_000})
    assert answer.status_code == 202, answer.text
    job = svc.yard.run_until_done(answer.json()["id"], timeout=120)
    assert job.status == JobStatus.SUCCEEDED, job.error


# -- MariaDB as a source ------------------------------------------------------------------------------------------


@pytest.fixture
def mariadb_table() -> Iterator[str]:
    """The legacy users in a MariaDB table of their own (typed columns), dropped afterwards."""
    name = f"old_users_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(**MARIADB, autocommit=True)  # type: ignore[arg-type]
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE TABLE {name} (user_id BIGINT PRIMARY KEY, user_name VARCHAR(60), email_addr VARCHAR(200),"
                " reg_time DATETIME, vip_flag CHAR(1), score DECIMAL(10, 0), memo TEXT)"
            )
            cur.executemany(f"INSERT INTO {name} VALUES (%s, %s, %s, %s, %s, %s, %s)", list(legacy.legacy_rows(ROWS)))
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
        conn.close()


def test_a_mariadb_table_is_migrated_and_verified(database_url: str, tmp_path: Path, mariadb_table: str) -> None:
    yard = Yard(database_url, data_dir=tmp_path, lease_seconds=2.0, migrate_sources=["mysql://127.0.0.1/test"])
    legacy.declare(yard)
    try:
        params = {**legacy.migration_params(tmp_path), "source_url": MARIADB_URL, "source": mariadb_table}
        job = yard.run_until_done(yard.submit("migrate", params=params, owner="olga").id, timeout=120)
        assert job.status == JobStatus.SUCCEEDED, job.error
        report = yard.registry.get("migrate").report(job)  # type: ignore[attr-defined]
        table = report["tables"][0]
        bad = sum(1 for row in legacy.legacy_rows(ROWS) if row[2] == "not-an-address")
        assert (table["read"], table["written"], table["rejected"]) == (ROWS, ROWS - bad, bad)
        assert table["verify"]["status"] == "passed"
        with yard.store.db.read() as conn:  # type: ignore[attr-defined]
            users = resource_table(conn, yard.resources["users"], create=False)
            first = conn.execute(select(users).where(users.c.id == 1)).one()
        uid, name, *_ = next(iter(legacy.legacy_rows(ROWS)))
        assert (first.id, first.username) == (uid, name.strip())
    finally:
        yard.close()


def test_a_mariadb_source_is_read_in_a_session_that_refuses_writes(mariadb_table: str) -> None:
    """The check of the query keeps writes out of the SQL; the session is read-only as well, so the server
    itself refuses a write that got past it."""
    spec = SourceSpec(MARIADB_URL, mariadb_table, "user_id")
    with reading(spec) as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {mariadb_table}")).scalar_one() == ROWS
    with pytest.raises(InvalidParams, match="READ ONLY"), reading(spec) as conn:
        conn.execute(text(f"DELETE FROM {mariadb_table}"))
    check = pymysql.connect(**MARIADB)  # type: ignore[arg-type]
    with check.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {mariadb_table}")
        assert cur.fetchone() == (ROWS,)
    check.close()


POSTGRES_SOURCE = "postgresql://postgres@127.0.0.1:5432/test"


def test_a_postgresql_source_runs_one_statement_per_call_never_a_stacked_script() -> None:
    """Behind the query check, the driver too runs one statement at a time (each prepared): a script that ends
    the read-only transaction and writes is refused by the server, not run."""
    table = f"by_stacked_{uuid.uuid4().hex[:8]}"
    spec = SourceSpec(POSTGRES_SOURCE, "pg_class", "oid")
    script = f"SELECT 1; COMMIT; BEGIN READ WRITE; CREATE TABLE {table} (x int); COMMIT"
    with pytest.raises(InvalidParams, match="multiple commands"), reading(spec) as conn:
        conn.execute(text(script))
    with reading(spec) as conn:
        assert conn.execute(text("SELECT to_regclass(:name)"), {"name": table}).scalar_one() is None
        assert conn.execute(text("SELECT 1")).scalar_one() == 1  # a single statement is read as before


def test_a_mariadb_source_runs_one_statement_per_call_never_a_stacked_script(mariadb_table: str) -> None:
    spec = SourceSpec(MARIADB_URL, mariadb_table, "user_id")
    with pytest.raises(InvalidParams), reading(spec) as conn:
        conn.execute(text(f"SELECT 1; SET SESSION TRANSACTION READ WRITE; DELETE FROM {mariadb_table}"))
    check = pymysql.connect(**MARIADB)  # type: ignore[arg-type]
    with check.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {mariadb_table}")
        assert cur.fetchone() == (ROWS,)
    check.close()


@pytest.mark.parametrize(
    ("environment", "url"),
    [
        ({"PGPORT": "1"}, "postgresql://postgres@127.0.0.1/test"),  # no port: 5432, as the allow-list judged
        ({"PGHOST": "/nonexistent-socket-dir"}, "postgresql://postgres@:5432/test"),  # no host: localhost
    ],
)
def test_a_postgresql_source_is_the_server_its_url_was_judged_as_not_the_environments(
    environment: dict[str, str], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with reading(SourceSpec(url, "pg_class", "oid")) as conn:
        assert conn.execute(text("SELECT inet_server_port()")).scalar_one() == 5432
