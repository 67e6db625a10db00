"""The Store protocol: everything the service and the engine ask of the database, and nothing of SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from batchyard.core.causes import Failure
from batchyard.core.files import Artifact, NewArtifact, NewUpload, Upload
from batchyard.core.model import (
    ChunkOutcome,
    ClaimedChunk,
    ItemRecord,
    Job,
    NewJob,
    PlannedChunk,
    Stats,
    Tally,
)
from batchyard.core.notices import Channel, Delivery, DeliveryAttempt, DeliveryStatus, DueDelivery, Webhook
from batchyard.core.resources import Resource
from batchyard.core.schedules import NewSchedule, Schedule, ScheduleChange, Slot, SlotOutcome
from batchyard.core.status import JobStatus
from batchyard.core.users import LedgerEntry, Notification, Role, Token, User


@dataclass(frozen=True, slots=True)
class PlanningClaim:
    """A job whose items a worker must enumerate, resuming after the ``planned`` items already stored."""

    job_id: int
    job_type: str
    owner: str
    params: dict[str, Any]
    planned: int
    next_seq: int
    token: str


@dataclass(frozen=True, slots=True)
class NextClaim:
    """Who asks for the next chunk, to be claimed in the same transaction as a commit."""

    worker: str
    lease: float
    types: Sequence[str]
    token: str  # the lease token the next chunk is claimed with


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    job_id: int
    kind: str
    data: dict[str, Any]
    at: float
    owner: str = ""  # the job's owner: who may see the event


class Watch(Protocol):
    """Waits on a connection of its own for something to be committed (see ``Store.watch_events``)."""

    def wait(self, seconds: float) -> None:
        """Return after ``seconds``, or sooner when something may have been committed."""

    def close(self) -> None: ...


class CommitSession(Protocol):
    """An open commit transaction on a chunk. Its lease is checked before anything is written to stay: when the
    session opens if a ``write`` will run in it, else at ``apply`` (a lost lease raises ``LeaseLost``)."""

    connection: Any

    def attempt(self, fn: Callable[[], None]) -> BaseException | None:
        """Run ``fn`` inside a savepoint; on error roll back to it and return the error."""

    def unstorable(self, outputs: list[Any]) -> dict[int, str]:
        """Positions of outputs the database cannot hold, with the reason."""

    def apply(self, outcome: ChunkOutcome, claim: NextClaim | None = None, *, progress: int | None) -> bool:
        """Write the chunk's states, outputs, errors and counters, and a progress event reporting ``progress``
        items (None: no event); True when the job has no pending chunk left, so it may be finished once this
        commits. With ``claim``, also claim the worker's next chunk in claim order in this transaction, if it
        can be taken here (see ``claimed``)."""

    def claimed(self) -> ClaimedChunk | None:
        """Once the session has committed: the chunk ``apply`` claimed, if any."""


class ScheduleStore(Protocol):
    """Schedules and their slots (``Store.schedules``): a slot row is written once, the cursor moved by
    compare-and-set, so any number of tickers agree."""

    def create(self, new: NewSchedule, *, now: datetime | None = None) -> Schedule: ...
    def get(self, schedule_id: int) -> Schedule: ...
    def listed(self, *, owner: str | None, after: int | None = None, limit: int = 100) -> list[Schedule]: ...
    def change(self, schedule_id: int, change: ScheduleChange, *, cursor_at: datetime | None = None) -> Schedule: ...
    def delete(self, schedule_id: int) -> None: ...
    def set_paused(
        self, schedule_id: int, paused: bool, *, reason: str | None = None, resume_at: datetime | None = None
    ) -> Schedule: ...
    def pause_for_failure(self, schedule_id: int, job_id: int, reason: str) -> bool: ...
    def due(self, now: datetime, *, limit: int = 500) -> list[Schedule]: ...
    def advance(self, schedule_id: int, *, seen: datetime, to: datetime) -> bool: ...
    def claim_slot(self, slot: Slot) -> bool: ...
    def settle_slot(
        self,
        schedule_id: int,
        slot_at: datetime,
        outcome: SlotOutcome,
        *,
        job_id: int | None = None,
        reason: str | None = None,
        detail: tuple[str, str] | None = None,
    ) -> None: ...
    def slots(
        self, schedule_id: int, *, outcomes: Sequence[SlotOutcome] = (), before: datetime | None = None, limit: int = 50
    ) -> list[Slot]: ...
    def runs_in_flight(self, schedule_id: int) -> list[int]: ...
    def latest_failed_run(self, schedule_id: int, *, after: int) -> int | None: ...
    def count_slots(self, schedule_id: int) -> dict[str, int]: ...


class Store(Protocol):
    @property
    def schedules(self) -> ScheduleStore: ...

    planning_lease: float  # seconds a planner's lease lasts; renewed every third of it

    # submitting and planning
    def create_job(self, new: NewJob) -> tuple[Job, bool]: ...
    def precheck(self, new: NewJob) -> Job | None:
        """Before planning a submission: the job an idempotent repeat returns, or the refusal (an exclusive
        key held, a limit, quota) it would meet now; ``create_job`` judges again and has the last word."""

    def add_chunks(self, job_id: int, token: str, chunks: Sequence[PlannedChunk]) -> None: ...
    def seal(self, job_id: int, token: str) -> None: ...
    def abandon_planning(self, job_id: int, token: str, reason: str) -> None: ...
    def renew_planning(self, job_id: int, token: str, lease_seconds: float) -> bool: ...
    def claim_planning(self, worker: str, lease_seconds: float, types: Sequence[str]) -> PlanningClaim | None: ...
    def done_keys(self, scope: str, keys: Sequence[str]) -> set[str]: ...

    # running chunks
    def claim(self, worker: str, lease_seconds: float, types: Sequence[str]) -> ClaimedChunk | PlanningClaim | None:
        """The next unit of work in claim order: a chunk to run or a job's source to plan."""

    def claim_chunk(self, worker: str, lease_seconds: float, types: Sequence[str]) -> ClaimedChunk | None: ...
    def heartbeat(self, chunk: ClaimedChunk, lease_seconds: float, current: str | None) -> JobStatus | None: ...
    def claimed_with(self, token: str) -> ClaimedChunk | None:
        """The chunk running under lease ``token`` (claimed by a commit whose answer was lost)."""

    def job_status(self, job_id: int) -> JobStatus: ...
    def commit_session(
        self, chunk: ClaimedChunk, *, may_stop: bool = False, for_write: bool = False
    ) -> AbstractContextManager[CommitSession]:
        """The commit transaction of ``chunk``, its lease checked; ``for_write`` gives the session the
        connection a job type's ``write`` runs on."""

    def finish_if_done(self, job_id: int) -> Job | None: ...
    def reap(self) -> int: ...
    def wait_for_work(self, seconds: float) -> None:
        """Return after ``seconds``, or as soon as work may have arrived (an idle worker's wait)."""

    # lifecycle
    def cancel(self, job_id: int) -> Job: ...
    def pause(self, job_id: int) -> Job: ...
    def resume(self, job_id: int) -> Job: ...
    def retry_failed(self, job_id: int, *, max_active: int | None = None) -> Job:
        """A new round for the failed and unprocessed items; ``max_active``: the owner's cap on active jobs
        of the type, which the reopened job counts against."""

    # reading
    def get_job(self, job_id: int) -> Job: ...
    def list_jobs(
        self,
        *,
        owner: str | None = None,
        status: str | None = None,
        statuses: Sequence[str] | None = None,
        type: str | None = None,
        before: int | None = None,
        limit: int = 50,
        resource: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        text: str | None = None,
    ) -> list[Job]:
        """Newest first; ``before``: only jobs with a smaller id (the next page); ``resource``: imports and
        exports of that resource; ``created_after`` (inclusive) and ``created_before``: UTC instants; ``text``: found
        in the type or the params as written (case-insensitive), or the job's id."""

    def items(self, job_id: int, status: str | None = None, start: int = 0) -> Iterator[ItemRecord]: ...
    def failures(self, job_id: int) -> Iterator[Failure]:
        """The job's items that are failed now, with their latest reason and when it was recorded."""

    def tally(self, job_id: int) -> Tally:
        """The job's counters, and its succeeded items by their output where it is a word."""

    def events(self, job_id: int | None = None, after: int = 0, limit: int = 500) -> list[Event]: ...
    def last_event_id(self) -> int: ...
    def oldest_event_id(self) -> int:
        """The oldest event still kept (0 when none): older ones passed the retention period."""

    def watch_events(self) -> Watch:
        """A watch that returns from ``wait`` as soon as new events may have been committed."""

    def tidy(self) -> int:
        """Delete rows past their retention (events, stale failed sign-ins); the number deleted."""

    def stats(self) -> Stats: ...
    def ping(self) -> bool: ...

    # users, tokens (kept as digests) and failed sign-ins
    def create_user(self, name: str, role: Role, quota: int, password_hash: str | None) -> User: ...
    def get_user(self, user: int | str) -> User: ...
    def list_users(self, *, after: int | None = None, limit: int = 100) -> list[User]:
        """In the order they were made; ``after``: only users with a larger id (the next page)."""

    def update_user(self, user_id: int, *, role: Role | None = None, quota: int | None = None) -> User: ...
    def password_hash(self, name: str) -> tuple[int, str | None] | None: ...
    def set_password_hash(self, user_id: int, hashed: str) -> None: ...
    def add_token(self, user_id: int, name: str, digest: str, kind: str, expires_at: datetime | None) -> Token: ...
    def user_for_token(self, digest: str, now: datetime) -> User | None: ...
    def list_tokens(self, user_id: int) -> list[Token]: ...
    def revoke_token(self, user_id: int, token_id: int) -> bool: ...
    def revoke_token_by_digest(self, digest: str) -> bool:
        """Revoke the live token with this digest (signing out with it); whether there was one."""

    def record_login_failure(self, subjects: Sequence[str], minute: int) -> None: ...
    def forget_login_attempt(self, subjects: Sequence[str], minute: int) -> None: ...
    def login_failures_since(self, subject: str, minute: int) -> dict[int, int]:
        """Failed (or not yet judged) sign-ins per minute from ``minute`` on."""

    def notifications(
        self, user_id: int, *, unread: bool = False, before: int | None = None, limit: int = 50
    ) -> list[Notification]: ...
    def mark_read(self, user_id: int, notification_id: int) -> bool:
        """False when the user has no such notification."""

    def ledger(self, user_id: int, *, before: int | None = None, limit: int = 50) -> list[LedgerEntry]:
        """The user's balance moves, newest first; ``before``: only older entries (the next page)."""

    def set_email(self, user_id: int, email: str | None) -> User: ...

    # webhooks and the delivery outbox (each finished job's notice is queued with its inbox entry)
    def create_webhook(
        self, user_id: int, *, url: str, description: str | None, nonce: str, key_id: str, limit: int, per_day: int
    ) -> Webhook:
        """``TooManyWebhooks`` when the user already has ``limit`` live webhooks, ``TooManyNewWebhooks`` when
        they made ``per_day`` (deleted ones too) in the last 24 hours."""

    def webhooks(self, user_id: int) -> list[Webhook]: ...
    def webhook(self, user_id: int, webhook_id: int) -> Webhook | None:
        """The user's live webhook; None when it is another user's, deleted, or unknown."""

    def delete_webhook(self, user_id: int, webhook_id: int) -> bool:
        """Delete it and fail its pending deliveries; False when the user has no such live webhook."""

    def queue_ping(self, user_id: int, webhook_id: int, *, interval: int) -> Delivery | None:
        """A test delivery (or the one still pending); ``PingTooSoon`` within ``interval`` seconds of the last;
        None when the user has no such live webhook."""

    def webhook_deliveries(
        self, user_id: int, webhook_id: int, *, before: int | None = None, limit: int = 50
    ) -> list[Delivery] | None:
        """Newest first; None when the user has no such live webhook."""

    def claim_deliveries(
        self,
        *,
        limit: int,
        lease_seconds: float,
        max_attempts: int,
        channels: Sequence[Channel],
        overdue: float = 0.0,
    ) -> list[DueDelivery]:
        """Deliveries of ``channels`` due ``overdue`` seconds ago or earlier, each claimed for its next attempt
        until the lease ends."""

    def record_delivery(
        self,
        due: DueDelivery,
        attempt: DeliveryAttempt,
        status: DeliveryStatus,
        next_attempt_at: datetime | None = None,
        *,
        hold_back: bool = False,
    ) -> bool:
        """Log the attempt and set the outcome; False when the claim was no longer held. ``hold_back``: the
        target failed, so its other pending deliveries (a webhook's; every e-mail's) wait for the retry too."""

    # resources
    def ensure_resource(self, resource: Resource) -> None:
        """Create the resource's table from its model when the database has none of that name."""

    # uploads and artifacts: the rows; their bytes are in the blob store, deleted by the service
    def add_upload(self, new: NewUpload) -> Upload: ...
    def get_uploads(self, ids: Sequence[int]) -> list[Upload]:
        """The uploads among ``ids`` that exist (expired ones are deleted), in no particular order."""

    def missing_uploads(self, job_id: int) -> list[int]:
        """Uploads the job reads (``NewJob.upload_ids``) that are gone: a retry of it could not read them."""

    def put_artifact(self, new: NewArtifact) -> tuple[Artifact, str | None]:
        """Record an artifact, replacing the same item's output of the same name; the replaced row's blob key."""

    def artifacts(self, job_id: int) -> list[Artifact]:
        """The job's own artifacts first, then its items' outputs in item order."""

    def get_artifact(self, artifact_id: int) -> Artifact | None: ...
    def expired_uploads(self, now: datetime, limit: int, *, after_finish: timedelta) -> list[Upload]:
        """Past their time, and read by no job that is not finished or finished within ``after_finish``."""

    def expired_artifacts(self, now: datetime, limit: int) -> list[Artifact]: ...
    def delete_uploads(self, ids: Sequence[int], now: datetime, *, after_finish: timedelta) -> list[str]:
        """Delete those that may still be swept at ``now`` (a job may have taken one meanwhile); the blob keys
        of the rows deleted."""

    def delete_artifacts(self, ids: Sequence[int], now: datetime) -> list[str]:
        """Delete those still expired at ``now``; the blob keys of the rows deleted."""

    def pinned(self) -> AbstractContextManager[None]:
        """While the block runs, this thread's claims and commits keep one connection (a worker's loop)."""

    def close(self) -> None: ...
