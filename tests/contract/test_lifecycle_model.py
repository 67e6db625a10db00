"""The store and engine, driven by Hypothesis through random lifecycles, against a small in-memory model.

Every step (submit, claim, run and commit, crash, reap, commit with a stale lease, cancel, pause, resume,
retry-failed) is predicted by the model first; after every step the store's view must equal the model's and
satisfy the guarantees of DESIGN.md ("The chunk protocol", "Job lifecycle", "Guarantees"). At the end an
in-process worker drives every job to completion and each item must end in exactly one terminal state.

Each Hypothesis example gets a database of its own: a new SQLite file, or a new PostgreSQL schema.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from batchyard import Yard
from batchyard.core.context import Context
from batchyard.core.model import ClaimedChunk, Job
from batchyard.core.status import FINISHED, ItemState, JobStatus
from batchyard.engine.commit import commit_outcome
from batchyard.engine.runner import run_chunk
from batchyard.errors import IllegalTransition, LeaseLost
from batchyard.store.sql.tables import chunks as chunks_table

TINY_LEASE = 0.05  # a "crashed" worker's lease: expired by the next reap
LONG_LEASE = 600.0  # never expires during a test
MAX_JOBS = 5
OWNERS = ("alice", "bob")
WORKER = "model-worker"
SKIP_EVERY = 7  # items with value % 7 == 6 are skipped by the job's code

P, R, PA = JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED
CG, CD = JobStatus.CANCELLING, JobStatus.CANCELLED
OK, PART, BAD = JobStatus.SUCCEEDED, JobStatus.PARTIALLY_SUCCEEDED, JobStatus.FAILED

# One edge per DESIGN.md "Job lifecycle" arrow (paused → pending: resuming a job that never started; a paused
# job whose last chunk in flight commits has nothing left to do and finishes).
EDGES: dict[JobStatus, set[JobStatus]] = {
    P: {R, PA, CG},
    R: {PA, CG, OK, PART, BAD},
    PA: {R, P, CG, OK, PART, BAD},
    CG: {CD},
    OK: set(),
    PART: {R},
    BAD: {R},
    CD: set(),
}
# One store call may take two arrows at once (cancel: → cancelling → cancelled; resume: → running → finished).
ONE_STEP = {a: {a} | b | {c for x in b for c in EDGES[x]} for a, b in EDGES.items()}


# Where each operator action is allowed from (retry-failed: also only with failed items).
ALLOWED_FROM = {
    "cancel": {P, R, PA, CG},
    "pause": {P, R, PA},
    "resume": {PA},
    "retry_failed": {PART, BAD},
}


def _label(chunk: Any, state: str) -> str:
    """An item a cancel left undone is reported as cancelled, not pending."""
    if state == ItemState.PENDING and chunk.status == "cancelled":
        return "cancelled"
    return ItemState(state).label


@dataclass(frozen=True)
class Spec:
    """A job type under test: small chunks, and a policy that decides what happens to a failing item."""

    name: str
    chunk_size: int
    max_attempts: int  # also the lost-worker limit of its chunks
    retry: bool = False
    max_concurrency: int | None = None

    @property
    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"chunk_size": self.chunk_size, "max_attempts": self.max_attempts}
        if self.retry:
            options.update(on_error="retry", retry_backoff=0.0)
        if self.max_concurrency is not None:
            options["max_concurrency"] = self.max_concurrency
        return options


SPECS = {
    s.name: s
    for s in (
        Spec("flaky", chunk_size=3, max_attempts=3),
        Spec("retrying", chunk_size=2, max_attempts=2, retry=True),
        Spec("capped", chunk_size=4, max_attempts=2, max_concurrency=1),
    )
}
TYPES = sorted(SPECS)


@dataclass(frozen=True)
class Submission:
    type_name: str
    size: int
    start: int  # the items are start, start + 1, ...
    fail_mod: int  # items divisible by it fail while failures are on (0: none)
    owner: str
    priority: int


SUBMISSIONS = st.builds(
    Submission,
    type_name=st.sampled_from(TYPES),
    size=st.integers(3, 12),
    start=st.integers(0, 20),
    fail_mod=st.sampled_from([0, 2, 3, 5]),
    owner=st.sampled_from(OWNERS),
    priority=st.sampled_from([0, 0, 1]),
)


# ---------------------------------------------------------------------------------------------------------------
# The model


@dataclass
class MChunk:
    seq: int
    first_index: int
    items: list[int]
    states: str
    outputs: list[str | None]
    attempts: dict[int, int] = field(default_factory=dict)
    status: str = "pending"
    round: int = 1
    lost: int = 0
    token: str | None = None
    tiny: bool = False
    expires: float = 0.0  # an upper bound of the lease's expiry as the store recorded it


@dataclass
class MJob:
    id: int
    spec: Spec
    owner: str
    priority: int
    fail_mod: int
    total: int
    chunks: list[MChunk]
    status: JobStatus = P
    started: bool = False
    round: int = 1

    def tally(self) -> Counter[str]:
        return Counter("".join(c.states for c in self.chunks))

    def running(self) -> int:
        return sum(c.status == "running" for c in self.chunks)

    def next_chunk(self) -> MChunk | None:
        return next((c for c in self.chunks if c.status == "pending"), None)

    def claimable(self) -> bool:
        cap = self.spec.max_concurrency
        return self.status in (P, R) and self.next_chunk() is not None and (cap is None or self.running() < cap)

    def finish_if_done(self) -> None:
        """lifecycle.finish_if_done: a drained job ends in the status its counters call for."""
        if self.status in FINISHED:
            return
        open_ = ("running",) if self.status == CG else ("pending", "running")
        if any(c.status in open_ for c in self.chunks):
            return
        tally = self.tally()
        if self.status == CG:
            self.status = CD
        elif tally[ItemState.FAILED] and tally[ItemState.SUCCEEDED]:
            self.status = PART
        elif tally[ItemState.FAILED]:
            self.status = BAD
        else:
            self.status = OK
        for chunk in self.chunks:
            if chunk.status == "pending":
                chunk.status = "cancelled"


def plan_chunk(seq: int, first_index: int, items: list[int]) -> MChunk:
    return MChunk(seq, first_index, items, ItemState.PENDING * len(items), [None] * len(items))


@dataclass
class Predicted:
    states: str
    outputs: list[Any]
    attempts: dict[int, int]


@dataclass
class Held:
    """A claim as a worker holds it; ``chunk`` is the snapshot the claim returned."""

    chunk: ClaimedChunk
    tiny: bool


def predict_run(job: MJob, chunk: ClaimedChunk, *, failing: bool, marker: str, stop_after: int | None) -> Predicted:
    """What run_chunk makes of the claimed snapshot: item by item, until told to stop after ``stop_after``."""
    states, outputs, attempts = list(chunk.states), list(chunk.outputs), dict(chunk.attempts)
    handled = 0
    for i, state in enumerate(chunk.states):
        if state != ItemState.PENDING:
            continue
        if stop_after is not None and handled >= stop_after:
            break
        handled += 1
        item = chunk.items[i]
        if item % SKIP_EVERY == SKIP_EVERY - 1:
            states[i], outputs[i] = ItemState.SKIPPED, None
        elif failing and job.fail_mod and item % job.fail_mod == 0:
            attempts[i] = attempts.get(i, 0) + 1
            if not (job.spec.retry and attempts[i] < job.spec.max_attempts):
                states[i] = ItemState.FAILED
        else:
            states[i], outputs[i] = ItemState.SUCCEEDED, f"{item}@{marker}"
            if i in attempts:  # an item that failed before records the attempt that succeeded
                attempts[i] += 1
    return Predicted("".join(states), outputs, attempts)


def allowed_step(before: JobStatus, after: JobStatus, retried: bool) -> bool:
    if before in FINISHED and after != before:
        return retried and after == R  # nothing leaves a finished status but retry-failed
    return after in ONE_STEP[before]


# ---------------------------------------------------------------------------------------------------------------
# Fresh databases, one per Hypothesis example


class FreshDatabases:
    def __init__(self, database_url: str) -> None:
        self.postgres = not database_url.startswith("sqlite")
        self.server = database_url.split("?", 1)[0]

    def create(self) -> tuple[str, Callable[[], None]]:
        if not self.postgres:
            folder = tempfile.mkdtemp(prefix="batchyard-model-")
            return f"sqlite:///{folder}/batchyard.db", lambda: shutil.rmtree(folder, ignore_errors=True)
        schema = f"m_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")

        def drop() -> None:
            with psycopg.connect(self.server, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")

        return f"{self.server}?options=-csearch_path%3D{schema}", drop


# ---------------------------------------------------------------------------------------------------------------
# The state machine


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self, databases: FreshDatabases) -> None:
        super().__init__()
        url, self._drop = databases.create()
        self.yard = Yard(url, lease_seconds=5.0)
        for spec in SPECS.values():
            self.yard.job(spec.name, **spec.options)(self._process)
        self.store = self.yard.store
        self.jobs: dict[int, MJob] = {}
        self.held: list[Held] = []  # claims a live worker still holds
        self.crashed: list[Held] = []  # claims whose worker died: never committed, unless it comes back
        self.seen: dict[int, JobStatus] = {}
        self.retried: set[int] = set()
        self.failing = True
        self.marker = "none"
        self.commits = 0
        self.refused: set[str] = set()  # markers of the commits refused for a lost lease
        self._stop_after: int | None = None
        self._handled = 0

    # the job types' code -------------------------------------------------------------------------------------

    def _process(self, item: int, ctx: Context) -> str:
        try:
            if item % SKIP_EVERY == SKIP_EVERY - 1:
                ctx.skip("sevens are skipped")
            fail_mod = ctx.params.get("fail_mod", 0)
            if self.failing and fail_mod and item % fail_mod == 0:
                raise ValueError(f"item {item} is refused")
            return f"{item}@{self.marker}"
        finally:
            self._handled += 1
            if self._stop_after is not None and self._handled >= self._stop_after:
                ctx.request_stop()  # as the heartbeat does on pause, cancel or shutdown

    # rules ---------------------------------------------------------------------------------------------------

    @initialize(first=st.lists(SUBMISSIONS, min_size=1, max_size=3))
    def submit_first(self, first: list[Submission]) -> None:
        for new in first:
            self._submit(new)

    @precondition(lambda self: len(self.jobs) < MAX_JOBS)
    @rule(new=SUBMISSIONS)
    def submit(self, new: Submission) -> None:
        self._submit(new)

    @rule(tiny=st.booleans())
    def claim(self, tiny: bool) -> None:
        """A worker claims a chunk and keeps it for a while (a tiny lease: it may stall past it)."""
        self._claim(tiny)

    @rule(chunks=st.integers(1, 4), stop_after=st.none() | st.integers(0, 3))
    def work(self, chunks: int, stop_after: int | None) -> None:
        """A live worker claims a chunk, runs it (maybe stopping early, as on shutdown), commits it; again."""
        for _ in range(chunks):
            held = self._claim(False)
            if held is None:
                return
            self._run_and_commit(held, stop_after)

    @rule()
    def claim_and_die(self) -> None:
        """A worker claims a chunk and is killed at once (OOM, kill -9)."""
        held = self._claim(True)
        if held is not None:
            self.held.remove(held)
            self.crashed.append(held)

    @precondition(lambda self: self.held or self.crashed)
    @rule(data=st.data(), stop_after=st.none() | st.integers(0, 3))
    def run_and_commit(self, data: st.DataObject, stop_after: int | None) -> None:
        """A worker runs a claim it holds (or one whose worker stalled) and commits it."""
        held = data.draw(st.sampled_from(self.held + self.crashed), label="claim")
        self._run_and_commit(held, stop_after)

    @precondition(lambda self: any(not self._live(h) for h in self.held + self.crashed))
    @rule(data=st.data())
    def commit_stale(self, data: st.DataObject) -> None:
        """A worker whose chunk was reaped (and maybe claimed again) tries to commit: refused, nothing changes."""
        held = data.draw(st.sampled_from([h for h in self.held + self.crashed if not self._live(h)]), label="claim")
        self._run_and_commit(held, None)

    @precondition(lambda self: any(h.tiny for h in self.held))
    @rule(data=st.data())
    def crash(self, data: st.DataObject) -> None:
        """The worker holding a claim dies: nobody commits it; its (tiny) lease runs out."""
        held = data.draw(st.sampled_from([h for h in self.held if h.tiny]), label="claim")
        self.held.remove(held)
        self.crashed.append(held)

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        """A worker renews its lease: it learns the job's status, or that the lease is lost."""
        held = data.draw(st.sampled_from(self.held), label="claim")
        job = self.jobs[held.chunk.job_id]
        live = self._live(held)
        lease = TINY_LEASE if held.tiny else LONG_LEASE
        status = self.store.heartbeat(held.chunk, lease, "beating")
        assert status == (job.status if live else None)
        if live:
            job.chunks[held.chunk.seq].expires = time.time() + lease

    @rule()
    def reap(self) -> None:
        self._reap()

    @rule()
    def toggle_failures(self) -> None:
        """The outside world gets better (or worse): failing items succeed on their next attempt."""
        self.failing = not self.failing

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), legal=st.booleans())
    def steer(self, data: st.DataObject, legal: bool) -> None:
        """An operator acts on a job: half the time in a way its status allows, else anyhow. The model says
        whether the action is allowed and where it leads."""
        jobs = sorted(self.jobs)
        choices = [(a, j) for a, allowed in ALLOWED_FROM.items() for j in jobs if self.jobs[j].status in allowed]
        if not legal or not choices:
            choices = [(a, j) for a in ALLOWED_FROM for j in jobs]
        action, job_id = data.draw(st.sampled_from(choices), label="action")
        getattr(self, f"_{action}")(self.jobs[job_id])

    def _cancel(self, job: MJob) -> None:
        if job.status in FINISHED:
            self._refused(self.store.cancel, job)
            return
        if job.status != CG:
            job.status = CG
            for chunk in job.chunks:
                if chunk.status == "pending":
                    chunk.status = "cancelled"
        job.finish_if_done()
        assert self.store.cancel(job.id).status == job.status

    def _pause(self, job: MJob) -> None:
        if job.status not in (P, R, PA):
            self._refused(self.store.pause, job)
            return
        job.status = PA
        assert self.store.pause(job.id).status == PA

    def _resume(self, job: MJob) -> None:
        if job.status != PA:
            self._refused(self.store.resume, job)
            return
        self._resumed(job)

    def _retry_failed(self, job: MJob) -> None:
        if job.status not in (PART, BAD) or not job.tally()[ItemState.FAILED]:
            self._refused(self.store.retry_failed, job)
            return
        job.round += 1
        job.status = R
        for chunk in job.chunks:
            if ItemState.FAILED in chunk.states or chunk.status == "cancelled":
                chunk.states = chunk.states.replace(ItemState.FAILED, ItemState.PENDING)
                chunk.attempts = {i: n for i, n in chunk.attempts.items() if chunk.states[i] != ItemState.PENDING}
                chunk.status, chunk.round, chunk.lost = "pending", job.round, 0
        self.retried.add(job.id)
        reopened = self.store.retry_failed(job.id)
        assert (reopened.status, reopened.round, reopened.failed) == (R, job.round, 0)

    # steps shared with the teardown --------------------------------------------------------------------------

    def _submit(self, new: Submission) -> None:
        spec = SPECS[new.type_name]
        items = list(range(new.start, new.start + new.size))
        job = self.yard.submit(
            spec.name, items=items, params={"fail_mod": new.fail_mod}, owner=new.owner, priority=new.priority
        )
        assert (job.status, job.total, job.processed, job.sealed) == (P, new.size, 0, True)
        chunks = [
            plan_chunk(seq, first, items[first : first + spec.chunk_size])
            for seq, first in enumerate(range(0, new.size, spec.chunk_size))
        ]
        self.jobs[job.id] = MJob(job.id, spec, new.owner, new.priority, new.fail_mod, new.size, chunks)

    def _claim(self, tiny: bool) -> Held | None:
        eligible = [j for j in self.jobs.values() if j.claimable()]
        lease = TINY_LEASE if tiny else LONG_LEASE
        claimed = self.store.claim_chunk(WORKER, lease, TYPES)
        if not eligible:
            assert claimed is None, "a chunk was claimed although none is runnable"
            return None
        assert claimed is not None, f"nothing claimed although jobs {[j.id for j in eligible]} have runnable chunks"
        job = self.jobs[claimed.job_id]
        assert job in eligible, f"job {job.id} is {job.status} or has no runnable chunk (or is at its cap)"
        top = max(j.priority for j in eligible)
        assert job.priority == top, f"job {job.id} (priority {job.priority}) claimed before priority {top}"
        chunk = job.next_chunk()
        assert chunk is not None
        assert claimed.seq == chunk.seq, "a claim takes the job's next runnable chunk"
        assert (claimed.states, claimed.items, claimed.attempts) == (chunk.states, chunk.items, chunk.attempts)
        assert claimed.round == chunk.round == job.round
        chunk.status, chunk.token, chunk.tiny, chunk.expires = "running", claimed.token, tiny, time.time() + lease
        if job.status == P:
            job.status = R
        job.started = True
        held = Held(claimed, tiny)
        self.held.append(held)
        return held

    def _refused(self, action: Callable[[int], Job], job: MJob) -> None:
        with pytest.raises(IllegalTransition):
            action(job.id)

    def _live(self, held: Held) -> bool:
        chunk = self.jobs[held.chunk.job_id].chunks[held.chunk.seq]
        return chunk.status == "running" and chunk.token == held.chunk.token

    def _resumed(self, job: MJob) -> None:
        job.status = R if job.started else P
        job.finish_if_done()
        assert self.store.resume(job.id).status == job.status

    def _run_and_commit(self, held: Held, stop_after: int | None) -> None:
        for claims in (self.held, self.crashed):
            if held in claims:
                claims.remove(held)
        claimed = held.chunk
        job = self.jobs[claimed.job_id]
        chunk = job.chunks[claimed.seq]
        live = self._live(held)
        self.commits += 1
        self.marker = f"commit{self.commits}"  # every output names the claim that produced it
        expected = predict_run(job, claimed, failing=self.failing, marker=self.marker, stop_after=stop_after)
        job_type = self.yard.registry.get(claimed.job_type)
        ctx = Context(job_id=claimed.job_id, owner=claimed.owner, params=claimed.params, round=claimed.round)
        self._stop_after, self._handled = stop_after, 0
        if stop_after == 0:
            ctx.request_stop()
        try:
            outcome = run_chunk(job_type, claimed, ctx, done_scope=None)
        finally:
            self._stop_after = None
        assert (outcome.states, outcome.outputs, outcome.attempts) == (
            expected.states,
            expected.outputs,
            expected.attempts,
        )
        if not live:
            self.refused.add(self.marker)
            before = self._snapshot(job.id)
            with pytest.raises(LeaseLost):
                commit_outcome(self.store, job_type, outcome, ctx)
            assert self._snapshot(job.id) == before, "a refused commit changed the store"
            return
        commit_outcome(self.store, job_type, outcome, ctx)
        self.store.finish_if_done(job.id)
        chunk.states, chunk.outputs, chunk.attempts = expected.states, expected.outputs, expected.attempts
        chunk.token = None
        if ItemState.PENDING not in chunk.states:
            chunk.status = "done"
        else:
            chunk.status = "pending" if job.status in (P, R, PA) else "cancelled"
        job.finish_if_done()

    def _reap(self) -> None:
        expiring = [c for j in self.jobs.values() for c in j.chunks if c.status == "running" and c.tiny]
        wait = max((c.expires for c in expiring), default=0.0) + 0.01 - time.time()
        if wait > 0:
            time.sleep(wait)
        assert self.store.reap() == len(expiring)
        for job in self.jobs.values():
            for chunk in job.chunks:
                if chunk in expiring:
                    self._lose(job, chunk)
        for job in self.jobs.values():
            job.finish_if_done()

    @staticmethod
    def _lose(job: MJob, chunk: MChunk) -> None:
        chunk.lost += 1
        chunk.token = None
        if chunk.lost >= job.spec.max_attempts:  # lost too often: its open items fail, with a reason
            chunk.states = chunk.states.replace(ItemState.PENDING, ItemState.FAILED)
            chunk.status = "done"
        else:
            chunk.status = "cancelled" if job.status == CG else "pending"

    def _snapshot(self, job_id: int) -> tuple[Any, ...]:
        job = self.store.get_job(job_id)
        return job.status, job.counters, list(self.store.items(job_id)), self._chunk_rows(job_id)

    def _chunk_rows(self, job_id: int) -> list[tuple[int, str, str]]:
        c = chunks_table.c
        with self.store.db.read() as conn:
            rows = conn.execute(select(c.seq, c.status, c.states).where(c.job_id == job_id).order_by(c.seq)).all()
        return [(r.seq, r.status, r.states) for r in rows]

    # invariants ----------------------------------------------------------------------------------------------

    @invariant()
    def store_agrees_with_model(self) -> None:
        for job in self.jobs.values():
            stored = self.store.get_job(job.id)
            self._check_counters(stored)
            self._check_transition(stored)
            assert (stored.status, stored.total, stored.round) == (job.status, job.total, job.round), job.id
            self._check_items(stored, job)
            rows = self._chunk_rows(job.id)
            assert rows == [(c.seq, c.status, c.states) for c in job.chunks], f"job {job.id} chunks differ"
            if stored.status in FINISHED:
                assert not {status for _, status, _ in rows} & {"pending", "running"}, "a finished job has open chunks"

    def _check_counters(self, job: Job) -> None:
        c = job.counters
        assert c.processed == c.succeeded + c.failed + c.skipped, c
        assert min(c.processed, c.succeeded, c.failed, c.skipped) >= 0, c
        assert c.processed <= job.total, (c, job.total)

    def _check_transition(self, job: Job) -> None:
        before = self.seen.get(job.id, P)
        assert allowed_step(before, job.status, job.id in self.retried), f"job {job.id}: {before} → {job.status}"
        self.seen[job.id] = job.status
        self.retried.discard(job.id)

    def _check_items(self, stored: Job, job: MJob) -> None:
        items = list(self.store.items(job.id))
        assert [i.index for i in items] == list(range(job.total)), "each item is reported exactly once"
        tally = Counter(i.status for i in items)
        counted = (tally["succeeded"] + tally["failed"] + tally["skipped"], tally["succeeded"], tally["failed"])
        assert counted == (stored.processed, stored.succeeded, stored.failed), (tally, stored.counters)
        assert tally["skipped"] == stored.skipped
        expected = [(_label(c, s), o) for c in job.chunks for s, o in zip(c.states, c.outputs, strict=True)]
        assert [(i.status, i.output) for i in items] == expected, "item states or outputs differ from the model"
        assert all(i.error is not None for i in items if i.status == "failed"), "a failed item says why"
        assert all(i.error is None for i in items if i.status not in ("failed", "skipped")), "only failures have errors"
        if stored.status == OK:
            assert tally.keys() <= {"succeeded", "skipped"}, tally

    # the end: every job driven to completion -----------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if sys.exc_info()[0] is None:  # the steps passed: finish every job and check the final state
                self._drive_to_completion()
        finally:
            try:
                self.yard.close()
            finally:
                self._drop()

    def _drive_to_completion(self) -> None:
        for held in list(self.held):
            self._run_and_commit(held, None)
        self._reap()  # the crashed workers' chunks go back to the queue
        for job in self.jobs.values():
            if job.status == PA:
                self._resumed(job)
        self.store_agrees_with_model()
        self.marker = "worker"
        for job_id in self.jobs:
            finished = self.yard.run_until_done(job_id, timeout=60)
            assert finished.status in FINISHED, f"job {job_id} is still {finished.status}"
        for job_id in self.jobs:
            self._check_final(self.store.get_job(job_id))

    def _check_final(self, job: Job) -> None:
        self._check_counters(job)
        self._check_transition(job)
        items = list(self.store.items(job.id))
        assert [i.index for i in items] == list(range(job.total)), "each item ends in exactly one state"
        tally = Counter(i.status for i in items)
        assert (tally["succeeded"], tally["failed"], tally["skipped"]) == (job.succeeded, job.failed, job.skipped)
        producers = {i.output.partition("@")[2] for i in items if i.status == "succeeded"}
        assert not producers & self.refused, "an output of a commit refused for its lost lease was kept"
        if job.status == OK:
            assert tally.keys() <= {"succeeded", "skipped"}, tally
        if job.status == CD:  # items a cancelled job never reached were never processed
            assert tally["cancelled"] == job.total - job.processed
        else:
            assert tally.keys() <= {"succeeded", "failed", "skipped"}, (job.id, job.status, tally)
            assert job.processed == job.total
        assert not {status for _, status, _ in self._chunk_rows(job.id)} & {"pending", "running"}


MODEL_SETTINGS = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def test_store_follows_the_lifecycle_model(database_url: str) -> None:
    """Random lifecycles on a fresh database per example; see the module docstring."""
    databases = FreshDatabases(database_url)
    run_state_machine_as_test(lambda: LifecycleMachine(databases), settings=MODEL_SETTINGS)


def test_fair_share_counts_every_running_chunk_of_an_owner(yard: Yard) -> None:
    """DESIGN.md, claim order: "then fair share across owners (the owner with fewest running chunks first)".

    The machine above checks priority; this is the fair-share half, in the case it would not see reliably:
    alice's running chunks all belong to a job with nothing left to claim, and she has another job waiting.
    """
    yard.job("bulk", chunk_size=1)(lambda item, ctx: item)
    busy = yard.submit("bulk", items=range(2), owner="alice")
    first = yard.store.claim_chunk("w1", LONG_LEASE, ["bulk"])
    second = yard.store.claim_chunk("w2", LONG_LEASE, ["bulk"])
    assert first is not None
    assert second is not None
    assert (first.job_id, second.job_id) == (busy.id, busy.id), "alice's first job is now fully in flight"
    waiting = yard.submit("bulk", items=range(2), owner="alice")
    bobs = yard.submit("bulk", items=range(2), owner="bob")

    third = yard.store.claim_chunk("w3", LONG_LEASE, ["bulk"])

    assert third is not None
    assert (third.owner, third.job_id) == ("bob", bobs.id), (
        f"alice runs 2 chunks and bob none, yet job {third.job_id} of {third.owner} was claimed "
        f"(alice's waiting job is {waiting.id})"
    )
