"""Shared fixtures: every storage and engine test runs on a real SQLite file and on real PostgreSQL.

PostgreSQL is the server at ``BATCHYARD_TEST_PG``. When nothing listens there and PostgreSQL's binaries are
installed, the session starts a throwaway cluster of its own (trust auth, a free port on 127.0.0.1, deleted
afterwards) and points ``BATCHYARD_TEST_PG`` at it, so that worker subprocesses find it too.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from batchyard import Yard

PG_URL = os.environ.get("BATCHYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
HOW_TO_FIX = "start a PostgreSQL server, point BATCHYARD_TEST_PG at one, or install PostgreSQL's binaries"


def _connect_problem(url: str) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return " ".join(str(exc).split())


def _server_listens(url: str) -> bool:
    """Whether anything accepts TCP connections at the URL's host and port (a socket path counts as yes)."""
    info = conninfo_to_dict(url)
    host = str(info.get("host") or "127.0.0.1")
    if host.startswith("/"):
        return True
    try:
        with socket.create_connection((host, int(info.get("port") or 5432)), timeout=3):
            return True
    except OSError:
        return False


def _postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's binaries directory that has ``initdb`` and ``pg_ctl``."""
    found = [Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin") if os.access(f"{d}/initdb", os.X_OK)]
    found = [d for d in found if os.access(d / "pg_ctl", os.X_OK)]
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0, default=None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary directory, for one test session. initdb refuses to run as root, so
    as root the cluster belongs to the ``postgres`` OS user and its commands run through ``runuser``."""

    def __init__(self, bindir: Path, dbname: str) -> None:
        self.bindir = bindir
        self.dbname = dbname
        self.root = Path(tempfile.mkdtemp(prefix="batchyard-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")  # KeyError without such a user: one line, below
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.dbname}"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self.as_user, str(self.bindir / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"{tool} failed: {last[0]}")

    def start(self) -> str:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')
        return self.url

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _start_throwaway_cluster(config: pytest.Config) -> str:
    bindir = _postgres_bin()
    if bindir is None:
        pytest.exit(f"no PostgreSQL answers at {PG_URL} and none is installed to start: {HOW_TO_FIX}", returncode=3)
    try:
        cluster = ThrowawayCluster(bindir, str(conninfo_to_dict(PG_URL).get("dbname") or "test"))
    except KeyError:
        pytest.exit(
            f"no PostgreSQL answers at {PG_URL}; as root a throwaway one needs a `postgres` OS user", returncode=3
        )
    config.add_cleanup(cluster.stop)
    try:
        return cluster.start()
    except (RuntimeError, OSError, psycopg.Error) as exc:
        pytest.exit(f"no PostgreSQL answers at {PG_URL}; starting a throwaway one failed: {exc}", returncode=3)


def _resolve_postgres(config: pytest.Config) -> str:
    """``BATCHYARD_TEST_PG``, or a throwaway cluster when nothing listens there; one line and a stop otherwise."""
    if not _server_listens(PG_URL):
        url = _start_throwaway_cluster(config)
        os.environ["BATCHYARD_TEST_PG"] = url  # worker subprocesses inherit it
        return url
    problem = _connect_problem(PG_URL)
    if problem is not None:
        pytest.exit(f"PostgreSQL at {PG_URL} refused the tests ({problem}): {HOW_TO_FIX}", returncode=3)
    return PG_URL


_SERVER = pytest.StashKey[str]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Find or start PostgreSQL once, before the first test, and only when a collected test needs it: a run
    that cannot have it stops here with one line instead of failing every test."""
    if any(_needs_postgres(item) for item in session.items):
        session.config.stash[_SERVER] = _resolve_postgres(session.config)


# The whole-service tests that start real processes over several seconds each: in CI (make slow), not in the
# developers' make test, which keeps under 15 minutes on a 2-core machine.
_PROCESS_HEAVY = ("test_review_ops_findings.py", "test_bulk_update_workers.py")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``make test`` runs the storage and engine (contract) tests on both databases and the integration tests —
    the API, imports, operations over a whole service — on SQLite; their PostgreSQL runs are marked slow and go
    with ``make slow``, which CI runs after ``make test``."""
    for item in items:
        path = item.path.as_posix()
        if "/tests/integration/" not in path:
            continue
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if on_postgres or item.path.name in _PROCESS_HEAVY:
            item.add_marker(pytest.mark.slow)


def _needs_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("database_url") == "postgresql":
        return True
    return bool({"postgres_server", "pg_schema_url"} & set(getattr(item, "fixturenames", ())))


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> str:
    return pytestconfig.stash.get(_SERVER, None) or _resolve_postgres(pytestconfig)


@pytest.fixture
def pg_schema_url(postgres_server: str) -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards: each test starts from empty tables."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{postgres_server}?options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/batchyard.db"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def yard(database_url: str, tmp_path: Path) -> Iterator[Yard]:
    """A yard on a fresh database (files in the test's directory), with a short lease so lost workers are
    noticed within a test."""
    y = Yard(database_url, lease_seconds=2.0, data_dir=tmp_path, migrate_sources=[f"sqlite:///{tmp_path}/*"])
    yield y
    y.close()
