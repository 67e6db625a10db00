"""``Yard``: the Python API. Declare job types, submit jobs, watch and steer them, run workers in-process."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from pydantic import BaseModel

from batchyard.blobs import BlobStore
from batchyard.bootstrap import file_service, open_blobs, open_store
from batchyard.core.cron import validate_cron, validate_timezone
from batchyard.core.files import WORKING_KINDS, Artifact, Upload
from batchyard.core.jobtype import define_job_type
from batchyard.core.model import ItemRecord, Job
from batchyard.core.registry import Registry
from batchyard.core.resources import Resource, define_resource
from batchyard.core.schedules import NewSchedule, Schedule
from batchyard.core.slot_rules import MissedPolicy, Overlap
from batchyard.engine.worker import Worker
from batchyard.errors import InvalidResource
from batchyard.jobs import builtin_job_types
from batchyard.service.files import FileService
from batchyard.service.jobs import JobService
from batchyard.service.schedules import ScheduleService, Tick
from batchyard.settings import Settings, load_settings
from batchyard.store.base import Store
from batchyard.store.sql.resource_reads import ResourceDatabases
from batchyard.store.sql.source_policy import SourcePolicy

T = TypeVar("T")


class Yard:
    """A registry of job types bound to one database.

    Nothing touches the database until first use, so a module can create ``yard = Yard()`` at import time and
    a worker process can import it.
    """

    def __init__(self, database_url: str | None = None, *, settings: Settings | None = None, **overrides: Any) -> None:
        """``settings`` (else the environment and ``batchyard.toml``) is the base; ``database_url`` and
        ``overrides`` apply on top. Invalid or unknown settings raise ``ConfigurationError`` here."""
        if database_url is not None:
            overrides["database_url"] = database_url
        self.settings = load_settings(settings, **overrides)
        self.registry = Registry()
        self.resources: dict[str, Resource] = {}
        self._resource_databases = ResourceDatabases(lambda: self.store.db)  # type: ignore[attr-defined]
        sources = SourcePolicy.of(self.settings.migrate_sources, self.settings.data_dir)
        for job_type in builtin_job_types(self.resources, self._resource_databases, migrate_sources=sources):
            self.registry.add(job_type, replaceable=True)
        self._store: Store | None = None
        self._blobs: BlobStore | None = None
        self._declared_schedules: list[NewSchedule] = []

    # declaring
    def job(self, name: str, **options: Any) -> Callable[[T], T]:
        """Register a job type: a function ``(item, ctx) -> output`` or a class with ``process``."""

        def register(target: T) -> T:
            self.registry.add(define_job_type(name, target, **options))
            return target

        return register

    def resource(
        self,
        name: str,
        model: type[BaseModel],
        *,
        key: Sequence[str],
        titles: Mapping[str, Mapping[str, str]] | None = None,
        table: str | None = None,
        database_url: str | None = None,
    ) -> Resource:
        """Declare a resource: rows validated by ``model``, ``key`` its natural key, ``titles`` its columns'
        display names by language (``{"zh-CN": {"sku": "商品编码"}}``); its table is made when first used."""
        if name in self.resources:
            raise InvalidResource(name=name, reason="a resource of that name is declared already")
        declared = define_resource(name, model, key=key, titles=titles, table=table, database_url=database_url)
        self.resources[name] = declared
        return declared

    # plumbing
    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            self._blobs = open_blobs(self.settings)
        return self._blobs

    @property
    def files(self) -> FileService:
        return file_service(self.settings, self.store, self.blobs)

    @property
    def service(self) -> JobService:
        return JobService(self.store, self.registry, self.files, self.resources)

    @property
    def schedules(self) -> ScheduleService:
        return ScheduleService(self.store.schedules, self.service, self.registry)

    def schedule(
        self,
        name: str,
        cron: str,
        *,
        type: str,
        params: dict[str, Any] | None = None,
        timezone: str = "Asia/Shanghai",
        overlap: str = "skip",
        missed: str | dict[str, Any] = "latest_once",
        pause_on_failure: bool = False,
        owner: str = "system",
    ) -> None:
        """Declare a cron schedule: stored when a scheduler first runs (``batchyard scheduler``, ``serve``) and
        kept as declared, by name; checked now, so a wrong cron or zone fails at import of the app."""
        declared = NewSchedule(
            name=name,
            owner=owner,
            type=type,
            params=dict(params or {}),
            cron=validate_cron(cron),
            timezone=timezone,
            overlap=Overlap.parse(overlap),
            missed=MissedPolicy.parse(missed),
            pause_on_failure=pause_on_failure,
        )
        validate_timezone(timezone)
        self._declared_schedules.append(declared)

    def store_schedules(self) -> list[Schedule]:
        """Create the declared schedules missing from the database, and bring changed ones back to their
        declaration; what a scheduler does as it starts."""
        return [self.schedules.declare(new) for new in self._declared_schedules]

    def tick_schedules(self, now: datetime | None = None) -> Tick:
        """One scheduler tick: start the runs due by ``now``."""
        return self.schedules.tick(now)

    def close(self) -> None:
        self._resource_databases.close()
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._blobs is not None:
            self._blobs.close()
            self._blobs = None

    # files
    def upload(self, source: str | Path | BinaryIO, *, owner: str = "system", filename: str | None = None) -> Upload:
        """Keep a file (a path or a binary file object) for jobs of ``owner``'s to use (``upload_ids``)."""
        if isinstance(source, str | Path):
            path = Path(source)
            with path.open("rb") as handle:
                return self.files.upload(owner, filename or path.name, handle)
        name = filename or Path(str(getattr(source, "name", "") or "file")).name
        return self.files.upload(owner, name, source)

    def artifacts(self, job_id: int) -> list[Artifact]:
        """The files the job produced: its own first, then its items' outputs in item order."""
        return [a for a in self.store.artifacts(job_id) if a.kind not in WORKING_KINDS]

    def open_artifact(self, artifact_id: int) -> BinaryIO:
        """An artifact's bytes, to read (close it when done)."""
        return self.blobs.open(self.files.artifact(artifact_id).blob_key)

    # submitting and steering
    def submit(
        self,
        type: str,
        *,
        items: Iterable[Any] | None = None,
        params: dict[str, Any] | None = None,
        owner: str = "system",
        priority: int | None = None,
        idempotency_key: str | None = None,
        upload_ids: Sequence[int] | None = None,
    ) -> Job:
        """Submit a job of ``type``: its items, or one item per uploaded file (``upload_ids``)."""
        return self.service.submit(
            type,
            owner=owner,
            items=items,
            params=params,
            priority=priority,
            idempotency_key=idempotency_key,
            upload_ids=upload_ids,
        )

    def preview(
        self,
        type: str,
        *,
        params: dict[str, Any] | None = None,
        owner: str = "system",
        upload_ids: Sequence[int] = (),
    ) -> dict[str, Any]:
        """What a job of ``type`` would do, without submitting it: an import's column mapping and first rows."""
        return self.service.preview(type, owner=owner, params=params, upload_ids=upload_ids)

    def get(self, job_id: int) -> Job:
        return self.store.get_job(job_id)

    def items(self, job_id: int, status: str | None = None) -> Iterator[ItemRecord]:
        return self.store.items(job_id, status)

    def tally(self, job_id: int) -> dict[str, Any]:
        """The job's items counted, as ``GET /jobs/{id}/tally`` gives them: succeeded, failed, skipped, and the
        succeeded by their output where it is a word (an import's ``inserted`` and ``updated``)."""
        return dataclasses.asdict(self.store.tally(job_id))

    def cancel(self, job_id: int) -> Job:
        return self.service.cancel(job_id)

    def pause(self, job_id: int) -> Job:
        return self.service.pause(job_id)

    def resume(self, job_id: int) -> Job:
        return self.service.resume(job_id)

    def retry_failed(self, job_id: int) -> Job:
        return self.service.retry_failed(job_id)

    # running
    def worker(self, *, name: str | None = None) -> Worker:
        return Worker(self.store, self.registry, lease=self.settings.lease_seconds, name=name, files=self.files)

    def run_until_done(self, job_id: int, *, timeout: float | None = None) -> Job:
        """Work in this process until the job has finished, then return it.

        After ``timeout`` seconds it returns the job as it stands, unfinished and without raising: callers
        check ``job.status.is_finished``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout

        def finished() -> bool:
            if deadline is not None and time.monotonic() > deadline:
                return True
            return self.store.job_status(job_id).is_finished

        self.worker().run(until=finished)
        return self.get(job_id)
