"""Defects found reviewing the hot path on the driver's own connection (raw statements, connections pinned for
a worker's loop, pipelined claims and commits, chunk commits that do not wait for the disk): each test shows
one, on SQLite and PostgreSQL unless the defect is PostgreSQL's alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from batchyard import Context, Yard
from batchyard.errors import DatabaseUnavailable
from batchyard.store.sql.database import Database
from batchyard.store.sql.raw import Sql

SIMULATED_DEADLOCK = Sql("DO $$ BEGIN RAISE EXCEPTION 'simulated deadlock' USING ERRCODE = '40P01'; END $$")
BACKEND_PID = Sql("SELECT pg_backend_pid()")
DURABILITY = Sql("SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'")


@pytest.fixture
def one_connection_db(pg_schema_url: str) -> Iterator[Database]:
    """A pool of one idle connection, so that the connection a pinned block gave back is the next one out."""
    db = Database(pg_schema_url, pool_size=1)
    yield db
    db.dispose()


def _square(item: int, ctx: Context) -> int:
    return item * item


# --- a pinned connection dropped after a transient error goes back to the pool still non-durable ---------------


def test_a_pinned_connection_dropped_after_a_transient_error_is_durable_again_in_the_pool(
    one_connection_db: Database,
) -> None:
    db = one_connection_db
    with db.pinned():
        with db.raw(write=True) as raw:
            pinned_pid = raw.scalar(BACKEND_PID)
            assert raw.one(DURABILITY) == ("off", "session")  # what a worker's claims and commits run with
        with pytest.raises(DatabaseUnavailable), db.raw(write=True) as raw:
            raw.run(SIMULATED_DEADLOCK)  # transient: the pin is dropped and its connection given back
        # the worker's next transaction (a submit, a finish, a quota refund on the pool) must wait for the disk
        fairy = db.writer.raw_connection()
        try:
            conn: Any = fairy.driver_connection
            assert conn.execute(BACKEND_PID.postgresql).fetchone()[0] == pinned_pid
            setting, source = conn.execute(DURABILITY.postgresql).fetchone()
            conn.rollback()
        finally:
            fairy.close()
    assert source != "session", f"a pooled connection kept the pinned synchronous_commit = {setting}"


# --- a pinned connection lost while being set up stays pinned, dead, for the rest of the loop -------------------


def test_a_pinned_connection_lost_while_being_set_up_is_replaced(one_connection_db: Database) -> None:
    """The server drops the connection between the pool's pre-ping and ``SET synchronous_commit = off`` (a
    restart, a fail-over): that claim pauses, and the next one must find a working connection."""
    db = one_connection_db
    killed: list[int] = []

    def drop_first_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not killed:
            killed.append(dbapi_connection.info.backend_pid)
            with psycopg.connect(db.url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s, 5000)", (killed[0],))

    event.listen(db.writer, "checkout", drop_first_checkout)
    outcomes: list[object] = []
    with db.pinned():
        for _ in range(2):
            try:
                with db.raw(write=False) as raw:
                    outcomes.append(raw.scalar(Sql("SELECT 1")))
            except DatabaseUnavailable:
                outcomes.append("paused")
    assert killed, "the fault was not injected"
    assert outcomes == ["paused", 1]


# --- a worker that knows no job type -----------------------------------------------------------------------------


def test_a_worker_that_knows_no_job_type_claims_nothing(database_url: str) -> None:
    yard = Yard(database_url)
    try:
        yard.job("square", chunk_size=2)(_square)
        yard.submit("square", items=range(4))
        assert yard.store.claim("w", 30.0, []) is None
    finally:
        yard.close()


# --- a ':name' inside a string literal is taken for a parameter ---------------------------------------------


def test_a_colon_inside_a_string_literal_is_text_not_a_parameter(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.raw(write=False) as raw:
            assert raw.scalar(Sql("SELECT 'due :today, 100%'")) == "due :today, 100%"
    finally:
        db.dispose()
