"""The policies a job type declares, with safe defaults, and the pure rules that apply them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from batchyard.errors import InvalidJobType

# A failure ratio is only judged once this many items are done, so one early failure cannot fail a job.
RATIO_MIN_PROCESSED = 100


class OnError(StrEnum):
    CONTINUE = "continue"  # record the failed item and go on
    STOP = "stop"  # the first failure ends the job; what is left is cancelled
    RETRY = "retry"  # retry with exponential backoff up to max_attempts, then record


@dataclass(frozen=True, slots=True)
class Policies:
    chunk_size: int = 500
    max_concurrency: int | None = None
    on_error: OnError = OnError.CONTINUE
    max_attempts: int = 3
    retry_backoff: float = 1.0
    max_failures: int | float | None = None
    timeout: float | None = None
    priority: int = 0
    max_items: int | None = None
    exclusive: str | None = None
    skip_done: str | None = None
    # What a job costs its owner, and how often an owner may submit one (service users; see the ledger).
    unit_cost: int = 0
    jobs_per_hour: int | None = None
    jobs_per_day: int | None = None
    max_active_jobs: int | None = None
    # Files: the content types an upload used by this job type may have (None: any), and a tighter size cap.
    accepts: tuple[str, ...] | None = None
    max_file_mb: float | None = None

    def __post_init__(self) -> None:
        _require(self.chunk_size >= 1, "chunk_size must be at least 1")
        _require(self.max_concurrency is None or self.max_concurrency >= 1, "max_concurrency must be >= 1")
        _require(self.max_attempts >= 1, "max_attempts must be at least 1")
        _require(self.retry_backoff >= 0, "retry_backoff must not be negative")
        _require(self.timeout is None or self.timeout > 0, "timeout must be positive")
        _require(self.max_items is None or self.max_items >= 1, "max_items must be at least 1")
        _require(_valid_max_failures(self.max_failures), "max_failures is a count >= 0 or a ratio in (0, 1)")
        _require(self.on_error in set(OnError), "on_error is one of continue, stop, retry")
        _require(isinstance(self.unit_cost, int) and self.unit_cost >= 0, "unit_cost is a whole number >= 0")
        for name in ("jobs_per_hour", "jobs_per_day", "max_active_jobs"):
            value = getattr(self, name)
            _require(value is None or (isinstance(value, int) and value >= 1), f"{name} must be at least 1")
        _require(self.max_file_mb is None or self.max_file_mb > 0, "max_file_mb must be positive")
        object.__setattr__(self, "on_error", OnError(self.on_error))
        if self.accepts is not None:
            object.__setattr__(self, "accepts", tuple(self.accepts))


def _valid_max_failures(value: int | float | None) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return 0 < value < 1


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise InvalidJobType(name="?", reason=reason)


def too_many_failures(max_failures: int | float | None, *, failed: int, processed: int) -> bool:
    """Whether a job with these counts has failed more than its policy allows."""
    if max_failures is None or failed == 0:
        return False
    if isinstance(max_failures, int):
        return failed > max_failures
    return processed >= RATIO_MIN_PROCESSED and failed / processed > max_failures
