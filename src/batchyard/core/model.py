"""Records that cross the store boundary: jobs, chunks as claimed and as committed, items as reported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batchyard.core.status import ItemState, JobStatus


@dataclass(frozen=True, slots=True)
class Counters:
    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0

    @classmethod
    def of_states(cls, states: str) -> Counters:
        ok, bad, skip = (
            states.count(ItemState.SUCCEEDED),
            states.count(ItemState.FAILED),
            states.count(ItemState.SKIPPED),
        )
        return cls(processed=ok + bad + skip, succeeded=ok, failed=bad, skipped=skip)

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.processed - other.processed,
            self.succeeded - other.succeeded,
            self.failed - other.failed,
            self.skipped - other.skipped,
        )

    def __bool__(self) -> bool:
        return any((self.processed, self.succeeded, self.failed, self.skipped))


@dataclass(frozen=True, slots=True)
class Round:
    number: int
    started_at: datetime
    items: int
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QuotaMoves:
    """Quota a job charged its owner and gave back, over all its rounds."""

    charged: int = 0
    refunded: int = 0


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    type: str
    owner: str
    status: JobStatus
    params: dict[str, Any]
    total: int
    sealed: bool
    counters: Counters
    round: int
    priority: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    current: str | None = None
    eta_seconds: float | None = None
    exclusive_key: str | None = None
    idempotency_key: str | None = None
    rounds: tuple[Round, ...] = ()
    quota: QuotaMoves = QuotaMoves()

    @property
    def processed(self) -> int:
        return self.counters.processed

    @property
    def succeeded(self) -> int:
        return self.counters.succeeded

    @property
    def failed(self) -> int:
        return self.counters.failed

    @property
    def skipped(self) -> int:
        return self.counters.skipped

    @property
    def progress(self) -> float:
        """Percent of items done, 0-100; never 100 before planning has ended."""
        if not self.total:
            return 100.0 if self.sealed and self.status.is_finished else 0.0
        value = round(100 * self.processed / self.total, 2)
        return min(value, 100.0 if self.sealed else 99.99)


@dataclass(frozen=True, slots=True)
class Tally:
    """A job's items counted: succeeded, failed, skipped, and the succeeded by their output where it is a word
    (an import's ``inserted`` and ``updated``; 20 words at most, the rest of the short outputs in
    ``other_outputs``)."""

    job_id: int
    succeeded: int
    failed: int
    skipped: int
    outputs: dict[str, int]
    other_outputs: int


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job as submitted: its items are planned later (by its submitter or a worker), or came planned
    (``planned``: a small submission is stored whole, sealed, in the transaction that creates its job)."""

    type: str
    owner: str
    params: dict[str, Any]
    priority: int = 0
    max_concurrency: int | None = None
    exclusive_key: str | None = None
    idempotency_key: str | None = None
    plan_by_worker: bool = False
    max_lost: int = 3
    max_failures: int | float | None = None
    stop_on_error: bool = False
    planner_token: str | None = None  # set when the submitter plans the items itself
    unit_cost: int = 0  # quota per item, charged to the owner when the owner is a service user
    prepaid_items: int | None = None  # items charged when the job is created (else each stored batch pays)
    limits: SubmitLimits | None = None
    planned: Sequence[PlannedChunk] | None = None
    # Uploads the job reads: checked (there, not expired) and tied to it in the transaction that creates it,
    # their expiry pushed to ``uploads_until``.
    upload_ids: tuple[int, ...] = ()
    uploads_until: datetime | None = None
    resource: str | None = None  # the resource the job works on (its params' ``resource``)


@dataclass(frozen=True, slots=True)
class SubmitLimits:
    """How many jobs of one type an owner may submit per hour and per day, and have active at once."""

    per_hour: int | None = None
    per_day: int | None = None
    active: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedChunk:
    """A chunk as planned: its items, or for a job type that loads its items when it runs (``JobType.load``)
    the spec it loads them from (a byte range of a file). ``states`` has one letter per item either way."""

    seq: int
    first_index: int
    items: list[Any] | dict[str, Any]
    keys: list[str] | None
    states: str


@dataclass(frozen=True, slots=True)
class ClaimedChunk:
    id: int
    job_id: int
    job_type: str
    owner: str
    params: dict[str, Any]
    round: int
    token: str
    seq: int
    first_index: int
    items: list[Any]  # as stored, or a spec until the worker loaded the items from it
    keys: list[str] | None
    states: str
    outputs: list[Any]
    attempts: dict[int, int]
    lost: int


@dataclass(frozen=True, slots=True)
class ItemError:
    index: int
    error: str
    attempts: int
    error_zh: str | None = None  # the reason in Chinese, when it has one (batchyard's own errors do)
    input: Any = None  # the item itself, for an item its chunk does not store (``JobType.stored_form``)
    ref: int | None = None  # where the item was in its source: the line or sheet row of an imported row


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    """What a worker commits for a chunk it holds: new states and outputs, and what follows for the job."""

    chunk: ClaimedChunk
    states: str
    outputs: list[Any]
    attempts: dict[int, int] = field(default_factory=dict)
    errors: tuple[ItemError, ...] = ()
    retry_at: float | None = None  # items left pending: the chunk goes back to the queue, runnable from then
    done_keys: tuple[str, ...] = ()
    done_scope: str | None = None
    stop_reason: str | None = None  # on_error=stop: fail the job with this reason
    max_failures: int | float | None = None
    current: str | None = None

    @property
    def delta(self) -> Counters:
        return Counters.of_states(self.states) - Counters.of_states(self.chunk.states)

    @property
    def finished(self) -> bool:
        return ItemState.PENDING not in self.states


@dataclass(frozen=True, slots=True)
class ItemRecord:
    index: int
    key: str | None
    status: str
    output: Any
    error: str | None
    attempts: int
    input: Any = None
    error_zh: str | None = None
    ref: int | None = None  # where the item was in its source (the line of an imported row), when known


@dataclass(frozen=True, slots=True)
class Stats:
    """The whole yard at a glance, for metrics: jobs and chunks by status, items by state."""

    jobs: dict[str, int]
    chunks: dict[str, int]
    items: Counters
