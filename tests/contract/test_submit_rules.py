"""Submitting: validation, exclusive keys and idempotency (also under concurrent submits), skip-done."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field
from tests.contract.invariants import assert_counters_match

from batchyard import Context, Job, JobStatus, Yard
from batchyard.errors import Conflict, IllegalTransition, InvalidParams, NoItems, TooManyItems, UnknownJobType

SUBMITTERS = 8


def _sync(item: int, ctx: Context) -> int:
    return item


def _register_sync(yard: Yard) -> None:
    yard.job("sync", chunk_size=5, exclusive="{owner}:sync:{params.region}")(_sync)


@pytest.fixture
def yards(database_url: str, yard: Yard) -> Iterator[list[Yard]]:
    """Separate yards (as separate processes would have) on the fixture's database, each with ``sync``."""
    _register_sync(yard)
    yard.store  # noqa: B018 - create the schema once, before the racers start
    others = [Yard(database_url, lease_seconds=2.0) for _ in range(SUBMITTERS)]
    for other in others:
        _register_sync(other)
        other.store  # noqa: B018
    yield others
    for other in others:
        other.close()


def _race(yards: list[Yard], submit: Callable[[Yard], Job]) -> list[Job | BaseException]:
    barrier = threading.Barrier(len(yards))
    results: list[Job | BaseException] = [RuntimeError("did not run")] * len(yards)

    def run(i: int) -> None:
        barrier.wait(timeout=10)
        try:
            results[i] = submit(yards[i])
        except BaseException as exc:  # noqa: BLE001 - inspected by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(yards))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_exclusive_submits_create_exactly_one_job(yard: Yard, yards: list[Yard]) -> None:
    results = _race(yards, lambda y: y.submit("sync", items=range(10), params={"region": "eu"}, owner="alice"))

    winners = [r for r in results if isinstance(r, Job)]
    losers = [r for r in results if not isinstance(r, Job)]
    assert len(winners) == 1, results
    assert all(isinstance(r, Conflict) for r in losers), losers
    winner = winners[0]
    for conflict in losers:
        assert isinstance(conflict, Conflict)
        assert conflict.details["job_id"] == winner.id
        assert conflict.details["key"] == "alice:sync:eu"
        assert str(winner.id) in conflict.message("en")
    assert [j.id for j in yard.store.list_jobs()] == [winner.id]
    assert winner.exclusive_key == "alice:sync:eu"

    assert yard.run_until_done(winner.id, timeout=20).status == JobStatus.SUCCEEDED
    again = yard.submit("sync", items=range(3), params={"region": "eu"}, owner="alice")
    assert again.id != winner.id
    assert_counters_match(yard, winner.id)


def test_exclusive_key_is_per_rendered_template_and_held_while_paused(yard: Yard) -> None:
    _register_sync(yard)
    first = yard.submit("sync", items=[1], params={"region": "eu"}, owner="alice")
    yard.submit("sync", items=[1], params={"region": "us"}, owner="alice")
    yard.submit("sync", items=[1], params={"region": "eu"}, owner="bob")
    yard.pause(first.id)
    with pytest.raises(Conflict) as raised:
        yard.submit("sync", items=[1], params={"region": "eu"}, owner="alice")
    assert raised.value.details["job_id"] == first.id
    yard.cancel(first.id)
    assert yard.get(first.id).status == JobStatus.CANCELLED
    assert yard.submit("sync", items=[1], params={"region": "eu"}, owner="alice").id != first.id


def test_retry_failed_takes_the_exclusive_key_again(yard: Yard) -> None:
    failing: set[int] = set()

    @yard.job("nightly", chunk_size=5, exclusive="nightly")
    def nightly(item: int, ctx: Context) -> int:
        if item == 0 and ctx.round == 1 and ctx.job_id in failing:
            raise ValueError("first round fails item 0")
        return item

    first = yard.submit("nightly", items=range(5))
    failing.add(first.id)
    assert yard.run_until_done(first.id, timeout=20).status == JobStatus.PARTIALLY_SUCCEEDED
    second = yard.submit("nightly", items=range(5))
    with pytest.raises(Conflict) as raised:
        yard.retry_failed(first.id)
    assert raised.value.details["job_id"] == second.id
    assert yard.get(first.id).status == JobStatus.PARTIALLY_SUCCEEDED, "a refused retry changes nothing"
    assert yard.get(first.id).round == 1

    assert yard.run_until_done(second.id, timeout=20).status == JobStatus.SUCCEEDED
    yard.retry_failed(first.id)
    with pytest.raises(Conflict) as raised:
        yard.submit("nightly", items=range(5))
    assert raised.value.details["job_id"] == first.id
    assert yard.run_until_done(first.id, timeout=20).status == JobStatus.SUCCEEDED
    assert_counters_match(yard, first.id)


def test_idempotent_submit_returns_the_same_job(yard: Yard) -> None:
    _register_sync(yard)
    first = yard.submit("sync", items=range(3), params={"region": "eu"}, owner="alice", idempotency_key="k-1")
    repeat = yard.submit("sync", items=range(3), params={"region": "eu"}, owner="alice", idempotency_key="k-1")
    assert repeat.id == first.id
    assert repeat.idempotency_key == "k-1"
    assert repeat.total == 3, "a repeat neither adds items nor raises the exclusive conflict"
    other_owner = yard.submit("sync", items=range(3), params={"region": "eu"}, owner="bob", idempotency_key="k-1")
    assert other_owner.id != first.id
    assert len(yard.store.list_jobs()) == 2


def test_concurrent_idempotent_submits_return_one_job(yard: Yard, yards: list[Yard]) -> None:
    results = _race(
        yards,
        lambda y: y.submit("sync", items=range(10), params={"region": "ap"}, owner="carol", idempotency_key="once"),
    )

    assert all(isinstance(r, Job) for r in results), results
    ids = {r.id for r in results if isinstance(r, Job)}
    assert len(ids) == 1
    [job_id] = ids
    assert [j.id for j in yard.store.list_jobs()] == [job_id]
    done = yard.run_until_done(job_id, timeout=20)
    assert done.status == JobStatus.SUCCEEDED
    assert done.total == 10
    assert_counters_match(yard, job_id)


class Accounts:
    """Items are account numbers; an account done once in a scope is skipped by later jobs."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def key(self, item: int) -> str:
        return f"acct-{item}"

    def process(self, item: int, ctx: Context) -> int:
        self.calls.append(item)
        return item * 2


def test_skip_done_skips_keys_done_by_an_earlier_job(yard: Yard) -> None:
    yard.job("bill", chunk_size=20, skip_done="bill:{owner}")(Accounts)
    accounts: Accounts = yard.registry.get("bill").process.__self__  # type: ignore[attr-defined]

    first = yard.submit("bill", items=range(1, 101), owner="alice")
    assert yard.run_until_done(first.id, timeout=20).succeeded == 100
    assert sorted(accounts.calls) == list(range(1, 101))
    accounts.calls.clear()

    second = yard.submit("bill", items=range(1, 151), owner="alice")
    done = yard.run_until_done(second.id, timeout=20)

    assert done.status == JobStatus.SUCCEEDED
    assert (done.total, done.processed, done.skipped, done.succeeded, done.failed) == (150, 150, 100, 50, 0)
    assert sorted(accounts.calls) == list(range(101, 151)), "skipped items are never processed"
    skipped = list(yard.items(second.id, status="skipped"))
    assert [r.key for r in skipped] == [f"acct-{i}" for i in range(1, 101)]
    assert all(r.output is None for r in skipped)
    assert [r.output for r in yard.items(second.id, status="succeeded")] == [i * 2 for i in range(101, 151)]
    assert_counters_match(yard, first.id)
    assert_counters_match(yard, second.id)

    other_scope = yard.submit("bill", items=range(1, 11), owner="bob")
    assert yard.run_until_done(other_scope.id, timeout=20).succeeded == 10, "another owner is another scope"


def test_skip_done_does_not_remember_failed_items(yard: Yard) -> None:
    declining: set[int] = set()

    class Fussy(Accounts):
        def process(self, item: int, ctx: Context) -> int:
            if item == 3 and ctx.job_id in declining:
                raise ValueError("card declined")
            return super().process(item, ctx)

    yard.job("charge", chunk_size=10, skip_done="charge")(Fussy)
    first = yard.submit("charge", items=range(5))
    declining.add(first.id)
    assert yard.run_until_done(first.id, timeout=20).failed == 1
    second = yard.submit("charge", items=range(5))
    done = yard.run_until_done(second.id, timeout=20)
    assert (done.skipped, done.succeeded) == (4, 1)
    assert [r.input for r in yard.items(second.id, status="succeeded")] == [3]


def test_job_whose_items_were_all_done_before_finishes_at_submit(yard: Yard) -> None:
    yard.job("bill", chunk_size=20, skip_done="bill")(Accounts)
    first = yard.submit("bill", items=range(30))
    yard.run_until_done(first.id, timeout=20)
    second = yard.submit("bill", items=range(30))
    assert second.status == JobStatus.SUCCEEDED
    assert (second.skipped, second.succeeded) == (30, 0)
    assert second.progress == 100.0
    assert_counters_match(yard, second.id)


def test_submit_refuses_empty_items(yard: Yard) -> None:
    yard.job("noop")(_sync)
    yard.store  # noqa: B018
    with pytest.raises(NoItems):
        yard.submit("noop", items=[])
    with pytest.raises(NoItems):
        yard.submit("noop", items=iter(()))
    with pytest.raises(NoItems):
        yard.submit("noop")  # a function job type has no source
    assert yard.store.list_jobs() == []


def test_submit_refuses_too_many_items_before_storing_anything(yard: Yard) -> None:
    yard.job("small", max_items=50)(_sync)
    yard.store  # noqa: B018
    with pytest.raises(TooManyItems) as raised:
        yard.submit("small", items=(i for i in range(75)))
    assert raised.value.details == {"type": "small", "limit": 50, "count": 75}
    assert "50" in raised.value.message("en")
    assert "75" in raised.value.message("zh-CN")
    assert yard.store.list_jobs() == []
    assert yard.submit("small", items=range(50)).total == 50


class Reprice:
    class Params(BaseModel):
        percent: int = Field(ge=-50, le=50)
        category: str

    def process(self, item: int, ctx: Context) -> int:
        params: Any = ctx.params
        return item * (100 + params.percent) // 100


def test_submit_validates_params_with_the_params_model(yard: Yard) -> None:
    yard.job("reprice")(Reprice)
    yard.store  # noqa: B018
    with pytest.raises(InvalidParams) as raised:
        yard.submit("reprice", items=[100], params={"percent": 80, "category": "toys"})
    assert "percent" in raised.value.message("en")
    with pytest.raises(InvalidParams):
        yard.submit("reprice", items=[100], params={"percent": 5})
    with pytest.raises(InvalidParams):
        yard.submit("reprice", items=[100], params={"percent": "lots", "category": "toys"})
    assert yard.store.list_jobs() == []

    job = yard.submit("reprice", items=[100, 200], params={"percent": 5, "category": "toys"})
    assert job.params == {"percent": 5, "category": "toys"}
    done = yard.run_until_done(job.id, timeout=20)
    assert [r.output for r in yard.items(done.id)] == [105, 210]


def test_submit_of_unknown_type_raises(yard: Yard) -> None:
    with pytest.raises(UnknownJobType) as raised:
        yard.submit("nope", items=[1])
    assert raised.value.details["name"] == "nope"


def test_retry_failed_of_cancelled_job_is_illegal(yard: Yard) -> None:
    yard.job("noop")(_sync)
    job = yard.submit("noop", items=[1, 2])
    yard.cancel(job.id)
    with pytest.raises(IllegalTransition):
        yard.retry_failed(job.id)
