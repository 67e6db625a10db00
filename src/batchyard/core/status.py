"""Job and chunk statuses, item states and the legal job transitions."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"

    @property
    def is_finished(self) -> bool:
        return self in FINISHED

    @property
    def is_active(self) -> bool:
        return self not in FINISHED


FINISHED = frozenset({JobStatus.CANCELLED, JobStatus.SUCCEEDED, JobStatus.PARTIALLY_SUCCEEDED, JobStatus.FAILED})
ACTIVE = frozenset(set(JobStatus) - FINISHED)

# Where each user action may start from, and where it leads.
CANCELLABLE = frozenset({JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED})
PAUSABLE = frozenset({JobStatus.PENDING, JobStatus.RUNNING})
RESUMABLE = frozenset({JobStatus.PAUSED})
RETRYABLE = frozenset({JobStatus.PARTIALLY_SUCCEEDED, JobStatus.FAILED})


class ChunkStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


class ItemState(StrEnum):
    """One character per item, kept as a string in the chunk's row: serialised once per chunk."""

    PENDING = "-"
    SUCCEEDED = "s"
    FAILED = "f"
    SKIPPED = "k"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    ItemState.PENDING: "pending",
    ItemState.SUCCEEDED: "succeeded",
    ItemState.FAILED: "failed",
    ItemState.SKIPPED: "skipped",
}


def final_status(*, succeeded: int, failed: int, cancelling: bool, stopped: bool) -> JobStatus:
    """The status a job ends in once no chunk is left to run.

    ``stopped`` is a job ended by its own failures (``on_error="stop"`` or ``max_failures``): it drains like a
    cancelled job but ends as failed.
    """
    if stopped:
        return JobStatus.FAILED
    if cancelling:
        return JobStatus.CANCELLED
    if failed and succeeded:
        return JobStatus.PARTIALLY_SUCCEEDED
    if failed:
        return JobStatus.FAILED
    return JobStatus.SUCCEEDED
