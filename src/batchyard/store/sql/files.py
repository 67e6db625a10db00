"""Uploads and artifacts as rows: who owns a file, what it holds, where its bytes are and when it goes.

The bytes are the blob store's business; these functions hand back the blob keys of rows they replace or
that have expired, so that the service deletes the bytes, and delete a row only once asked to, after that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from batchyard.core.files import Artifact, NewArtifact, NewUpload, Upload
from batchyard.core.status import JobStatus
from batchyard.errors import UploadNotFound
from batchyard.store.sql.database import Database
from batchyard.store.sql.rows import as_utc, utcnow
from batchyard.store.sql.tables import artifacts, job_uploads, jobs, uploads

UNFINISHED = [s.value for s in JobStatus if not s.is_finished]
SAVE_ATTEMPTS = 3  # two saves of one item's output at once: the loser of the insert updates the winner's row


def add_upload(db: Database, new: NewUpload) -> Upload:
    with db.write() as conn:
        row = conn.execute(insert(uploads).values(**_fields(new), created_at=utcnow()).returning(uploads))
        return _upload(row.mappings().one())


def get_uploads(db: Database, ids: Sequence[int]) -> list[Upload]:
    """The uploads among ``ids`` that exist, in no particular order."""
    with db.read() as conn:
        rows = conn.execute(select(uploads).where(uploads.c.id.in_(list(ids)))).mappings()
        return [_upload(row) for row in rows]


def hold_uploads(conn: Connection, upload_ids: Sequence[int], until: datetime | None) -> None:
    """Inside the transaction that creates a job: its uploads, locked, must still be there and not expired
    (``UploadNotFound`` otherwise, and nothing is created); their expiry goes out to ``until``."""
    ids = list(dict.fromkeys(upload_ids))
    u = uploads.c
    query = select(u.id, u.expires_at).where(u.id.in_(ids)).with_for_update()
    now = utcnow()
    alive = {row.id for row in conn.execute(query) if (as_utc(row.expires_at) or now) > now}
    for upload_id in ids:
        if upload_id not in alive:
            raise UploadNotFound(upload_id=upload_id)
    if until is not None:
        conn.execute(update(uploads).where(u.id.in_(ids), u.expires_at < until).values(expires_at=until))


def link_uploads(conn: Connection, job_id: int, upload_ids: Sequence[int]) -> None:
    """Inside the transaction that creates the job: it reads these uploads."""
    rows = [{"job_id": job_id, "upload_id": upload_id} for upload_id in dict.fromkeys(upload_ids)]
    conn.execute(insert(job_uploads), rows)


def missing_uploads(db: Database, job_id: int) -> list[int]:
    """The uploads the job reads that are gone (swept): a retry of it cannot read them."""
    ju = job_uploads.c
    gone = ~exists().where(uploads.c.id == ju.upload_id)
    with db.read() as conn:
        return list(conn.execute(select(ju.upload_id).where(ju.job_id == job_id, gone)).scalars())


def put_artifact(db: Database, new: NewArtifact) -> tuple[Artifact, str | None]:
    """Record an artifact; the job's file or an item's output of the same name from an earlier run is replaced,
    and its blob key returned so that its bytes can be deleted. Two saves of one output at once (a worker thought
    lost and the one that took its chunk over) both succeed, the later one replacing the earlier."""
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        try:
            return _put_artifact(db, new)
        except IntegrityError:
            if attempt == SAVE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _put_artifact(db: Database, new: NewArtifact) -> tuple[Artifact, str | None]:
    a = artifacts.c
    with db.write() as conn:
        item = a.item_index.is_(None) if new.item_index is None else a.item_index == new.item_index
        same = and_(a.job_id == new.job_id, item, a.name == new.name)
        # locked: a second save of it at once waits, then replaces this one's bytes, not the first's
        old = conn.execute(select(a.id, a.blob_key).where(same).with_for_update()).first()
        values = {**_fields(new), "created_at": utcnow()}
        if old is None:
            row = conn.execute(insert(artifacts).values(**values).returning(artifacts)).mappings().one()
        else:
            query = update(artifacts).where(a.id == old.id).values(**values).returning(artifacts)
            row = conn.execute(query).mappings().one()
        replaced = old.blob_key if old is not None and old.blob_key != new.blob_key else None
        return _artifact(row), replaced


def job_artifacts(db: Database, job_id: int) -> list[Artifact]:
    """The job's artifacts: its own first, then item outputs in item order."""
    a = artifacts.c
    query = select(artifacts).where(a.job_id == job_id).order_by(a.item_index.is_not(None), a.item_index, a.id)
    with db.read() as conn:
        return [_artifact(row) for row in conn.execute(query).mappings()]


def get_artifact(db: Database, artifact_id: int) -> Artifact | None:
    with db.read() as conn:
        row = conn.execute(select(artifacts).where(artifacts.c.id == artifact_id)).mappings().one_or_none()
    return None if row is None else _artifact(row)


def expired_uploads(db: Database, now: datetime, limit: int, *, after_finish: timedelta) -> list[Upload]:
    """Uploads past their time that no job reads which is not finished, or finished within ``after_finish``."""
    with db.read() as conn:
        query = select(uploads).where(_sweepable(now, after_finish)).order_by(uploads.c.expires_at).limit(limit)
        return [_upload(row) for row in conn.execute(query).mappings()]


def _sweepable(now: datetime, after_finish: timedelta) -> ColumnElement[bool]:
    ju, j = job_uploads.c, jobs.c
    still_needed = or_(j.status.in_(UNFINISHED), j.finished_at.is_(None), j.finished_at > now - after_finish)
    read_by_a_job_that_needs_it = exists().where(ju.upload_id == uploads.c.id, ju.job_id == j.id, still_needed)
    return and_(uploads.c.expires_at <= now, ~read_by_a_job_that_needs_it)


def expired_artifacts(db: Database, now: datetime, limit: int) -> list[Artifact]:
    a = artifacts.c
    with db.read() as conn:
        rows = conn.execute(select(artifacts).where(a.expires_at <= now).order_by(a.expires_at).limit(limit))
        return [_artifact(row) for row in rows.mappings()]


def delete_uploads(db: Database, ids: Sequence[int], now: datetime, *, after_finish: timedelta) -> list[str]:
    """Delete the uploads among ``ids`` that may still be swept at ``now`` (a job may have taken one since);
    the blob keys of those deleted, whose bytes nothing can reach any more."""
    u = uploads.c
    with db.write() as conn:
        query = delete(uploads).where(u.id.in_(list(ids)), _sweepable(now, after_finish)).returning(u.blob_key)
        return list(conn.execute(query).scalars())


def delete_artifacts(db: Database, ids: Sequence[int], now: datetime) -> list[str]:
    """Delete the artifacts among ``ids`` still expired at ``now`` (an item run again since saved anew); the
    blob keys of those deleted."""
    a = artifacts.c
    with db.write() as conn:
        query = delete(artifacts).where(a.id.in_(list(ids)), a.expires_at <= now).returning(a.blob_key)
        return list(conn.execute(query).scalars())


def _fields(new: NewUpload | NewArtifact) -> dict[str, Any]:
    return {name: getattr(new, name) for name in new.__dataclass_fields__}


def _upload(row: Any) -> Upload:
    return Upload(**{**row, "created_at": as_utc(row["created_at"]), "expires_at": as_utc(row["expires_at"])})


def _artifact(row: Any) -> Artifact:
    return Artifact(**{**row, "created_at": as_utc(row["created_at"]), "expires_at": as_utc(row["expires_at"])})
