"""An idle worker is woken by the database when work arrives (PostgreSQL: NOTIFY; SQLite: data_version), not
left to find it at the end of its wait. Each wait below is far longer than the deadline the test waits for
it, so only a wake-up can end it in time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.contract.invariants import claim, run_and_commit, wait_for

from batchyard import Context, Yard
from batchyard.store.sql.raw import Sql

LONG_WAIT = 60.0  # seconds a wait would last if nothing woke it
WOKEN_WITHIN = 15.0
LISTENING = Sql("SELECT count(*) FROM pg_listening_channels()")


def _identity(item: int, ctx: Context) -> int:
    return item


class _Sourced:
    def source(self, params: object) -> Iterator[int]:
        return iter(range(3))

    def process(self, item: int, ctx: Context) -> int:
        return item


def _fails(item: int, ctx: Context) -> int:
    raise ValueError("always")


class Waiter:
    """An idle worker's wait, in a thread, on a connection pinned to it as in a worker's loop."""

    def __init__(self, yard: Yard) -> None:
        self.yard = yard
        self.ended = threading.Event()
        self.backend_pid: int | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()
        assert self._ready.wait(WOKEN_WITHIN)

    def _wait(self) -> None:
        with self.yard.store.db.pinned():
            if not self.yard.store.db.is_sqlite:
                with self.yard.store.db.raw(write=False) as raw:
                    self.backend_pid = raw.scalar(BACKEND_PID)
            self._ready.set()
            self.yard.store.wait_for_work(LONG_WAIT)
        self.ended.set()

    def listening(self) -> bool:
        with self.yard.store.db.raw(write=False) as raw:
            return bool(raw.scalar(LISTENS, {"pid": self.backend_pid}))

    def join(self) -> None:
        self._thread.join(timeout=LONG_WAIT + 5)


BACKEND_PID = Sql("SELECT pg_backend_pid()")
LISTENS = Sql("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND query = 'LISTEN batchyard_work'")


@pytest.mark.parametrize("how", ["submit", "source", "resume", "retry"])
def test_an_idle_postgresql_worker_is_woken_when_work_arrives(pg_schema_url: str, how: str) -> None:
    yard = Yard(pg_schema_url, lease_seconds=2.0)
    yard.job("steady", chunk_size=1)(_identity)
    yard.job("sourced", chunk_size=1)(_Sourced)
    yard.job("fails", chunk_size=1)(_fails)
    job = yard.submit("steady", items=range(2))
    if how == "retry":
        job = yard.submit("fails", items=range(1))
        run_and_commit(yard, claim(yard, types=["fails"]))
        wait_for(lambda: yard.get(job.id).status.is_finished, what="the job failed")
    elif how == "resume":
        yard.pause(job.id)
    waiter = Waiter(yard)
    try:
        wait_for(waiter.listening, timeout=WOKEN_WITHIN, what="the worker listens")
        actions: dict[str, Callable[[], object]] = {
            "submit": lambda: yard.submit("steady", items=range(2)),
            "source": lambda: yard.submit("sourced"),
            "resume": lambda: yard.resume(job.id),
            "retry": lambda: yard.retry_failed(job.id),
        }
        actions[how]()
        assert waiter.ended.wait(WOKEN_WITHIN), f"the idle worker slept through the {how}"
    finally:
        waiter.join()
        yard.close()


def test_an_idle_sqlite_worker_is_woken_by_another_connections_commit(tmp_path: Path) -> None:
    yard = Yard(f"sqlite:///{tmp_path}/wake.db")
    yard.job("steady", chunk_size=1)(_identity)
    waiter = Waiter(yard)
    try:
        # its wait may not have taken its first look yet: submit until it wakes (each submit is a commit)
        wait_for(
            lambda: bool(yard.submit("steady", items=range(1))) and waiter.ended.wait(0.05),
            timeout=WOKEN_WITHIN,
            what="the idle worker woke",
        )
    finally:
        waiter.join()
        yard.close()


def test_a_worker_listens_only_while_it_waits(pg_schema_url: str) -> None:
    """Notifications a busy worker's connection received would pile up in the driver until its next wait."""
    yard = Yard(pg_schema_url)
    try:
        with yard.store.db.pinned():
            yard.store.wait_for_work(0.01)
            with yard.store.db.raw(write=False) as raw:
                assert raw.scalar(LISTENING) == 0
    finally:
        yard.close()
