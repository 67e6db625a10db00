"""A submission of known, small length is stored whole in the transaction that creates its job: the job is
sealed from its first moment, a failure while planning stores nothing, and skipped-only jobs end at once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from tests.contract.invariants import assert_counters_match

from batchyard import Context, JobStatus, Yard
from batchyard.service.jobs import INLINE_ITEMS


class _Keyed:
    def key(self, item: int) -> str:
        if item == 13:
            raise ValueError("item 13 has no key")
        return f"k{item}"

    def process(self, item: int, ctx: Context) -> int:
        return item


def _count(yard: Yard, table: str) -> int:
    with yard.store.db.read() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_small_list_is_created_sealed_with_all_its_chunks(yard: Yard) -> None:
    yard.job("double", chunk_size=3)(lambda item, ctx: item * 2)
    job = yard.submit("double", items=list(range(10)))
    assert (job.sealed, job.total) == (True, 10), "the job was seen before its items were stored"
    assert [e.kind for e in yard.store.events(job.id)] == ["created", "planned"]
    assert yard.store.events(job.id)[-1].data == {"total": 10}
    assert _count(yard, "by_chunks") == 4
    assert [r.items for r in yard.get(job.id).rounds] == [10]
    finished = yard.run_until_done(job.id, timeout=30)
    assert finished.status == JobStatus.SUCCEEDED
    assert [r.output for r in yard.items(job.id)] == [i * 2 for i in range(10)]
    assert_counters_match(yard, job.id)


def test_a_key_that_fails_while_planning_stores_nothing(yard: Yard) -> None:
    yard.job("keyed", chunk_size=4)(_Keyed)
    with pytest.raises(ValueError, match="item 13 has no key"):
        yard.submit("keyed", items=list(range(20)))
    assert (_count(yard, "by_jobs"), _count(yard, "by_chunks"), _count(yard, "by_events")) == (0, 0, 0)


def test_a_rerun_whose_every_item_was_done_before_ends_at_once(yard: Yard) -> None:
    yard.job("keyed", chunk_size=4, skip_done="{type}")(_Keyed)
    first = yard.run_until_done(yard.submit("keyed", items=list(range(8))).id, timeout=30)
    assert first.status == JobStatus.SUCCEEDED
    again = yard.submit("keyed", items=list(range(8)))
    assert again.status == JobStatus.SUCCEEDED, "nothing to run, yet the job did not end"
    assert (again.counters.skipped, again.counters.processed) == (8, 8)
    assert_counters_match(yard, again.id)


def test_a_partly_done_rerun_counts_its_skips_from_the_start(yard: Yard) -> None:
    yard.job("keyed", chunk_size=4, skip_done="{type}")(_Keyed)
    yard.run_until_done(yard.submit("keyed", items=list(range(4))).id, timeout=30)
    job = yard.submit("keyed", items=list(range(10)))
    assert (job.counters.skipped, job.status) == (4, JobStatus.PENDING)
    finished = yard.run_until_done(job.id, timeout=30)
    assert (finished.counters.succeeded, finished.counters.skipped) == (6, 4)
    assert_counters_match(yard, job.id)


def test_a_list_past_the_inline_size_is_stored_batch_by_batch(yard: Yard) -> None:
    """The streamed path still serves large lists: its batches are stored before the seal."""
    yard.job("many", chunk_size=1000)(lambda item, ctx: None)
    items: list[Any] = list(range(INLINE_ITEMS + 1))
    job = yard.submit("many", items=items)
    assert (job.sealed, job.total) == (True, INLINE_ITEMS + 1)
    kinds = [e.kind for e in yard.store.events(job.id)]
    assert kinds[0] == "created"
    assert kinds.count("planned") == 1
    assert _count(yard, "by_chunks") == INLINE_ITEMS // 1000 + 1


def test_a_repeat_whose_first_commits_between_the_prechecks_reads_is_not_refused(
    yard: Yard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parallel repeats of one submission: the first may commit between a repeat's lookup of its idempotency
    key and its check of the limits, and then counts against them — the repeat must still get the first job,
    not 429. The window is made certain here by answering the first lookup as it was a moment earlier."""
    from batchyard.core.users import Role
    from batchyard.service.auth import AuthService
    from batchyard.store.sql import planning

    AuthService(yard.store).create_user("olga", role=Role.OPERATOR, quota=0)  # limits are a user's
    yard.job("single_active", max_active_jobs=1)(lambda item, ctx: item)
    first = yard.submit("single_active", items=[1], idempotency_key="once", owner="olga")
    real = planning._idempotent_in
    calls = iter([None])

    def earlier_then_now(conn: Any, new: Any) -> Any:
        return next(calls, real(conn, new)) if new.idempotency_key == "once" else real(conn, new)

    monkeypatch.setattr(planning, "_idempotent_in", earlier_then_now)
    again = yard.submit("single_active", items=[1], idempotency_key="once", owner="olga")
    assert again.id == first.id
