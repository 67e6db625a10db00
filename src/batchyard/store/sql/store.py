"""SqlStore: the Store protocol on SQLite or PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from batchyard.core.causes import Failure
from batchyard.core.files import Artifact, NewArtifact, NewUpload, Upload
from batchyard.core.model import ClaimedChunk, ItemRecord, Job, NewJob, PlannedChunk, Stats, Tally
from batchyard.core.notices import Channel, Delivery, DeliveryAttempt, DeliveryStatus, DueDelivery, Webhook
from batchyard.core.resources import Resource
from batchyard.core.status import JobStatus
from batchyard.core.users import LedgerEntry, Notification, Role, Token, User
from batchyard.store.base import CommitSession, Event, PlanningClaim, Watch
from batchyard.store.sql import (
    claims,
    commits,
    deliveries,
    files,
    housekeeping,
    inbox,
    lifecycle,
    planning,
    reads,
    reaper,
    resource_tables,
    users,
    wakeup,
    webhooks,
)
from batchyard.store.sql.database import Database, Timeouts
from batchyard.store.sql.migrate import ensure_schema
from batchyard.store.sql.rows import utcnow
from batchyard.store.sql.schedules import SqlSchedules

EVENTS_KEPT = timedelta(days=7)
TIDY_EVERY = 300.0  # seconds between deletions of old rows by one process's reaper sweeps


class SqlStore:
    def __init__(
        self,
        url: str,
        *,
        planning_lease: float = 30.0,
        create_schema: bool = True,
        timeouts: Timeouts | None = None,
        durable_chunks: bool = False,
        events_kept: timedelta = EVENTS_KEPT,
    ) -> None:
        self.db = Database(url, timeouts=timeouts, durable_chunks=durable_chunks)
        self.planning_lease = planning_lease
        self.events_kept = events_kept
        self._tidied_at: float | None = None  # monotonic time of the last tidy in this process
        self.schedules = SqlSchedules(self.db)
        if create_schema:
            ensure_schema(self.db)

    @property
    def url(self) -> str:
        return self.db.url

    # submitting and planning
    def create_job(self, new: NewJob) -> tuple[Job, bool]:
        return planning.create_job(self.db, new, lease=self.planning_lease)

    def precheck(self, new: NewJob) -> Job | None:
        return planning.precheck(self.db, new)

    def add_chunks(self, job_id: int, token: str, chunks: Sequence[PlannedChunk]) -> None:
        planning.add_chunks(self.db, job_id, token, chunks, self.planning_lease)

    def seal(self, job_id: int, token: str) -> None:
        planning.seal(self.db, job_id, token)

    def abandon_planning(self, job_id: int, token: str, reason: str) -> None:
        planning.abandon_planning(self.db, job_id, token, reason)
        lifecycle.finish_if_done(self.db, job_id)

    def renew_planning(self, job_id: int, token: str, lease_seconds: float) -> bool:
        return planning.renew_planning(self.db, job_id, token, lease_seconds)

    def claim_planning(self, worker: str, lease_seconds: float, types: Sequence[str]) -> PlanningClaim | None:
        return claims.claim_planning(self.db, lease_seconds, types)

    def done_keys(self, scope: str, keys: Sequence[str]) -> set[str]:
        return planning.done_keys(self.db, scope, keys)

    # running chunks
    def claim(self, worker: str, lease_seconds: float, types: Sequence[str]) -> ClaimedChunk | PlanningClaim | None:
        return claims.claim_work(self.db, worker, lease_seconds, types)

    def claim_chunk(self, worker: str, lease_seconds: float, types: Sequence[str]) -> ClaimedChunk | None:
        return claims.claim_chunk(self.db, worker, lease_seconds, types)

    def heartbeat(self, chunk: ClaimedChunk, lease_seconds: float, current: str | None) -> JobStatus | None:
        return claims.heartbeat(self.db, chunk, lease_seconds, current)

    def claimed_with(self, token: str) -> ClaimedChunk | None:
        return claims.claimed_with(self.db, token)

    def job_status(self, job_id: int) -> JobStatus:
        return claims.job_status(self.db, job_id)

    def commit_session(
        self, chunk: ClaimedChunk, *, may_stop: bool = False, for_write: bool = False
    ) -> AbstractContextManager[CommitSession]:
        return commits.commit_session(self.db, chunk, may_stop=may_stop, for_write=for_write)

    def finish_if_done(self, job_id: int) -> Job | None:
        return lifecycle.finish_if_done(self.db, job_id)

    def reap(self) -> int:
        """Recover lost work; now and then (every ``TIDY_EVERY`` seconds of a process, at every sweep while a
        backlog lasts) delete a batch of old rows too — a batch, so a sweep stays short whatever the backlog."""
        reaped = reaper.reap(self.db)
        now = time.monotonic()
        if self._tidied_at is None or now - self._tidied_at >= TIDY_EVERY:
            _, more = self._tidy_batch()
            self._tidied_at = None if more else now
        return reaped

    def tidy(self) -> int:
        deleted, more = self._tidy_batch()
        while more:
            count, more = self._tidy_batch()
            deleted += count
        return deleted

    def _tidy_batch(self) -> tuple[int, bool]:
        now = utcnow()
        return housekeeping.tidy(self.db, events_before=now - self.events_kept, now=now)

    def wait_for_work(self, seconds: float) -> None:
        wakeup.wait_for_work(self.db, seconds)

    # lifecycle
    def cancel(self, job_id: int) -> Job:
        return lifecycle.cancel(self.db, job_id)

    def pause(self, job_id: int) -> Job:
        return lifecycle.pause(self.db, job_id)

    def resume(self, job_id: int) -> Job:
        return lifecycle.resume(self.db, job_id)

    def retry_failed(self, job_id: int, *, max_active: int | None = None) -> Job:
        return lifecycle.retry_failed(self.db, job_id, max_active=max_active)

    # reading
    def get_job(self, job_id: int) -> Job:
        return reads.get_job(self.db, job_id)

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
        wanted = [*(statuses or ()), *([status] if status else [])] or None
        found = reads.JobFilter(owner, wanted, type, resource, created_after, created_before, text)
        return reads.list_jobs(self.db, found, before=before, limit=limit)

    def items(self, job_id: int, status: str | None = None, start: int = 0) -> Iterator[ItemRecord]:
        return reads.items(self.db, job_id, status, start)

    def stats(self) -> Stats:
        return reads.stats(self.db)

    def last_event_id(self) -> int:
        return reads.last_event_id(self.db)

    def oldest_event_id(self) -> int:
        return housekeeping.oldest_event_id(self.db)

    def watch_events(self) -> Watch:
        return wakeup.EventWatch(self.db)

    def failures(self, job_id: int) -> Iterator[Failure]:
        return reads.failures(self.db, job_id)

    def tally(self, job_id: int) -> Tally:
        return reads.tally(self.db, job_id)

    def events(self, job_id: int | None = None, after: int = 0, limit: int = 500) -> list[Event]:
        return reads.list_events(self.db, job_id, after, limit)

    def ping(self) -> bool:
        with self.db.read() as conn:
            return bool(conn.exec_driver_sql("SELECT 1").scalar_one() == 1)

    # users, tokens and failed sign-ins
    def create_user(self, name: str, role: Role, quota: int, password_hash: str | None) -> User:
        return users.create_user(self.db, name, role, quota, password_hash)

    def get_user(self, user: int | str) -> User:
        return users.get_user(self.db, user)

    def list_users(self, *, after: int | None = None, limit: int = 100) -> list[User]:
        return users.list_users(self.db, after=after, limit=limit)

    def update_user(self, user_id: int, *, role: Role | None = None, quota: int | None = None) -> User:
        return users.update_user(self.db, user_id, role=role, quota=quota)

    def password_hash(self, name: str) -> tuple[int, str | None] | None:
        return users.password_hash(self.db, name)

    def set_password_hash(self, user_id: int, hashed: str) -> None:
        users.set_password_hash(self.db, user_id, hashed)

    def add_token(self, user_id: int, name: str, digest: str, kind: str, expires_at: datetime | None) -> Token:
        return users.add_token(self.db, user_id, name=name, digest=digest, kind=kind, expires_at=expires_at)

    def user_for_token(self, digest: str, now: datetime) -> User | None:
        return users.user_for_token(self.db, digest, now)

    def list_tokens(self, user_id: int) -> list[Token]:
        return users.list_tokens(self.db, user_id)

    def revoke_token(self, user_id: int, token_id: int) -> bool:
        return users.revoke_token(self.db, user_id, token_id)

    def revoke_token_by_digest(self, digest: str) -> bool:
        return users.revoke_token_by_digest(self.db, digest)

    def record_login_failure(self, subjects: Sequence[str], minute: int) -> None:
        users.record_login_failure(self.db, subjects, minute)

    def forget_login_attempt(self, subjects: Sequence[str], minute: int) -> None:
        users.forget_login_attempt(self.db, subjects, minute)

    def login_failures_since(self, subject: str, minute: int) -> dict[int, int]:
        return users.login_failures_since(self.db, subject, minute)

    def notifications(
        self, user_id: int, *, unread: bool = False, before: int | None = None, limit: int = 50
    ) -> list[Notification]:
        return inbox.inbox(self.db, user_id, unread=unread, before=before, limit=limit)

    def mark_read(self, user_id: int, notification_id: int) -> bool:
        return inbox.mark_read(self.db, user_id, notification_id)

    def ledger(self, user_id: int, *, before: int | None = None, limit: int = 50) -> list[LedgerEntry]:
        return users.ledger(self.db, user_id, before=before, limit=limit)

    def set_email(self, user_id: int, email: str | None) -> User:
        return users.set_email(self.db, user_id, email)

    # webhooks and the delivery outbox
    def create_webhook(
        self, user_id: int, *, url: str, description: str | None, nonce: str, key_id: str, limit: int, per_day: int
    ) -> Webhook:
        return webhooks.create_webhook(
            self.db,
            user_id,
            url=url,
            description=description,
            nonce=nonce,
            key_id=key_id,
            limit=limit,
            per_day=per_day,
        )

    def webhooks(self, user_id: int) -> list[Webhook]:
        return webhooks.list_webhooks(self.db, user_id)

    def webhook(self, user_id: int, webhook_id: int) -> Webhook | None:
        return webhooks.get_webhook(self.db, user_id, webhook_id)

    def delete_webhook(self, user_id: int, webhook_id: int) -> bool:
        return webhooks.delete_webhook(self.db, user_id, webhook_id)

    def queue_ping(self, user_id: int, webhook_id: int, *, interval: int) -> Delivery | None:
        return webhooks.queue_ping(self.db, user_id, webhook_id, interval=interval)

    def webhook_deliveries(
        self, user_id: int, webhook_id: int, *, before: int | None = None, limit: int = 50
    ) -> list[Delivery] | None:
        return webhooks.webhook_deliveries(self.db, user_id, webhook_id, before=before, limit=limit)

    def claim_deliveries(
        self,
        *,
        limit: int,
        lease_seconds: float,
        max_attempts: int,
        channels: Sequence[Channel],
        overdue: float = 0.0,
    ) -> list[DueDelivery]:
        return deliveries.claim(
            self.db,
            limit=limit,
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
            channels=channels,
            overdue=overdue,
        )

    def record_delivery(
        self,
        due: DueDelivery,
        attempt: DeliveryAttempt,
        status: DeliveryStatus,
        next_attempt_at: datetime | None = None,
        *,
        hold_back: bool = False,
    ) -> bool:
        return deliveries.record(self.db, due, attempt, status, next_attempt_at, hold_back=hold_back)

    # resources' tables
    def ensure_resource(self, resource: Resource) -> None:
        resource_tables.ensure_table(self.db, resource)

    # uploads and artifacts (their bytes are in the blob store)
    def add_upload(self, new: NewUpload) -> Upload:
        return files.add_upload(self.db, new)

    def get_uploads(self, ids: Sequence[int]) -> list[Upload]:
        return files.get_uploads(self.db, ids)

    def missing_uploads(self, job_id: int) -> list[int]:
        return files.missing_uploads(self.db, job_id)

    def put_artifact(self, new: NewArtifact) -> tuple[Artifact, str | None]:
        return files.put_artifact(self.db, new)

    def artifacts(self, job_id: int) -> list[Artifact]:
        return files.job_artifacts(self.db, job_id)

    def get_artifact(self, artifact_id: int) -> Artifact | None:
        return files.get_artifact(self.db, artifact_id)

    def expired_uploads(self, now: datetime, limit: int, *, after_finish: timedelta) -> list[Upload]:
        return files.expired_uploads(self.db, now, limit, after_finish=after_finish)

    def expired_artifacts(self, now: datetime, limit: int) -> list[Artifact]:
        return files.expired_artifacts(self.db, now, limit)

    def delete_uploads(self, ids: Sequence[int], now: datetime, *, after_finish: timedelta) -> list[str]:
        return files.delete_uploads(self.db, ids, now, after_finish=after_finish)

    def delete_artifacts(self, ids: Sequence[int], now: datetime) -> list[str]:
        return files.delete_artifacts(self.db, ids, now)

    def pinned(self) -> AbstractContextManager[None]:
        return self.db.pinned()

    def close(self) -> None:
        self.db.dispose()
