"""The store and engine, driven by Hypothesis through random lifecycles, against a small in-memory model.

Every step (submit, claim a chunk or a source to plan, store planned chunks, seal, hand planning over, run and
commit, crash, reap, commit or plan with a stale lease, cancel, pause, resume, retry-failed) is predicted by the
model first; after every step the store's view must equal the model's and satisfy the guarantees of DESIGN.md
("The chunk protocol", "Job lifecycle", "Guarantees"). The job types mix the policies: on_error continue, retry
and stop, max_failures as a count and as a ratio, a per-chunk ``write`` into a table of the state database,
a source planned by workers whose succeeded keys are remembered per owner (skip_done), an exclusive key, a
concurrency cap. At the end an in-process worker drives every job to completion and each item must end in
exactly one terminal state. The test prints how often each rule ran and fails if one never did.

Each Hypothesis example gets a database of its own: a new SQLite file, or a new PostgreSQL schema.
"""

from __future__ import annotations

import copy
import functools
import itertools
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, text

from batchyard import Yard
from batchyard.core.context import Context
from batchyard.core.model import ClaimedChunk, Job, PlannedChunk
from batchyard.core.status import FINISHED, ItemState, JobStatus
from batchyard.engine.commit import commit_outcome
from batchyard.engine.planner import plan_source
from batchyard.engine.runner import run_chunk
from batchyard.errors import Conflict, IllegalTransition, LeaseLost, NothingToRetry
from batchyard.store.base import PlanningClaim
from batchyard.store.sql import codec
from batchyard.store.sql.tables import chunks as chunks_table

pytestmark = pytest.mark.slow  # long: run by `make slow` (CI), not by `make test`

TINY_LEASE = 0.05  # a "crashed" worker's lease: expired by the next reap (or, for a planner, the next claim)
LONG_LEASE = 600.0  # never expires during a test
MAX_JOBS = 6
OWNERS = ("alice", "bob")
WORKER = "model-worker"
SKIP_EVERY = 7  # items with value % 7 == 6 are skipped by the job's code
RATIO_MIN_PROCESSED = 100  # DESIGN: a failure ratio is judged once this many items are done
KEY_SPACE = range(0, 40)  # every key a job of the machine can have (start 0..20, at most 12 items)

P, R, PA = JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED
CG, CD = JobStatus.CANCELLING, JobStatus.CANCELLED
OK, PART, BAD = JobStatus.SUCCEEDED, JobStatus.PARTIALLY_SUCCEEDED, JobStatus.FAILED
PLANNABLE = (P, R, PA)  # a planner may store chunks; a partial commit or a lost chunk goes back to the queue

# One edge per DESIGN.md "Job lifecycle" arrow (paused → pending: resuming a job that never started; a paused
# job whose last chunk in flight commits has nothing left to do and finishes; pending → succeeded: a source
# whose every item was done before; cancelling → failed: a job stopped by its own failures drains, then fails).
EDGES: dict[JobStatus, set[JobStatus]] = {
    P: {R, PA, CG, OK},
    R: {PA, CG, OK, PART, BAD},
    PA: {R, P, CG, OK, PART, BAD},
    CG: {CD, BAD},
    OK: set(),
    PART: {R},
    BAD: {R},
    CD: set(),
}
# One store call may take two arrows at once (cancel: → cancelling → cancelled; resume: → running → finished).
ONE_STEP = {a: {a} | b | {c for x in b for c in EDGES[x]} for a, b in EDGES.items()}


# Where each operator action is allowed from (retry-failed: also only with something to retry).
ALLOWED_FROM = {
    "cancel": {P, R, PA, CG},
    "pause": {P, R, PA},
    "resume": {PA},
    "retry_failed": {PART, BAD},
}

RULES: list[str] = []  # every rule of the machine, in order of declaration
F = TypeVar("F", bound=Callable[..., Any])


def counted(fn: F) -> F:
    """Count each run of a rule (and tell Hypothesis's statistics), so a dead rule fails the test."""
    RULES.append(fn.__name__)

    @functools.wraps(fn)
    def wrapper(self: LifecycleMachine, *args: Any, **kwargs: Any) -> Any:
        self.fired[f"rule {fn.__name__}"] += 1
        event(f"rule {fn.__name__}")
        return fn(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _label(chunk: Any, state: str) -> str:
    """An item a cancel left undone is reported as cancelled, not pending."""
    if state == ItemState.PENDING and chunk.status == "cancelled":
        return "cancelled"
    return ItemState(state).label


def too_many_failures(limit: int | float | None, failed: int, processed: int) -> bool:
    """DESIGN.md "max_failures (count or ratio)": a count is exceeded, or a ratio once enough items are done."""
    if limit is None or not failed:
        return False
    if isinstance(limit, int):
        return failed > limit
    return processed >= RATIO_MIN_PROCESSED and failed / processed > limit


@dataclass(frozen=True)
class Spec:
    """A job type under test: small chunks, and the policies that decide what happens to a failing item."""

    name: str
    chunk_size: int
    max_attempts: int  # also the lost-worker limit of its chunks
    on_error: str = "continue"
    max_concurrency: int | None = None
    max_failures: int | float | None = None
    writes: bool = False  # marked items fail in the per-chunk write (bisected), not in process
    sourced: bool = False  # a worker plans its items from a source; succeeded keys are remembered per owner
    exclusive: bool = False  # one active job per owner
    sizes: tuple[int, int] = (3, 12)

    @property
    def retry(self) -> bool:
        return self.on_error == "retry"

    @property
    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "chunk_size": self.chunk_size,
            "max_attempts": self.max_attempts,
            "on_error": self.on_error,
            "retry_backoff": 0.0,
        }
        if self.max_concurrency is not None:
            options["max_concurrency"] = self.max_concurrency
        if self.max_failures is not None:
            options["max_failures"] = self.max_failures
        if self.sourced:
            options["skip_done"] = "{type}:{owner}"
        if self.exclusive:
            options["exclusive"] = "{type}:{owner}"
        return options

    def scope(self, owner: str) -> str | None:
        return f"{self.name}:{owner}" if self.sourced else None

    def exclusive_key(self, owner: str) -> str | None:
        return f"{self.name}:{owner}" if self.exclusive else None

    def params(self, start: int, size: int, fail_mod: int) -> dict[str, Any]:
        if self.writes:
            return {"write_mod": fail_mod}
        if self.sourced:
            return {"fail_mod": fail_mod, "start": start, "size": size}
        return {"fail_mod": fail_mod}


SPECS = {
    s.name: s
    for s in (
        Spec("flaky", chunk_size=3, max_attempts=3),
        Spec("retrying", chunk_size=2, max_attempts=2, on_error="retry"),
        Spec("capped", chunk_size=4, max_attempts=2, max_concurrency=1),
        Spec("stopper", chunk_size=3, max_attempts=2, on_error="stop"),
        Spec("limited", chunk_size=2, max_attempts=2, max_failures=1),
        Spec("ratio", chunk_size=30, max_attempts=2, max_failures=0.3, sizes=(100, 125)),
        Spec("writer", chunk_size=4, max_attempts=2, writes=True),
        Spec("rewriter", chunk_size=3, max_attempts=2, writes=True, on_error="retry"),
        Spec("sourced", chunk_size=3, max_attempts=2, sourced=True, max_failures=0),
        Spec("solo", chunk_size=4, max_attempts=2, exclusive=True),
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


def submissions(type_name: str) -> st.SearchStrategy[Submission]:
    return st.builds(
        Submission,
        type_name=st.just(type_name),
        size=st.integers(*SPECS[type_name].sizes),
        start=st.integers(0, 20),
        fail_mod=st.sampled_from([0, 2, 3, 5]),
        owner=st.sampled_from(OWNERS),
        priority=st.sampled_from([0, 0, 1]),
    )


SUBMISSIONS = st.sampled_from([*TYPES, "sourced", "sourced"]).flatmap(submissions)


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
    claimed_at: int = 0  # order of the latest claim (fair share serves the owner served longest ago first)


@dataclass(repr=False)
class MJob:
    id: int
    spec: Spec
    owner: str
    priority: int
    fail_mod: int
    items: list[int]  # every item the job will have (for a source job: what its source yields)
    chunks: list[MChunk]
    sealed: bool
    status: JobStatus = P
    started: bool = False
    round: int = 1
    stopped: bool = False  # stopped by its own failures: it drains like a cancelled job, then fails
    planner: str | None = None  # the planning lease's token as the store holds it
    planner_open: bool = True  # nobody plans it, or the planner's lease will have run out by the next claim
    planner_expires: float = 0.0  # an upper bound of an open planner lease's expiry

    def __repr__(self) -> str:
        return f"<{self.spec.name} job {self.id} of {self.owner}: {self.status}>"

    @property
    def total(self) -> int:
        return sum(len(c.items) for c in self.chunks)

    @property
    def exclusive_key(self) -> str | None:
        return self.spec.exclusive_key(self.owner)

    def tally(self) -> Counter[str]:
        return Counter("".join(c.states for c in self.chunks))

    def running(self) -> int:
        return sum(c.status == "running" for c in self.chunks)

    def next_chunk(self) -> MChunk | None:
        return next((c for c in self.chunks if c.status == "pending"), None)

    def claimable(self) -> bool:
        cap = self.spec.max_concurrency
        return self.status in (P, R) and self.next_chunk() is not None and (cap is None or self.running() < cap)

    def needs_planner(self) -> bool:
        return self.spec.sourced and not self.sealed and self.status in (P, R) and self.planner_open

    def stop(self) -> bool:
        """stop_job: a job going badly stops taking work; its chunks in flight drain."""
        if self.status not in PLANNABLE:
            return False
        self.status, self.stopped = CG, True
        self.cancel_pending()
        return True

    def cancel_pending(self) -> None:
        for chunk in self.chunks:
            if chunk.status == "pending":
                chunk.status = "cancelled"

    def finish_if_done(self) -> None:
        """lifecycle.finish_if_done: a drained job ends in the status its counters call for."""
        if self.status in FINISHED or not (self.sealed or self.status == CG):
            return
        open_ = ("running",) if self.status == CG else ("pending", "running")
        if any(c.status in open_ for c in self.chunks):
            return
        tally = self.tally()
        if self.status == CG:
            self.status = BAD if self.stopped else CD
        elif tally[ItemState.FAILED] and tally[ItemState.SUCCEEDED]:
            self.status = PART
        elif tally[ItemState.FAILED]:
            self.status = BAD
        else:
            self.status = OK
        self.cancel_pending()
        self.planner, self.planner_open = None, True

    def fails_in_process(self, item: int) -> bool:
        return not self.spec.writes and self.fails(item)

    def fails(self, item: int) -> bool:
        return bool(self.fail_mod) and item % self.fail_mod == 0


def plan_chunk(seq: int, first_index: int, items: list[int], states: str | None = None) -> MChunk:
    states = states or ItemState.PENDING * len(items)
    status = "pending" if ItemState.PENDING in states else "done"
    return MChunk(seq, first_index, items, states, [None] * len(items), status=status)


@dataclass
class Predicted:
    states: str
    outputs: list[Any]
    attempts: dict[int, int]
    stop: bool = False  # on_error="stop" and an item failed


@dataclass
class Held:
    """A claim as a worker holds it; ``chunk`` is the snapshot the claim returned."""

    chunk: ClaimedChunk
    tiny: bool


@dataclass
class Planner:
    """A planning claim as a worker holds it, with the planner's own view of how far it got."""

    claim: PlanningClaim
    tiny: bool
    planned: int
    next_seq: int


def predict_run(job: MJob, chunk: ClaimedChunk, *, failing: bool, marker: str, stop_after: int | None) -> Predicted:
    """What run_chunk makes of the claimed snapshot: item by item, until told to stop after ``stop_after``."""
    states, outputs, attempts = list(chunk.states), list(chunk.outputs), dict(chunk.attempts)
    handled, stop = 0, False
    for i, state in enumerate(chunk.states):
        if state != ItemState.PENDING:
            continue
        if stop or (stop_after is not None and handled >= stop_after):
            break
        handled += 1
        item = chunk.items[i]
        if item % SKIP_EVERY == SKIP_EVERY - 1:
            states[i], outputs[i] = ItemState.SKIPPED, None
        elif failing and job.fails_in_process(item):
            attempts[i] = attempts.get(i, 0) + 1
            if not (job.spec.retry and attempts[i] < job.spec.max_attempts):
                states[i] = ItemState.FAILED
                stop = job.spec.on_error == "stop"
        else:
            states[i], outputs[i] = ItemState.SUCCEEDED, f"{item}@{marker}"
            if i in attempts:  # an item that failed before records the attempt that succeeded
                attempts[i] += 1
    return Predicted("".join(states), outputs, attempts, stop)


def predict_write(job: MJob, chunk: ClaimedChunk, run: Predicted, *, failing: bool) -> Predicted:
    """The commit's write, bisected: the marked items it refuses fail alone (or wait for a retry)."""
    if not job.spec.writes or not failing:
        return run
    states, outputs, attempts = list(run.states), list(run.outputs), dict(run.attempts)
    for i, (before, after) in enumerate(zip(chunk.states, run.states, strict=True)):
        if before != ItemState.PENDING or after != ItemState.SUCCEEDED or not job.fails(chunk.items[i]):
            continue
        tried = attempts.setdefault(i, 1)
        outputs[i] = None
        retry = job.spec.retry and tried < job.spec.max_attempts
        states[i] = ItemState.PENDING if retry else ItemState.FAILED
    return Predicted("".join(states), outputs, attempts, run.stop)


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
    def __init__(self, databases: FreshDatabases, fired: Counter[str]) -> None:
        super().__init__()
        url, self._drop = databases.create()
        self.fired = fired
        self.yard = Yard(url, lease_seconds=5.0)
        for spec in SPECS.values():
            self.yard.job(spec.name, **spec.options)(self._job_code(spec))
        self.store = self.yard.store
        self.store.planning_lease = LONG_LEASE  # a planner that stored a batch holds its lease for the test
        with self.store.db.write() as conn:
            conn.execute(text("CREATE TABLE model_effects (job_id integer NOT NULL, item integer NOT NULL)"))
        self.jobs: dict[int, MJob] = {}
        self.held: list[Held] = []  # claims a live worker still holds
        self.crashed: list[Held] = []  # claims whose worker died: never committed, unless it comes back
        self.planners: list[Planner] = []  # planning claims a live worker holds
        self.dead_planners: list[Planner] = []  # planners that died: they may come back, stale
        self.done: dict[str, set[str]] = {}  # skip_done scope → keys of items that succeeded or were skipped by the job
        self.seen: dict[int, JobStatus] = {}
        self.retried: set[int] = set()
        self.failing = True
        self.marker = "none"
        self.commits = 0
        self.claims = 0
        self.refused: set[str] = set()  # markers of the commits refused for a lost lease
        self._stop_after: int | None = None
        self._handled = 0

    def saw(self, what: str) -> None:
        """Count an outcome worth seeing (a conflict, a takeover, a stop), for the summary."""
        self.fired[what] += 1
        event(what)

    # the job types' code -------------------------------------------------------------------------------------

    def _job_code(self, spec: Spec) -> Any:
        machine = self
        if spec.sourced:

            class Sourced:
                def process(self, item: int, ctx: Context) -> str:
                    return machine._process(item, ctx)

                def source(self, params: dict[str, Any]) -> range:
                    return range(params["start"], params["start"] + params["size"])

                def key(self, item: int) -> str:
                    return str(item)

            return Sourced
        if spec.writes:

            class Writer:
                def process(self, item: int, ctx: Context) -> str:
                    return machine._process(item, ctx)

                def write(self, outputs: list[str], ctx: Context) -> None:
                    machine._write(outputs, ctx)

            return Writer
        return self._process

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

    def _write(self, outputs: list[str], ctx: Context) -> None:
        """Write the batch's effects, then refuse it if it holds a marked item: the savepoint must undo them."""
        items = [int(output.partition("@")[0]) for output in outputs]
        rows = [{"job_id": ctx.job_id, "item": item} for item in items]
        ctx.connection.execute(text("INSERT INTO model_effects (job_id, item) VALUES (:job_id, :item)"), rows)
        mod = ctx.params["write_mod"]
        refused = [item for item in items if self.failing and mod and item % mod == 0]
        if refused:
            raise ValueError(f"the target refuses items {refused}")

    # rules ---------------------------------------------------------------------------------------------------

    @initialize(first=st.lists(SUBMISSIONS, max_size=2), sourced=submissions("sourced"), solo=submissions("solo"))
    def submit_first(self, first: list[Submission], sourced: Submission, solo: Submission) -> None:
        """Every run has a source to plan and an exclusive key, so the rules on them can fire."""
        for new in [sourced, solo, *first]:
            self._submit(new)

    @precondition(lambda self: len(self.jobs) < MAX_JOBS)
    @rule(new=SUBMISSIONS)
    @counted
    def submit(self, new: Submission) -> None:
        self._submit(new)

    @precondition(lambda self: self._key_holders())
    @rule(data=st.data())
    @counted
    def submit_while_key_held(self, data: st.DataObject) -> None:
        """A second job with an active job's exclusive key is refused, naming the holder."""
        holder = data.draw(st.sampled_from(self._key_holders()), label="holder")
        self._submit(Submission("solo", 3, 0, 0, holder.owner, 0))

    @precondition(lambda self: len(self.jobs) < MAX_JOBS and (self._free_finished_keys() or self._idle_holders()))
    @rule(data=st.data(), new=submissions("solo"))
    @counted
    def resubmit_exclusive(self, data: st.DataObject, new: Submission) -> None:
        """A finished job frees its key (one is cancelled first if need be): a new job takes it; retrying the
        finished one is then refused, naming the new holder."""
        if not self._free_finished_keys():
            self._cancel(data.draw(st.sampled_from(self._idle_holders()), label="cancelled holder"))
        finished = data.draw(st.sampled_from(self._free_finished_keys()), label="finished")
        self._submit(Submission("solo", new.size, new.start, new.fail_mod, finished.owner, new.priority))
        self._retry_failed(finished)

    @rule(tiny=st.booleans())
    @counted
    def claim(self, tiny: bool) -> None:
        """A worker claims work (a chunk, or a source to plan) and keeps it for a while (a tiny lease: it may
        stall past it)."""
        self._claim(tiny)

    @rule(units=st.integers(1, 4), stop_after=st.none() | st.integers(0, 3))
    @counted
    def work(self, units: int, stop_after: int | None) -> None:
        """A live worker claims work and does it: runs and commits a chunk (maybe stopping early, as on
        shutdown), or plans a whole source with the engine's planner; again."""
        for _ in range(units):
            taken = self._claim(False)
            if isinstance(taken, Held):
                self._run_and_commit(taken, stop_after)
            elif isinstance(taken, Planner):
                self._plan_with_engine(taken)
            else:
                return

    @rule(tiny=st.booleans())
    @counted
    def claim_planning(self, tiny: bool) -> None:
        """A worker claims only planning (the store's planning claim), in the same order as all work."""
        self._claim(tiny, chunks=False)

    @rule()
    @counted
    def claim_and_die(self) -> None:
        """A worker claims work and is killed at once (OOM, kill -9)."""
        taken = self._claim(True)
        if isinstance(taken, Held):
            self.held.remove(taken)
            self.crashed.append(taken)
        elif isinstance(taken, Planner):
            self.planners.remove(taken)
            self.dead_planners.append(taken)

    @precondition(lambda self: self.held or self.crashed)
    @rule(data=st.data(), stop_after=st.none() | st.integers(0, 3))
    @counted
    def run_and_commit(self, data: st.DataObject, stop_after: int | None) -> None:
        """A worker runs a claim it holds (or one whose worker stalled) and commits it."""
        held = data.draw(st.sampled_from(self.held + self.crashed), label="claim")
        self._run_and_commit(held, stop_after)

    @precondition(lambda self: self._stale() or self._chunk_next())
    @rule(data=st.data(), reclaimed=st.booleans())
    @counted
    def commit_stale(self, data: st.DataObject, reclaimed: bool) -> None:
        """A worker whose chunk was reaped (and maybe claimed again) tries to commit: refused, nothing changes.
        With no such worker yet, one stalls now: it claims with a tiny lease, the reaper takes the chunk back."""
        if not self._stale():
            held = self._claim(True)
            assert isinstance(held, Held)
            self._reap()
            if reclaimed:
                self._claim(False)
        stale = self._stale()
        self._run_and_commit(data.draw(st.sampled_from(stale), label="claim"), None)

    @precondition(lambda self: self.planners or self._expected_work(chunks=False))
    @rule(data=st.data(), chunks=st.integers(1, 2))
    @counted
    def plan(self, data: st.DataObject, chunks: int) -> None:
        """A planner (one a worker holds, else one claimed now) stores its next chunks in one transaction,
        renewing its lease, or seals the job once its source is exhausted."""
        if not self.planners:
            self._claim(False, chunks=False)
        planner = data.draw(st.sampled_from(self.planners), label="planner")
        self._plan_step(planner, chunks)

    @precondition(lambda self: any(not self._planning(p) for p in self.planners + self.dead_planners))
    @rule(data=st.data())
    @counted
    def plan_stale(self, data: st.DataObject) -> None:
        """A planner that stalled past its lease (and was taken over) comes back: refused, nothing changes."""
        stale = [p for p in self.planners + self.dead_planners if not self._planning(p)]
        self._plan_step(data.draw(st.sampled_from(stale), label="planner"), 1)

    @precondition(lambda self: any(p.tiny for p in self.planners) or self._expected_work(chunks=False))
    @rule(data=st.data())
    @counted
    def planner_dies(self, data: st.DataObject) -> None:
        """The worker planning a source (one claimed with a tiny lease, now if need be) dies; its lease runs
        out and the next claim takes over."""
        if not any(p.tiny for p in self.planners):
            self._claim(True, chunks=False)
        planner = data.draw(st.sampled_from([p for p in self.planners if p.tiny]), label="planner")
        self.planners.remove(planner)
        self.dead_planners.append(planner)

    @precondition(lambda self: any(self._planning(p) for p in self.planners) or self._expected_work(chunks=False))
    @rule(data=st.data())
    @counted
    def planner_hands_over(self, data: st.DataObject) -> None:
        """A planner's worker (one planning, else one claiming now) shuts down: it gives its lease up, so
        another worker plans on at once."""
        if not any(self._planning(p) for p in self.planners):
            self._claim(False, chunks=False)
        planner = data.draw(st.sampled_from([p for p in self.planners if self._planning(p)]), label="planner")
        self._hand_over(planner)

    @precondition(lambda self: self.held or self._chunk_next())
    @rule(data=st.data())
    @counted
    def heartbeat(self, data: st.DataObject) -> None:
        """A worker renews its lease (one it holds, else one it claims now): it learns the job's status, or
        that the lease is lost."""
        if not self.held:
            self._claim(False)
        held = data.draw(st.sampled_from(self.held), label="claim")
        job = self.jobs[held.chunk.job_id]
        live = self._live(held)
        lease = TINY_LEASE if held.tiny else LONG_LEASE
        status = self.store.heartbeat(held.chunk, lease, "beating")
        assert status == (job.status if live else None)
        if live:
            job.chunks[held.chunk.seq].expires = time.time() + lease

    @rule()
    @counted
    def reap(self) -> None:
        self._reap()

    @rule()
    @counted
    def toggle_failures(self) -> None:
        """The outside world gets better (or worse): failing items succeed on their next attempt."""
        self.failing = not self.failing

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), legal=st.booleans())
    @counted
    def steer(self, data: st.DataObject, legal: bool) -> None:
        """An operator acts on a job: half the time in a way its status allows, else anyhow. The model says
        whether the action is allowed and where it leads."""
        jobs = sorted(self.jobs)
        choices = [(a, j) for a, allowed in ALLOWED_FROM.items() for j in jobs if self.jobs[j].status in allowed]
        if not legal or not choices:
            choices = [(a, j) for a in ALLOWED_FROM for j in jobs]
        action, job_id = data.draw(st.sampled_from(choices), label="action")
        getattr(self, f"_{action}")(self.jobs[job_id])

    # operator actions ----------------------------------------------------------------------------------------

    def _cancel(self, job: MJob) -> None:
        if job.status in FINISHED:
            self._refused(self.store.cancel, job)
            return
        if job.status != CG:
            job.status = CG
            job.cancel_pending()
        job.finish_if_done()
        assert self.store.cancel(job.id).status == job.status

    def _pause(self, job: MJob) -> None:
        if job.status not in PLANNABLE:
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
        if job.status not in (PART, BAD):
            self._refused(self.store.retry_failed, job)
            return
        tally = job.tally()
        resumes_planning = job.spec.sourced and not job.sealed
        if not tally[ItemState.FAILED] and not tally[ItemState.PENDING] and not resumes_planning:
            self._refused(self.store.retry_failed, job, NothingToRetry)
            return
        holder = self._holder(job.exclusive_key)
        if holder is not None:
            self.saw("retry refused: the exclusive key is held")
            self._refused(self.store.retry_failed, job, Conflict, job_id=holder.id)
            return
        if resumes_planning:
            self.saw("retry resumes planning")
        job.round += 1
        job.status, job.stopped, job.planner, job.planner_open = R, False, None, True
        for chunk in job.chunks:
            if ItemState.FAILED in chunk.states or chunk.status == "cancelled":
                chunk.states = chunk.states.replace(ItemState.FAILED, ItemState.PENDING)
                chunk.attempts = {i: n for i, n in chunk.attempts.items() if chunk.states[i] != ItemState.PENDING}
                chunk.status, chunk.round, chunk.lost = "pending", job.round, 0
        self.retried.add(job.id)
        reopened = self.store.retry_failed(job.id)
        assert (reopened.status, reopened.round, reopened.failed) == (R, job.round, 0)

    # steps shared with the teardown --------------------------------------------------------------------------

    def _stale(self) -> list[Held]:
        return [h for h in self.held + self.crashed if not self._live(h)]

    def _chunk_next(self) -> bool:
        """Whether the next claim takes a chunk (not planning, not nothing)."""
        expected = self._expected_work(chunks=True)
        return expected is not None and not expected[1]

    def _key_holders(self) -> list[MJob]:
        return [j for j in self.jobs.values() if j.spec.exclusive and j.status not in FINISHED]

    def _holder(self, key: str | None) -> MJob | None:
        if key is None:
            return None
        return next((j for j in self._key_holders() if j.exclusive_key == key), None)

    def _idle_holders(self) -> list[MJob]:
        """Holders of an exclusive key that a cancel finishes at once (no chunk in flight)."""
        return [j for j in self._key_holders() if not j.running()]

    def _free_finished_keys(self) -> list[MJob]:
        finished = [j for j in self.jobs.values() if j.spec.exclusive and j.status in FINISHED]
        return [j for j in finished if self._holder(j.exclusive_key) is None]

    def _submit(self, new: Submission) -> None:
        spec = SPECS[new.type_name]
        items = list(range(new.start, new.start + new.size))
        params = spec.params(new.start, new.size, new.fail_mod)
        holder = self._holder(spec.exclusive_key(new.owner))
        source = None if spec.sourced else items

        def submit() -> Job:
            return self.yard.submit(spec.name, items=source, params=params, owner=new.owner, priority=new.priority)

        if holder is not None:
            self.saw("submit refused: the exclusive key is held")
            with pytest.raises(Conflict) as refused:
                submit()
            assert refused.value.details["job_id"] == holder.id, "the refusal names the job holding the key"
            return
        job = submit()
        chunks = [] if spec.sourced else self._cut(spec, items, 0, 0, len(items))
        model = MJob(job.id, spec, new.owner, new.priority, new.fail_mod, items, chunks, sealed=not spec.sourced)
        assert (job.status, job.total, job.processed, job.sealed) == (P, model.total, 0, model.sealed)
        self.jobs[job.id] = model
        model.finish_if_done()

    def _cut(self, spec: Spec, items: list[int], first_index: int, first_seq: int, count: int) -> list[MChunk]:
        pieces = [items[i : i + spec.chunk_size] for i in range(0, len(items), spec.chunk_size)][:count]
        chunks, index = [], first_index
        for seq, piece in enumerate(pieces, start=first_seq):
            chunks.append(plan_chunk(seq, index, piece))
            index += len(piece)
        return chunks

    def _expected_work(self, chunks: bool) -> tuple[MJob, bool] | None:
        """Claim order (DESIGN.md "Claim"): priority, then the owner with the fewest running chunks, then the
        owner served longest ago, then the oldest job; a job's chunks before its planning."""
        active = [j for j in self.jobs.values() if j.status not in FINISHED]
        running: Counter[str] = Counter()
        served: dict[str, int] = {}
        for job in active:
            running[job.owner] += job.running()
            served[job.owner] = max([served.get(job.owner, 0), *(c.claimed_at for c in job.chunks)])
        offers = [(j, False) for j in active if chunks and j.claimable()]
        offers += [(j, True) for j in active if j.needs_planner()]
        return min(
            offers,
            key=lambda o: (-o[0].priority, running[o[0].owner], served.get(o[0].owner, 0), o[0].id, o[1]),
            default=None,
        )

    def _let_tiny_planner_leases_expire(self) -> None:
        due = [j.planner_expires for j in self.jobs.values() if j.planner is not None and j.planner_open]
        wait = max(due, default=0.0) + 0.01 - time.time()
        if wait > 0:
            time.sleep(wait)

    def _claim(self, tiny: bool, *, chunks: bool = True) -> Held | Planner | None:
        self._let_tiny_planner_leases_expire()
        expected = self._expected_work(chunks)
        lease = TINY_LEASE if tiny else LONG_LEASE
        claim = self.store.claim if chunks else self.store.claim_planning
        work = claim(WORKER, lease, TYPES)
        if expected is None:
            assert work is None, f"{work} was claimed although there is nothing to do"
            return None
        job, plans = expected
        assert work is not None, f"nothing claimed although job {job.id} has work"
        assert (work.job_id, isinstance(work, PlanningClaim)) == (job.id, plans), (
            f"claimed {'planning' if isinstance(work, PlanningClaim) else 'a chunk'} of job {work.job_id}, "
            f"expected {'planning' if plans else 'a chunk'} of job {job.id}"
        )
        if isinstance(work, PlanningClaim):
            return self._took_planning(job, work, tiny, lease)
        return self._took_chunk(job, work, tiny, lease)

    def _took_planning(self, job: MJob, work: PlanningClaim, tiny: bool, lease: float) -> Planner:
        if job.planner is not None:
            self.saw("planning taken over")
        assert (work.planned, work.next_seq) == (job.total, len(job.chunks)), "a takeover resumes after what is stored"
        job.planner, job.planner_open, job.planner_expires = work.token, tiny, time.time() + lease
        planner = Planner(work, tiny, work.planned, work.next_seq)
        self.planners.append(planner)
        return planner

    def _took_chunk(self, job: MJob, claimed: ClaimedChunk, tiny: bool, lease: float) -> Held:
        chunk = job.next_chunk()
        assert chunk is not None
        assert claimed.seq == chunk.seq, "a claim takes the job's next runnable chunk"
        assert (claimed.states, claimed.items, claimed.attempts) == (chunk.states, chunk.items, chunk.attempts)
        assert claimed.round == chunk.round == job.round
        self.claims += 1
        chunk.status, chunk.token, chunk.tiny = "running", claimed.token, tiny
        chunk.expires, chunk.claimed_at = time.time() + lease, self.claims
        if job.status == P:
            job.status = R
        job.started = True
        held = Held(claimed, tiny)
        self.held.append(held)
        return held

    def _refused(
        self, action: Callable[[int], Job], job: MJob, error: type[Exception] = IllegalTransition, **details: Any
    ) -> None:
        before = self._snapshot(job.id)
        with pytest.raises(error) as refused:
            action(job.id)
        assert all(refused.value.details[k] == v for k, v in details.items()), refused.value.details  # type: ignore[attr-defined]
        assert self._snapshot(job.id) == before, "a refused action changed the store"

    def _live(self, held: Held) -> bool:
        chunk = self.jobs[held.chunk.job_id].chunks[held.chunk.seq]
        return chunk.status == "running" and chunk.token == held.chunk.token

    def _planning(self, planner: Planner) -> bool:
        """Whether the store still takes this planner's batches (its token holds, the job may still grow)."""
        job = self.jobs[planner.claim.job_id]
        return job.planner == planner.claim.token and job.status in PLANNABLE

    def _resumed(self, job: MJob) -> None:
        job.status = R if job.started else P
        job.finish_if_done()
        assert self.store.resume(job.id).status == job.status

    # planning ------------------------------------------------------------------------------------------------

    def _forget(self, planner: Planner) -> None:
        for planners in (self.planners, self.dead_planners):
            if planner in planners:
                planners.remove(planner)

    def _plan_step(self, planner: Planner, chunks: int) -> None:
        job = self.jobs[planner.claim.job_id]
        if planner.planned == len(job.items):
            self._seal(planner)
            return
        batch = self._next_batch(job, planner, chunks)
        if not self._planning(planner):
            self.saw("a stale planner is refused")
            before = self._snapshot(job.id)
            with pytest.raises(LeaseLost):
                self.store.add_chunks(job.id, planner.claim.token, batch)
            assert self._snapshot(job.id) == before, "a refused batch changed the store"
            self._forget(planner)
            return
        assert (planner.planned, planner.next_seq) == (job.total, len(job.chunks)), "the lease holder's view"
        self.store.add_chunks(job.id, planner.claim.token, batch)
        job.chunks.extend(plan_chunk(c.seq, c.first_index, c.items, c.states) for c in batch)
        job.planner_open, planner.tiny = False, False
        planner.planned += sum(len(c.items) for c in batch)
        planner.next_seq += len(batch)

    def _next_batch(self, job: MJob, planner: Planner, count: int) -> list[PlannedChunk]:
        """The planner's next chunks, items whose key succeeded in an earlier job of the scope planned as
        skipped; the store must remember exactly the keys the model does."""
        scope = job.spec.scope(job.owner)
        assert scope is not None
        rest = job.items[planner.planned :]
        batch = []
        for chunk in self._cut(job.spec, rest, planner.planned, planner.next_seq, count):
            keys = [str(item) for item in chunk.items]
            done = self.done.get(scope, set()) & set(keys)
            assert self.store.done_keys(scope, keys) == done, "the store remembers other done keys"
            if done:
                self.saw("items done by an earlier job are planned as skipped")
            states = "".join(ItemState.SKIPPED if k in done else ItemState.PENDING for k in keys)
            batch.append(PlannedChunk(chunk.seq, chunk.first_index, chunk.items, keys, states))
        return batch

    def _seal(self, planner: Planner) -> None:
        job = self.jobs[planner.claim.job_id]
        self._forget(planner)
        if job.planner != planner.claim.token:
            before = self._snapshot(job.id)
            with pytest.raises(LeaseLost):
                self.store.seal(job.id, planner.claim.token)
            assert self._snapshot(job.id) == before, "a refused seal changed the store"
            return
        self.store.seal(job.id, planner.claim.token)
        self.store.finish_if_done(job.id)
        job.sealed, job.planner = True, None
        job.finish_if_done()

    def _hand_over(self, planner: Planner) -> None:
        job = self.jobs[planner.claim.job_id]
        self._forget(planner)
        assert self.store.renew_planning(job.id, planner.claim.token, 0.0)
        job.planner_open, job.planner_expires = True, time.time()

    def _plan_with_engine(self, planner: Planner) -> None:
        """The engine's planner stores the rest of the source and seals; the chunks it cut must hold exactly
        the items after those already stored, with done keys skipped."""
        job = self.jobs[planner.claim.job_id]
        self._forget(planner)
        plan_source(self.store, self.yard.registry, planner.claim, lambda: False)
        scope = job.spec.scope(job.owner)
        assert scope is not None
        done = self.done.get(scope, set())
        c = chunks_table.c
        with self.store.db.read() as conn:
            rows = conn.execute(
                select(c.seq, c.first_index, c["items"], c.states)
                .where(c.job_id == job.id, c.seq >= planner.next_seq)
                .order_by(c.seq)
            ).all()
        index = planner.planned
        for seq, row in enumerate(rows, start=planner.next_seq):
            items = self._decoded(row[2])
            assert (row.seq, row.first_index) == (seq, index), "chunks are numbered and placed in order"
            assert 1 <= len(items) <= job.spec.chunk_size
            assert row.states == "".join(ItemState.SKIPPED if str(i) in done else ItemState.PENDING for i in items)
            job.chunks.append(plan_chunk(seq, index, items, row.states))
            index += len(items)
        assert index == len(job.items), "the source was planned to its end"
        assert [i for ch in job.chunks for i in ch.items] == job.items
        job.sealed, job.planner = True, None
        job.finish_if_done()

    @staticmethod
    def _decoded(raw: Any) -> list[int]:
        items: list[int] = codec.loads(raw)
        return items

    # running and committing ----------------------------------------------------------------------------------

    def _run_and_commit(self, held: Held, stop_after: int | None) -> None:
        for claims in (self.held, self.crashed):
            if held in claims:
                claims.remove(held)
        claimed = held.chunk
        job = self.jobs[claimed.job_id]
        live = self._live(held)
        self.commits += 1
        self.marker = f"commit{self.commits}"  # every output names the claim that produced it
        ran = predict_run(job, claimed, failing=self.failing, marker=self.marker, stop_after=stop_after)
        job_type = self.yard.registry.get(claimed.job_type)
        ctx = Context(job_id=claimed.job_id, owner=claimed.owner, params=claimed.params, round=claimed.round)
        self._stop_after, self._handled = stop_after, 0
        if stop_after == 0:
            ctx.request_stop()
        try:
            outcome = run_chunk(job_type, claimed, ctx, done_scope=job.spec.scope(claimed.owner))
        finally:
            self._stop_after = None
        assert (outcome.states, outcome.outputs, outcome.attempts) == (ran.states, ran.outputs, ran.attempts)
        if not live:
            self.refused.add(self.marker)
            before = self._snapshot(job.id)
            with pytest.raises(LeaseLost):
                commit_outcome(self.store, job_type, outcome, ctx)
            assert self._snapshot(job.id) == before, "a refused commit changed the store"
            return
        commit_outcome(self.store, job_type, outcome, ctx)
        self.store.finish_if_done(job.id)
        self._committed(job, claimed, ran, predict_write(job, claimed, ran, failing=self.failing))

    def _committed(self, job: MJob, claimed: ClaimedChunk, ran: Predicted, expected: Predicted) -> None:
        """The model's side of a commit: the chunk's arrays, done keys, and the job's failure policies."""
        chunk = job.chunks[claimed.seq]
        if expected.states != ran.states:
            refused = expected.states.count(ItemState.FAILED) - ran.states.count(ItemState.FAILED)
            self.saw("a failing write is bisected" if refused else "a failing write is retried")
        scope = job.spec.scope(job.owner)
        if scope is not None:
            fresh = [
                str(item)
                for item, before, after in zip(claimed.items, claimed.states, expected.states, strict=True)
                if before == ItemState.PENDING and after in (ItemState.SUCCEEDED, ItemState.SKIPPED)
            ]
            self.done.setdefault(scope, set()).update(fresh)
        chunk.states, chunk.outputs, chunk.attempts = expected.states, expected.outputs, expected.attempts
        chunk.token = None
        if ItemState.PENDING not in chunk.states:
            chunk.status = "done"
        elif expected.stop:
            chunk.status = "cancelled"
        else:
            chunk.status = "pending" if job.status in PLANNABLE else "cancelled"
        self._apply_failure_policies(job, claimed, expected)
        job.finish_if_done()

    def _apply_failure_policies(self, job: MJob, claimed: ClaimedChunk, expected: Predicted) -> None:
        if expected.stop:
            if job.stop():
                self.saw("stopped: on_error=stop")
            return
        newly_failed = expected.states.count(ItemState.FAILED) - claimed.states.count(ItemState.FAILED)
        tally = job.tally()
        processed = job.total - tally[ItemState.PENDING]
        going_badly = too_many_failures(job.spec.max_failures, tally[ItemState.FAILED], processed)
        if newly_failed and going_badly and job.stop():
            self.saw(f"stopped: max_failures {job.spec.max_failures}")

    def _reap(self) -> None:
        expiring = [(j, c) for j in self.jobs.values() for c in j.chunks if c.status == "running" and c.tiny]
        wait = max((c.expires for _, c in expiring), default=0.0) + 0.01 - time.time()
        if wait > 0:
            time.sleep(wait)
        assert self.store.reap() == len(expiring)
        for job_id in sorted({j.id for j, _ in expiring}):
            self._lose_in_some_order(self.jobs[job_id], [c.seq for j, c in expiring if j.id == job_id])
        for job in self.jobs.values():
            job.finish_if_done()

    def _lose_in_some_order(self, job: MJob, seqs: list[int]) -> None:
        """The reaper gives back a job's chunks one by one in no set order, and one that fails its items may
        stop the job before the next: the store must match the model in one of the orders."""
        seen = (self.store.get_job(job.id).status, self._chunk_rows(job.id))
        outcomes = []
        for order in itertools.permutations(seqs):
            trial = copy.deepcopy(job)
            for seq in order:
                self._lose(trial, trial.chunks[seq])
            trial.finish_if_done()
            outcomes.append((trial.status, [(c.seq, c.status, c.states) for c in trial.chunks]))
            if outcomes[-1] == seen:
                self.jobs[job.id] = trial
                return
        raise AssertionError(f"the reaper left job {job.id} as {seen}, in no order the model allows: {outcomes}")

    def _lose(self, job: MJob, chunk: MChunk) -> None:
        chunk.lost += 1
        chunk.token = None
        if chunk.lost < job.spec.max_attempts or job.status == CG:
            chunk.status = "cancelled" if job.status == CG else "pending"
            return
        # lost too often: its open items fail, with a reason, under the job's failure policies
        opened = chunk.states.count(ItemState.PENDING)
        chunk.states = chunk.states.replace(ItemState.PENDING, ItemState.FAILED)
        chunk.status = "done"
        self.saw("a chunk that lost its worker too often fails")
        tally = job.tally()
        processed = job.total - tally[ItemState.PENDING]
        stops = job.spec.on_error == "stop" and opened > 0
        if (stops or too_many_failures(job.spec.max_failures, tally[ItemState.FAILED], processed)) and job.stop():
            self.saw("stopped by the reaper")

    def _snapshot(self, job_id: int) -> tuple[Any, ...]:
        job = self.store.get_job(job_id)
        return job.status, job.counters, job.total, job.sealed, list(self.store.items(job_id)), self._chunk_rows(job_id)

    def _chunk_rows(self, job_id: int) -> list[tuple[int, str, str]]:
        c = chunks_table.c
        with self.store.db.read() as conn:
            rows = conn.execute(select(c.seq, c.status, c.states).where(c.job_id == job_id).order_by(c.seq)).all()
        return [(r.seq, r.status, r.states) for r in rows]

    def _effects(self, job_id: int) -> list[int]:
        with self.store.db.read() as conn:
            query = text("SELECT item FROM model_effects WHERE job_id = :job_id ORDER BY item")
            return list(conn.execute(query, {"job_id": job_id}).scalars())

    # invariants ----------------------------------------------------------------------------------------------

    @invariant()
    def store_agrees_with_model(self) -> None:
        for job in self.jobs.values():
            stored = self.store.get_job(job.id)
            self._check_counters(stored)
            self._check_transition(stored)
            expected = (job.status, job.total, job.round, job.sealed)
            assert (stored.status, stored.total, stored.round, stored.sealed) == expected, (job.id, stored)
            self._check_items(stored, job)
            rows = self._chunk_rows(job.id)
            assert rows == [(c.seq, c.status, c.states) for c in job.chunks], f"job {job.id} chunks differ"
            if stored.status in FINISHED:
                assert not {status for _, status, _ in rows} & {"pending", "running"}, "a finished job has open chunks"
            self._check_effects(job)
        for scope, keys in self.done.items():
            assert self.store.done_keys(scope, [str(k) for k in KEY_SPACE]) == keys, f"done keys of {scope}"

    def _check_effects(self, job: MJob) -> None:
        """What write puts in the state database happens exactly once per succeeded item, never for others."""
        if job.spec.writes:
            succeeded = sorted(i for c in job.chunks for i, s in zip(c.items, c.states, strict=True) if s == "s")
            assert self._effects(job.id) == succeeded, f"job {job.id}: effects are not one per succeeded item"

    def _check_counters(self, job: Job) -> None:
        c = job.counters
        assert c.processed == c.succeeded + c.failed + c.skipped, c
        assert min(c.processed, c.succeeded, c.failed, c.skipped) >= 0, c
        assert c.processed <= job.total, (c, job.total)

    def _check_transition(self, job: Job) -> None:
        before = self.seen.get(job.id, P)
        assert allowed_step(before, job.status, job.id in self.retried), f"job {job.id}: {before} → {job.status}"
        if job.status != before and job.status in FINISHED:
            self.saw(f"a {job.type} job ends {job.status}")
        self.seen[job.id] = job.status
        self.retried.discard(job.id)

    def _check_items(self, stored: Job, job: MJob) -> None:
        items = list(self.store.items(job.id))
        assert [i.index for i in items] == list(range(job.total)), "each item is reported exactly once"
        tally = Counter(i.status for i in items)
        counted_ = (tally["succeeded"] + tally["failed"] + tally["skipped"], tally["succeeded"], tally["failed"])
        assert counted_ == (stored.processed, stored.succeeded, stored.failed), (tally, stored.counters)
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
        for planner in list(self.planners):
            if self._planning(planner):
                self._hand_over(planner)
        self._reap()  # the crashed workers' chunks go back to the queue
        for job in self.jobs.values():
            if job.status == PA:
                self._resumed(job)
        self.store_agrees_with_model()
        self.marker = "worker"
        for job_id in self.jobs:
            finished = self.yard.run_until_done(job_id, timeout=60)
            assert finished.status in FINISHED, f"job {job_id} is still {finished.status}"
        for job_id, job in self.jobs.items():
            self._check_final(self.store.get_job(job_id), job)

    def _check_final(self, job: Job, model: MJob) -> None:
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
        if job.status == CD or job.error:  # items a cancelled (or stopped) job never reached were never processed
            assert tally["cancelled"] == job.total - job.processed
        else:
            assert tally.keys() <= {"succeeded", "failed", "skipped"}, (job.id, job.status, tally)
            assert job.processed == job.total == len(model.items), "every item of the job was done"
            assert job.sealed
        if model.spec.writes:
            assert self._effects(job.id) == sorted(model.items[i.index] for i in items if i.status == "succeeded")
        assert not {status for _, status, _ in self._chunk_rows(job.id)} & {"pending", "running"}


# Derandomized: the check that every rule ran must not depend on the luck of one run's draws.
MODEL_SETTINGS = settings(
    derandomize=True,
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def test_store_follows_the_lifecycle_model(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Random lifecycles on a fresh database per example; see the module docstring. Every rule must run."""
    databases = FreshDatabases(database_url)
    fired: Counter[str] = Counter()
    run_state_machine_as_test(lambda: LifecycleMachine(databases, fired), settings=MODEL_SETTINGS)
    with capsys.disabled():
        print(f"\nlifecycle model on {'PostgreSQL' if databases.postgres else 'SQLite'}:")
        for what, times in sorted(fired.items()):
            print(f"  {times:5d}  {what}")
    dead = [name for name in RULES if not fired[f"rule {name}"]]
    assert not dead, f"rules that never ran (dead rules): {dead}"


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
