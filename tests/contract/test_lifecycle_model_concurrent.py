"""Many hands on one store at once: three in-process workers, an operator steering at random and a reaper,
with a short lease, over randomly planned jobs that mix the policies (on_error continue, retry and stop,
max_failures, a per-chunk write into a table of the state database, a planned source with skip_done, an
exclusive key). Whatever the interleaving, once every job is driven to its end: every job is finished (none
stuck in cancelling), counters equal items, each item is in one state, and each succeeded item of a writing
job has its effect in the table exactly once (DESIGN.md "Guarantees").
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from tests.contract.invariants import assert_counters_match, background_workers, wait_for
from tests.contract.test_lifecycle_model import FreshDatabases

from batchyard import Context, Yard
from batchyard.core.status import FINISHED, JobStatus
from batchyard.errors import Conflict, IllegalTransition, NothingToRetry

pytestmark = pytest.mark.slow  # long: run by `make slow` (CI), not by `make test`

LEASE = 0.6  # short: a worker stalled by the loaded machine loses chunks, which must be redone once
TYPES: dict[str, dict[str, Any]] = {
    "flaky": {"chunk_size": 3, "max_attempts": 2},
    "retrying": {"chunk_size": 2, "max_attempts": 3, "on_error": "retry", "retry_backoff": 0.0},
    "stopper": {"chunk_size": 3, "max_attempts": 2, "on_error": "stop"},
    "limited": {"chunk_size": 2, "max_attempts": 2, "max_failures": 1},
    "writer": {"chunk_size": 4, "max_attempts": 2},
    "rewriter": {"chunk_size": 3, "max_attempts": 2, "on_error": "retry", "retry_backoff": 0.0},
    "sourced": {"chunk_size": 3, "max_attempts": 2, "skip_done": "{type}:{owner}"},
    "solo": {"chunk_size": 4, "max_attempts": 2, "exclusive": "{type}:{owner}"},
}
WRITERS = {"writer", "rewriter"}
ACTIONS = ("cancel", "pause", "resume", "retry_failed")


@dataclass(frozen=True)
class Planned:
    type_name: str
    start: int
    size: int
    fail_mod: int
    owner: str


PLANS = st.builds(
    Planned,
    type_name=st.sampled_from(sorted(TYPES)),
    start=st.integers(0, 20),
    size=st.integers(3, 15),
    fail_mod=st.sampled_from([0, 2, 3, 5]),
    owner=st.sampled_from(["alice", "bob"]),
)
STEERING = st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 7)), min_size=3, max_size=12)


def _process(item: int, ctx: Context) -> int:
    if item % 7 == 6:
        ctx.skip("sevens are skipped")
    mod = ctx.params.get("fail_mod", 0)
    if mod and item % mod == 0 and ctx.attempt == 1:  # fails on its first attempt only
        raise ValueError(f"item {item} is refused")
    return item


class Sourced:
    def process(self, item: int, ctx: Context) -> int:
        return _process(item, ctx)

    def source(self, params: dict[str, Any]) -> range:
        return range(params["start"], params["start"] + params["size"])

    def key(self, item: int) -> str:
        return str(item)


class Writer:
    """Writes each succeeded item into ``model_effects``; refuses a batch with a marked item, once per item
    per round (so a retried write succeeds), after having written the batch: the savepoint must undo it."""

    def process(self, item: int, ctx: Context) -> int:
        if item % 7 == 6:
            ctx.skip("sevens are skipped")
        return item

    def write(self, outputs: list[int], ctx: Context) -> None:
        rows = [{"job_id": ctx.job_id, "item": item} for item in outputs]
        ctx.connection.execute(text("INSERT INTO model_effects (job_id, item) VALUES (:job_id, :item)"), rows)
        mod = ctx.params.get("write_mod", 0)
        if any(mod and item % mod == 0 for item in outputs) and ctx.round == 1 and ctx.attempt == 1:
            raise ValueError("the target refuses a marked item")


def _yard(url: str) -> Yard:
    yard = Yard(url, lease_seconds=LEASE)
    for name, options in TYPES.items():
        target: Any = Sourced if name == "sourced" else Writer if name in WRITERS else _process
        yard.job(name, **options)(target)
    with yard.store.db.write() as conn:
        conn.execute(text("CREATE TABLE model_effects (job_id integer NOT NULL, item integer NOT NULL)"))
    return yard


def _submit(yard: Yard, plan: Planned) -> int | None:
    items = list(range(plan.start, plan.start + plan.size))
    if plan.type_name == "sourced":
        params: dict[str, Any] = {"start": plan.start, "size": plan.size, "fail_mod": plan.fail_mod}
        source = None
    else:
        params = {"write_mod" if plan.type_name in WRITERS else "fail_mod": plan.fail_mod, "start": plan.start}
        source = items
    holder: int | None = None
    try:
        return yard.submit(plan.type_name, items=source, params=params, owner=plan.owner).id
    except Conflict as refused:  # another active job holds the exclusive key: it must really be active
        holder = refused.details["job_id"]
    assert holder is not None
    assert not yard.get(holder).status.is_finished, f"refused for job {holder}, which had finished"
    return None


class Steering:
    """An operator acting on random jobs while they run; refusals of a job's current status are fine."""

    def __init__(self, yard: Yard, job_ids: list[int], actions: list[tuple[str, int]]) -> None:
        self.yard, self.job_ids, self.actions = yard, job_ids, actions
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="test-steering", daemon=True)

    def _run(self) -> None:
        try:
            for action, pick in self.actions:
                job_id = self.job_ids[pick % len(self.job_ids)]
                with contextlib.suppress(IllegalTransition, NothingToRetry, Conflict):
                    getattr(self.yard, action)(job_id)
                time.sleep(random.uniform(0.0, 0.05))  # spread the actions over the run; not a synchronisation
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


class Reaper:
    def __init__(self, yard: Yard) -> None:
        self.yard = yard
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="test-reaper", daemon=True)

    def _run(self) -> None:
        try:
            while not self.done.wait(LEASE / 3):
                self.yard.store.reap()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def _drive_to_completion(yard: Yard, job_ids: list[int]) -> None:
    """Resume what the operator left paused; wait (with a deadline) until every job has finished."""

    def all_finished() -> bool:
        for job_id in job_ids:
            status = yard.store.job_status(job_id)
            if status == JobStatus.PAUSED:
                yard.resume(job_id)
        return all(yard.store.job_status(j) in FINISHED for j in job_ids)

    wait_for(all_finished, timeout=60, what="every job to finish")


def _check(yard: Yard, job_ids: list[int]) -> None:
    for job_id in job_ids:
        job = assert_counters_match(yard, job_id)
        assert job.status in FINISHED, f"job {job_id} is still {job.status}"
        if job.type in WRITERS:  # items are start, start + 1, ...: item = start + index
            start = job.params["start"]
            succeeded = [start + r.index for r in yard.items(job_id, status="succeeded")]
            with yard.store.db.read() as conn:
                query = text("SELECT item FROM model_effects WHERE job_id = :j ORDER BY item")
                effects = list(conn.execute(query, {"j": job_id}).scalars())
            assert effects == succeeded, f"job {job_id}: effects are not exactly one per succeeded item"


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(plans=st.lists(PLANS, min_size=3, max_size=6), steering=STEERING)
def test_concurrent_workers_steering_and_reaper_keep_the_guarantees(
    database_url: str, plans: list[Planned], steering: list[tuple[str, int]]
) -> None:
    url, drop = FreshDatabases(database_url).create()
    yard = _yard(url)
    try:
        reaper = Reaper(yard)
        with background_workers(yard, count=3):
            reaper.thread.start()
            job_ids = [j for j in (_submit(yard, plan) for plan in plans) if j is not None]
            steer = Steering(yard, job_ids, steering)
            steer.thread.start()
            steer.thread.join(timeout=60)
            assert steer.error is None, f"steering failed: {steer.error!r}"
            _drive_to_completion(yard, job_ids)
            reaper.done.set()
            reaper.thread.join(timeout=10)
            assert reaper.error is None, f"the reaper failed: {reaper.error!r}"
        _check(yard, job_ids)
    finally:
        yard.close()
        drop()
