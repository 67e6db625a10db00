"""SqlStore: the Store protocol on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

from batchyard.core.model import ClaimedChunk, ItemRecord, Job, NewJob, PlannedChunk
from batchyard.core.status import JobStatus
from batchyard.store.base import CommitSession, Event, PlanningClaim
from batchyard.store.sql import claims, commits, lifecycle, planning, reads, reaper, wakeup
from batchyard.store.sql.database import Database, Timeouts
from batchyard.store.sql.migrate import ensure_schema


class SqlStore:
    def __init__(
        self,
        url: str,
        *,
        planning_lease: float = 30.0,
        create_schema: bool = True,
        timeouts: Timeouts | None = None,
        durable_chunks: bool = False,
    ) -> None:
        self.db = Database(url, timeouts=timeouts, durable_chunks=durable_chunks)
        self.planning_lease = planning_lease
        if create_schema:
            ensure_schema(self.db)

    @property
    def url(self) -> str:
        return self.db.url

    # submitting and planning
    def create_job(self, new: NewJob) -> tuple[Job, bool]:
        return planning.create_job(self.db, new, lease=self.planning_lease)

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
        return reaper.reap(self.db)

    def wait_for_work(self, seconds: float) -> None:
        wakeup.wait_for_work(self.db, seconds)

    # lifecycle
    def cancel(self, job_id: int) -> Job:
        return lifecycle.cancel(self.db, job_id)

    def pause(self, job_id: int) -> Job:
        return lifecycle.pause(self.db, job_id)

    def resume(self, job_id: int) -> Job:
        return lifecycle.resume(self.db, job_id)

    def retry_failed(self, job_id: int) -> Job:
        return lifecycle.retry_failed(self.db, job_id)

    # reading
    def get_job(self, job_id: int) -> Job:
        return reads.get_job(self.db, job_id)

    def list_jobs(self, *, owner: str | None = None, status: str | None = None, limit: int = 50) -> list[Job]:
        return reads.list_jobs(self.db, owner=owner, status=status, limit=limit)

    def items(self, job_id: int, status: str | None = None) -> Iterator[ItemRecord]:
        return reads.items(self.db, job_id, status)

    def events(self, job_id: int | None = None, after: int = 0, limit: int = 500) -> list[Event]:
        return reads.list_events(self.db, job_id, after, limit)

    def ping(self) -> bool:
        with self.db.read() as conn:
            return bool(conn.exec_driver_sql("SELECT 1").scalar_one() == 1)

    def pinned(self) -> AbstractContextManager[None]:
        return self.db.pinned()

    def close(self) -> None:
        self.db.dispose()
