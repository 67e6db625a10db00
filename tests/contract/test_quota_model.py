"""The quota ledger under random interleavings of submit, work, worker crashes, reaping, cancel, pause, resume
and retry-failed, on SQLite and PostgreSQL. After every step: a user's balance equals the sum of their ledger
rows and never goes below zero; for every finished job, charged − refunded = unit_cost × succeeded; a refused
submit or retry changes nothing."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from contextlib import suppress

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select
from tests.contract.invariants import context_for

from batchyard import Context, Yard
from batchyard.core.users import Role
from batchyard.engine.commit import commit_outcome
from batchyard.engine.runner import run_chunk
from batchyard.errors import IllegalTransition, LeaseLost, NothingToRetry, QuotaInsufficient
from batchyard.store.sql.tables import ledger, users

UNIT_COST = 2
START = 40
FINISHED = ("succeeded", "partially_succeeded", "failed", "cancelled")


def _maybe_fails(item: int, ctx: Context) -> int:
    if item < 0:
        raise ValueError(f"item {item} fails")
    return item


class QuotaModel(RuleBasedStateMachine):
    yard: Yard
    rules_seen: Counter[str]

    def __init__(self) -> None:
        super().__init__()
        self.owner = f"u{uuid.uuid4().hex[:10]}"
        self.user_id = self.yard.store.create_user(self.owner, Role.OPERATOR, START, None).id
        self.jobs: list[int] = []

    def _saw(self, what: str) -> None:
        self.rules_seen[what] += 1

    def _balance_and_ledger(self) -> tuple[int, int]:
        with self.yard.store.db.read() as conn:  # type: ignore[attr-defined]
            balance = conn.execute(select(users.c.quota).where(users.c.id == self.user_id)).scalar_one()
            total = conn.execute(select(func.sum(ledger.c.amount)).where(ledger.c.user_id == self.user_id)).scalar()
        return int(balance), int(total or 0)

    @rule(good=st.integers(0, 6), bad=st.integers(0, 3))
    def submit(self, good: int, bad: int) -> None:
        items = list(range(good)) + [-(i + 1) for i in range(bad)]
        if not items:
            return
        before = self._balance_and_ledger()
        try:
            job = self.yard.submit("paid", items=items, owner=self.owner)
        except QuotaInsufficient:
            assert self._balance_and_ledger() == before, "a refused submit moved quota"
            self._saw("submit refused")
            return
        self.jobs.append(job.id)
        self._saw("submit")

    @precondition(lambda self: self.jobs)
    @rule(crash=st.booleans())
    def work(self, crash: bool) -> None:
        lease = 0.0001 if crash else 60.0
        chunk = self.yard.store.claim_chunk("model", lease, ["paid"])
        if chunk is None:
            return
        if crash:  # the worker dies holding the chunk: the reaper gives it back
            self._saw("crash")
            time.sleep(0.002)
            self.yard.store.reap()
            return
        ctx = context_for(self.yard, chunk)
        outcome = run_chunk(self.yard.registry.get("paid"), chunk, ctx, done_scope=None)
        try:
            commit_outcome(self.yard.store, self.yard.registry.get("paid"), outcome, ctx)
        except LeaseLost:
            return
        self.yard.store.finish_if_done(chunk.job_id)
        self._saw("work")

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def drain(self, data: st.DataObject) -> None:
        """A worker runs one job to its end (a paused one stays paused)."""
        job_id = data.draw(st.sampled_from(self.jobs))
        if self.yard.get(job_id).status in ("pending", "running"):
            self.yard.run_until_done(job_id, timeout=30)
            self._saw("drain")

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), action=st.sampled_from(["cancel", "pause", "resume", "retry"]))
    def steer(self, data: st.DataObject, action: str) -> None:
        """On a job the action fits when there is one (jobs end fast: a pause or resume drawn at random would
        nearly always be refused), else on any job, to be refused."""
        fits = {"resume": ("paused",), "pause": ("pending", "running"), "cancel": ("pending", "running", "paused")}
        wanted = fits.get(action)
        fitting = [j for j in self.jobs if wanted and self.yard.get(j).status in wanted]
        job_id = data.draw(st.sampled_from(fitting or self.jobs))
        before = self._balance_and_ledger()
        act = {
            "cancel": self.yard.cancel,
            "pause": self.yard.pause,
            "resume": self.yard.resume,
            "retry": self.yard.retry_failed,
        }[action]
        try:
            act(job_id)
        except (IllegalTransition, NothingToRetry, QuotaInsufficient):
            if action == "retry":
                assert self._balance_and_ledger() == before, "a refused retry moved quota"
            self._saw(f"{action} refused")
            return
        self._saw(action)

    @invariant()
    def balance_is_the_ledger(self) -> None:
        balance, total = self._balance_and_ledger()
        assert balance == total
        assert balance >= 0

    @invariant()
    def finished_jobs_paid_for_their_successes(self) -> None:
        for job_id in self.jobs:
            job = self.yard.get(job_id)
            if job.status in FINISHED:
                assert job.quota.charged - job.quota.refunded == UNIT_COST * job.succeeded, job

    def teardown(self) -> None:
        for job_id in self.jobs:  # whatever is still open ends: cancelled, paid back for what never ran
            with suppress(IllegalTransition):
                self.yard.cancel(job_id)
        for chunk in iter(lambda: self.yard.store.claim_chunk("model", 0.0001, ["paid"]), None):
            time.sleep(0.002)
            self.yard.store.reap()
            self.yard.store.finish_if_done(chunk.job_id)
        self.finished_jobs_paid_for_their_successes()
        self.balance_is_the_ledger()


def test_the_quota_ledger_holds_under_random_interleavings(database_url: str) -> None:
    yard = Yard(database_url, lease_seconds=60.0)
    yard.job("paid", chunk_size=2, unit_cost=UNIT_COST, max_attempts=5)(_maybe_fails)
    seen: Counter[str] = Counter()
    QuotaModel.yard, QuotaModel.rules_seen = yard, seen
    try:
        run_state_machine_as_test(
            QuotaModel,
            settings=settings(
                max_examples=25,
                stateful_step_count=25,
                deadline=None,
                derandomize=True,  # the same interleavings every run: the check for dead rules below cannot flake
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        yard.close()
    print("\n".join(f"{n:>6}  {what}" for what, n in sorted(seen.items())))
    for needed in ("submit", "submit refused", "work", "crash", "cancel", "retry", "pause", "resume"):
        assert seen[needed], f"the rule {needed!r} never ran"


pytestmark = pytest.mark.slow
