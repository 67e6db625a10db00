"""Review of the change "Migrations: the key ledger, verification between bounds, the allow-list of sources, MySQL".

Each test demonstrates one finding and fails on the reviewed code. They run against the real PostgreSQL
(postgresql://postgres@127.0.0.1:5432/test, through the ``postgres_server`` fixture) and MariaDB
(127.0.0.1:3306, root, database ``test``) where a finding needs them.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from psycopg.conninfo import conninfo_to_dict
from pydantic import BaseModel, Field
from sqlalchemy import select

from batchyard import JobStatus, Yard
from batchyard.core.users import Role
from batchyard.errors import BatchyardError, InvalidParams, MigrateSourceNotAllowed
from batchyard.service.auth import AuthService
from batchyard.store.sql.copying import job_rejects
from batchyard.store.sql.resource_rows import resource_table
from batchyard.store.sql.source_policy import SourcePolicy

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}


class Item(BaseModel):
    id: int = Field(ge=0)
    name: str


# -- helpers ------------------------------------------------------------------------------------------------------


@pytest.fixture
def yard(database_url: str, tmp_path: Path) -> Iterator[Yard]:
    y = Yard(database_url, data_dir=tmp_path / "data", lease_seconds=2.0, migrate_sources=[f"sqlite:///{tmp_path}/*"])
    y.resource("items", Item, key=["id"])
    try:
        yield y
    finally:
        y.close()


def _yard_allowing(tmp_path: Path, *entries: str, database_url: str | None = None) -> Yard:
    y = Yard(
        database_url or f"sqlite:///{tmp_path}/state.db",
        data_dir=tmp_path / "data",
        lease_seconds=2.0,
        migrate_sources=list(entries),
    )
    y.resource("items", Item, key=["id"])
    return y


def _text_keyed_source(path: Path, codes: list[str], name: Any = None) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE old_items (code TEXT PRIMARY KEY, name TEXT)")
        conn.executemany(
            "INSERT INTO old_items VALUES (?, ?)", [(c, f"item {c}" if name is None else name) for c in codes]
        )
    return path


def _cast_params(source: Path, **changes: Any) -> dict[str, Any]:
    return {
        "source_url": f"sqlite:///{source}",
        "source": "old_items",
        "key": "code",
        "resource": "items",
        "mapping": {"id": {"from": "code", "cast": "int"}, "name": "name"},
        "max_rejects": 10,
        **changes,
    }


def _migrate(yard: Yard, params: dict[str, Any]) -> Any:
    job = yard.submit("migrate", params=params, owner="alice")
    return yard.run_until_done(job.id, timeout=120)


def _report_table(yard: Yard, job: Any) -> dict[str, Any]:
    report: dict[str, Any] = yard.registry.get("migrate").report(job)  # type: ignore[attr-defined]
    table: dict[str, Any] = report["tables"][0]
    return table


def _rows(yard: Yard) -> dict[int, tuple[Any, ...]]:
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        table = resource_table(conn, yard.resources["items"], create=False)
        return {row[0]: tuple(row) for row in conn.execute(select(*table.c))}


def _rejects(yard: Yard, job_id: int) -> list[dict[str, Any]]:
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        return list(job_rejects(conn, job_id))


def _padded_source(tmp_path: Path) -> Path:
    """Codes "1".."40" and "003", "017", "029": in text order the padded ones come first (range 0 with 5 rows)."""
    plain = [str(n) for n in range(1, 41)]
    padded = [f"{n:03d}" for n in (3, 17, 29)]
    return _text_keyed_source(tmp_path / "old.db", plain + padded)


# == the key ledger ===============================================================================================


def test_a_recopy_of_a_recopy_claims_under_the_wrong_ledger_and_merges_two_source_keys(
    yard: Yard, tmp_path: Path
) -> None:
    """job.py:198 — the ledger is ``params.recopy.job``; a re-copy of a re-copy names the first re-copy, whose
    ledger is empty, so the second source key of a target key overwrites the first's row."""
    params = _cast_params(_padded_source(tmp_path), range_rows=5)
    first = _migrate(yard, params)
    assert first.status == JobStatus.SUCCEEDED, first.error
    assert _rows(yard)[3][1] == "item 003"
    [holding_3] = [r["range"] for r in _rejects(yard, first.id) if r["key"] == "3"]
    recopy = yard.registry.get("migrate").recopy  # type: ignore[attr-defined]
    again = _migrate(yard, recopy(first, holding_3))
    assert again.status == JobStatus.SUCCEEDED, again.error
    assert _rows(yard)[3][1] == "item 003"  # the first re-copy still refuses "3"
    third = _migrate(yard, recopy(again, holding_3))  # POST /jobs/{again}/ranges/{n}/recopy
    assert third.status == JobStatus.SUCCEEDED, third.error
    assert _rows(yard)[3][1] == "item 003", "the re-copy of a re-copy let source key '3' overwrite '003'"


def test_rejects_made_by_the_ledger_that_pass_max_rejects_leave_no_report_files(yard: Yard, tmp_path: Path) -> None:
    """job.py:163 judges the limit at load, before the ledger's rejects exist; the commit (job.py:217) then fails
    the job with no report.json / rejects.csv, which a job failed by ordinary rejects has."""
    job = _migrate(yard, _cast_params(_padded_source(tmp_path), range_rows=5, max_rejects=0))
    assert job.status == JobStatus.FAILED
    assert "over the limit" in (job.error or "")
    names = {a.name for a in yard.artifacts(job.id)}
    assert {"report.json", "rejects.csv"} <= names, f"a job failed by too many rejects kept only {sorted(names)}"


def test_a_ledger_reject_records_the_mapped_row_so_the_refused_source_row_cannot_be_told(
    yard: Yard, tmp_path: Path
) -> None:
    """batches.py:75 — every other reject keeps the source row; this one keeps the mapped values, and its key is
    the target key: with "01" and "1" (same name) nothing says which source row was refused."""
    source = _text_keyed_source(tmp_path / "old.db", ["01", "1", "2", "3"], name="same")
    job = _migrate(yard, _cast_params(source, range_rows=1))
    assert job.status == JobStatus.SUCCEEDED, job.error
    [refused] = [r for r in _rejects(yard, job.id) if "another source row" in r["reason"]]
    assert refused["row"].get("code") == "1", f"the reject keeps {refused['row']}, not the source row"


def test_a_claim_is_never_released_so_fixing_the_source_and_recopying_cannot_take(yard: Yard, tmp_path: Path) -> None:
    """copying.py:371 — a range re-copied without a key keeps its claim on it; the source fixed ("003" deleted),
    re-copying both ranges still refuses "3" naming range 1, which no longer has such a row."""
    source = _padded_source(tmp_path)
    first = _migrate(yard, _cast_params(source, range_rows=5))
    assert first.status == JobStatus.SUCCEEDED, first.error
    [holding_3] = [r["range"] for r in _rejects(yard, first.id) if r["key"] == "3"]
    with sqlite3.connect(source) as conn:
        conn.execute("DELETE FROM old_items WHERE code = '003'")
    recopy = yard.registry.get("migrate").recopy  # type: ignore[attr-defined]
    fixed = _migrate(yard, {**recopy(first, 0), "recopy": {"job": first.id, "ranges": [0, holding_3]}})
    assert fixed.status == JobStatus.SUCCEEDED, fixed.error
    refused = [r for r in _rejects(yard, fixed.id) if r["key"] == "3"]
    assert refused == [], f"'3' is still refused after the source was fixed: {refused[0]['reason']}"
    assert _rows(yard)[3][1] == "item 3"


# == verification between the bounds ==============================================================================


def _numbered_source(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE old_items (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO old_items VALUES (?, ?)", [(n, f"item {n}") for n in range(1, 61)])
    return path


@pytest.mark.parametrize("range_rows", [5_000, 10])
def test_two_migrations_into_one_resource_fail_each_others_verification(
    yard: Yard, tmp_path: Path, range_rows: int
) -> None:
    """job.py:226 / batches.py:36 — a query source ("one read-only SELECT") taking part of a table, or a second
    legacy table, into a resource that already holds the other part: every target row between the bounds (the
    whole table for a single range) is compared, so the other part's rows are reported as mismatches and the
    job fails, though every row it copied is right. (The same read loads the whole target in the commit.)"""
    source = _numbered_source(tmp_path / "old.db")
    base = {"source_url": f"sqlite:///{source}", "key": "id", "resource": "items", "range_rows": range_rows}
    odd = _migrate(yard, {**base, "source": "SELECT id, name FROM old_items WHERE id % 2 = 1"})
    assert odd.status == JobStatus.SUCCEEDED, odd.error
    even = _migrate(yard, {**base, "source": "SELECT id, name FROM old_items WHERE id % 2 = 0"})
    assert len(_rows(yard)) == 60  # every row arrived, and right
    verify = _report_table(yard, even)["verify"]
    assert even.status == JobStatus.SUCCEEDED, f"{verify['mismatched_rows']} rows of the other part 'mismatch'"


def test_a_sqlite_key_column_holding_text_as_well_as_integers_fails_verification_of_rows_copied_right(
    yard: Yard, tmp_path: Path
) -> None:
    """batches.py:42 judges "orders alike" by the bounds' types; SQLite orders every text value after every number,
    so the last range (lo=36, an int) holds the text '0', mapped to 0 by the model, written — and then missing
    from the target's rows with key > 36: a false mismatch."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE old_items (id, name)")  # no declared type: values kept as given
        conn.executemany("INSERT INTO old_items VALUES (?, ?)", [(n, f"item {n}") for n in range(1, 41)])
        conn.execute("INSERT INTO old_items VALUES ('0', 'item 0')")
    params = {"source_url": f"sqlite:///{path}", "source": "old_items", "key": "id", "resource": "items"}
    job = _migrate(yard, {**params, "range_rows": 10})
    assert sorted(_rows(yard)) == list(range(0, 41))  # every row was copied, and right
    verify = _report_table(yard, job)["verify"]
    assert job.status == JobStatus.SUCCEEDED, f"verification: {verify}"


# == the allow-list of sources ====================================================================================


@pytest.mark.parametrize(
    ("entry", "url"),
    [
        ("postgresql://erp.internal:5432/erp", "postgresql://etl@erp.internal/erp?host=payroll.internal"),
        ("postgresql://erp.internal:5432/erp", "postgresql://etl@erp.internal/erp?hostaddr=10.9.9.9"),
        ("postgresql://erp.internal:5432/erp", "postgresql://etl@erp.internal/erp?dbname=payroll"),
        ("postgresql://erp.internal:5432/erp", "postgresql://etl@erp.internal/erp?port=6543"),
        ("postgresql://erp.internal:5432/erp", "postgresql://etl@erp.internal/erp?service=payroll"),
        ("postgresql://etl@erp.internal/erp", "postgresql://etl@erp.internal/erp?user=postgres"),
        ("postgresql://localhost/erp", "postgresql:///erp?host=payroll.internal"),
        ("mysql://erp.internal/erp", "mysql://etl@erp.internal/erp?host=payroll.internal"),
        ("mysql://erp.internal/erp", "mysql://etl@erp.internal/erp?unix_socket=/run/other/mysqld.sock"),
        ("mysql://erp.internal/erp", "mysql://etl@erp.internal/erp?database=payroll"),
        ("mysql://erp.internal/erp", "mysql://etl@erp.internal/erp?read_default_file=/etc/other.cnf"),
    ],
)
def test_the_allow_list_ignores_connection_parameters_given_in_the_query_string(
    tmp_path: Path, entry: str, url: str
) -> None:
    """source_policy.py:75-87 compares host, port, database and user only; SQLAlchemy passes the query string
    to psycopg / PyMySQL as connect arguments, which override them (checked for real below)."""
    policy = SourcePolicy.of([entry], tmp_path)
    with pytest.raises((MigrateSourceNotAllowed, InvalidParams)):  # not on the list, or a parameter refused
        policy.check(url)


def _pg_parts(url: str) -> dict[str, Any]:
    info = conninfo_to_dict(url)
    return {"host": info.get("host") or "127.0.0.1", "port": int(info.get("port") or 5432), "db": info["dbname"]}


@pytest.fixture
def pg_source(postgres_server: str) -> Iterator[str]:
    """A schema of the test server holding old_items(id, name), dropped afterwards."""
    schema = f"review_mig3_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.old_items (id int PRIMARY KEY, name text)")
        conn.execute(f"INSERT INTO {schema}.old_items SELECT n, 'secret ' || n FROM generate_series(1, 5) n")
    yield schema
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_a_postgresql_source_is_read_from_a_server_and_database_the_list_does_not_name(
    tmp_path: Path, postgres_server: str, pg_source: str
) -> None:
    """The administrator allows erp on allowed.invalid; ``?hostaddr=`` and ``?dbname=`` read another server's
    other database."""
    pg = _pg_parts(postgres_server)
    y = _yard_allowing(tmp_path, f"postgresql://allowed.invalid:{pg['port']}/erp")
    try:
        url = f"postgresql://postgres@allowed.invalid:{pg['port']}/erp?hostaddr={pg['host']}&dbname={pg['db']}"
        params = {"source_url": url, "source": f"{pg_source}.old_items", "key": "id", "resource": "items"}
        try:
            shown = y.preview("migrate", params=params)
        except (MigrateSourceNotAllowed, InvalidParams):
            return
        pytest.fail(f"read from a source the list does not allow: {shown['rows'][0]['before']}")
    finally:
        y.close()


def test_the_own_database_guard_is_passed_by_dbname_in_the_query_string_and_password_hashes_are_read(
    tmp_path: Path, pg_schema_url: str, postgres_server: str
) -> None:
    """copying.py:88 (_same_database) compares the URL's database only; with the state server on the list (its
    other databases allowed with /*), ``…/postgres?dbname=test&options=-csearch_path=…`` reads by_users."""
    pg = _pg_parts(postgres_server)
    y = _yard_allowing(tmp_path, f"postgresql://{pg['host']}:{pg['port']}/*", database_url=pg_schema_url)
    try:
        AuthService(y.store).create_user("root-admin", role=Role.ADMIN, quota=1, password="correct horse 1")
        search_path = conninfo_to_dict(pg_schema_url)["options"].replace("=", "%3D").replace(" ", "%20")
        url = f"postgresql://postgres@{pg['host']}:{pg['port']}/postgres?dbname={pg['db']}&options={search_path}"
        params = {
            "source_url": url,
            "source": "by_users",
            "key": "id",
            "resource": "items",
            "drop": ["role", "password_hash", "quota", "created_at", "email"],
        }
        try:
            shown = y.preview("migrate", params=params)
        except InvalidParams:
            return
        before = shown["rows"][0]["before"]
        pytest.fail(f"batchyard's own users table was read: password_hash={before['password_hash'][:20]}…")
    finally:
        y.close()


def test_a_refused_source_shows_a_password_given_in_the_query_string(tmp_path: Path) -> None:
    """source_policy.py:104 hides url.password only; psycopg takes ``?password=`` as well."""
    policy = SourcePolicy.of(["postgresql://erp.internal/erp"], tmp_path)
    with pytest.raises((MigrateSourceNotAllowed, InvalidParams)) as refused:
        policy.check("postgresql://etl@db.internal/erp?password=hunter2")
    assert "hunter2" not in refused.value.message()
    with pytest.raises(MigrateSourceNotAllowed) as not_listed:  # a parameter that is accepted, on a URL not listed
        policy.check("postgresql://etl:hunter2@db.internal/erp?application_name=hunter2")
    assert "hunter2" not in not_listed.value.message()


def test_a_source_url_with_a_port_that_is_not_a_number_is_not_a_clean_refusal(tmp_path: Path) -> None:
    """source_policy.py:58 catches ArgumentError only; make_url raises ValueError for ``:abc`` — a 500 over the API
    instead of 422 (the same gap is in copying.py:229)."""
    policy = SourcePolicy.of(["postgresql://erp.internal/erp"], tmp_path)
    with pytest.raises(BatchyardError):
        policy.check("postgresql://etl:pw@erp.internal:54x2/erp")


# -- MariaDB -------------------------------------------------------------------------------------------------------


@pytest.fixture
def mariadb() -> Iterator[Any]:
    conn = pymysql.connect(**MARIADB, autocommit=True)  # type: ignore[arg-type]
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def mariadb_items(mariadb: Any) -> Iterator[str]:
    name = f"review_mig3_{uuid.uuid4().hex[:10]}"
    with mariadb.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, name VARCHAR(60))")
        cur.executemany(f"INSERT INTO {name} VALUES (%s, %s)", [(n, f"item {n}") for n in range(1, 6)])
    yield name
    with mariadb.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")


def test_a_mysql_source_with_init_command_deletes_rows_of_the_source_despite_the_read_only_session(
    tmp_path: Path, mariadb: Any, mariadb_items: str
) -> None:
    """copying.py:236-243 — PyMySQL runs ``?init_command=`` at connect, before the READ ONLY session statement,
    whose ``commit()`` (copying.py:273) then commits it. A preview alone deletes the allowed source's rows."""
    y = _yard_allowing(tmp_path, "mysql://127.0.0.1/test")
    try:
        url = f"mysql://root@127.0.0.1:3306/test?init_command=DELETE%20FROM%20{mariadb_items}"
        params = {"source_url": url, "source": mariadb_items, "key": "id", "resource": "items"}
        with pytest.raises(InvalidParams, match="init_command"):
            y.preview("migrate", params=params)
    finally:
        y.close()
    with mariadb.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {mariadb_items}")
        assert cur.fetchone() == (5,), "the source was written to"


def test_a_mysql_source_url_reads_another_server_given_as_host_in_the_query_string(
    tmp_path: Path, mariadb_items: str
) -> None:
    y = _yard_allowing(tmp_path, "mysql://allowed.invalid/test")
    try:
        url = "mysql://root@allowed.invalid:3306/test?host=127.0.0.1"
        params = {"source_url": url, "source": mariadb_items, "key": "id", "resource": "items"}
        try:
            shown = y.preview("migrate", params=params)
        except (MigrateSourceNotAllowed, InvalidParams):
            return
        pytest.fail(f"read 127.0.0.1 though only allowed.invalid is listed: {shown['rows'][0]['before']}")
    finally:
        y.close()


def test_a_mysql_entry_naming_one_database_lets_a_migration_read_any_database_of_the_server(
    tmp_path: Path, mariadb: Any
) -> None:
    """The entry ``mysql://127.0.0.1/test`` is "that database"; on MySQL a table name ``db.table`` (accepted by
    copying.py:37) or a query reads any other database the account can."""
    other = f"review_mig3_{uuid.uuid4().hex[:10]}"
    with mariadb.cursor() as cur:
        cur.execute(f"CREATE DATABASE {other}")
        cur.execute(f"CREATE TABLE {other}.payroll (id BIGINT PRIMARY KEY, name VARCHAR(60))")
        cur.execute(f"INSERT INTO {other}.payroll VALUES (1, 'salary 9000')")
    y = _yard_allowing(tmp_path, "mysql://127.0.0.1/test")
    try:
        params = {
            "source_url": "mysql://root@127.0.0.1:3306/test",
            "source": f"{other}.payroll",
            "key": "id",
            "resource": "items",
        }
        try:
            shown = y.preview("migrate", params=params)
        except (MigrateSourceNotAllowed, InvalidParams):
            return
        pytest.fail(f"read database {other}, not on the list: {shown['rows'][0]['before']}")
    finally:
        y.close()
        with mariadb.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {other}")


def test_a_mysql_query_reads_a_file_of_the_database_server_with_load_file(tmp_path: Path) -> None:
    """copying.py:39 refuses ``\\bload\\b``, which ``LOAD_FILE`` is not; the READ ONLY session does not stop it."""
    y = _yard_allowing(tmp_path, "mysql://127.0.0.1/test")
    try:
        params = {
            "source_url": "mysql://root@127.0.0.1:3306/test",
            "source": "SELECT 1 AS id, CAST(LOAD_FILE('/etc/hostname') AS CHAR) AS name",
            "key": "id",
            "resource": "items",
        }
        try:
            shown = y.preview("migrate", params=params)
        except InvalidParams:
            return
        pytest.fail(f"a server file was read through the source query: {shown['rows'][0]['before']}")
    finally:
        y.close()


def test_a_mysql_executable_comment_passes_the_query_check_and_writes_a_file_on_the_server(tmp_path: Path) -> None:
    """copying.py:44 strips ``/*…*/`` as a comment before the check; MySQL runs ``/*! … */``. A paren closes the
    wrapping subquery and ``-- `` comments out the rest: SELECT … INTO OUTFILE, which READ ONLY does not refuse."""
    target = f"/tmp/review_mig3_{uuid.uuid4().hex[:10]}.txt"
    y = _yard_allowing(tmp_path, "mysql://127.0.0.1/test")
    try:
        query = f"SELECT 1 AS id, 'x' AS name) AS by_source /*!INTO OUTFILE '{target}' */ -- rest"
        params = {"source_url": "mysql://root@127.0.0.1:3306/test", "source": query, "key": "id", "resource": "items"}
        with pytest.raises(InvalidParams, match="executable comment"):
            y.preview("migrate", params=params)
        assert not os.path.exists(target), f"the migration's query wrote {target} on the database server"
    finally:
        y.close()
        if os.path.exists(target):
            os.remove(target)
