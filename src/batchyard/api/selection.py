"""Which jobs a list or a bulk action means: one filter for both, so that "everything matching" acts on exactly
the jobs the list showed (the caller's own; an admin's, anyone's or one owner's)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from batchyard.core.model import Job
from batchyard.core.status import JobStatus
from batchyard.core.users import User
from batchyard.store.base import Store


class StatusGroup(StrEnum):
    ACTIVE = "active"
    FINISHED = "finished"
    FAILED = "failed"


GROUPS: dict[StatusGroup, tuple[JobStatus, ...]] = {
    StatusGroup.ACTIVE: (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED, JobStatus.CANCELLING),
    StatusGroup.FINISHED: (
        JobStatus.SUCCEEDED,
        JobStatus.PARTIALLY_SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    ),
    StatusGroup.FAILED: (JobStatus.FAILED, JobStatus.PARTIALLY_SUCCEEDED),
}


_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


class Selection(BaseModel):
    status: list[JobStatus] | None = Field(default=None, description="one or more statuses")
    group: StatusGroup | None = Field(default=None, description="active, finished or failed")
    type: str | None = Field(default=None, max_length=200)
    resource: str | None = Field(default=None, max_length=200, description="imports and exports of this resource")
    owner: str | None = Field(default=None, max_length=200, description="admins only; others see their own")
    created_after: AwareDatetime | None = Field(default=None, description="made at or after this instant")
    created_before: AwareDatetime | None = Field(default=None, description="made before this instant")
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00]*$",
        description="text in the job's type or params, or its id",
    )
    up_to_id: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description="only jobs up to this id: the newest a list showed, so that jobs made since are left alone",
    )

    @field_validator("created_after", "created_before", mode="before")
    @classmethod
    def _written_as_an_instant(cls, value: object) -> object:
        """An instant as the document says it is: ISO 8601 text (pydantic alone would take a number of seconds)."""
        if value is None or isinstance(value, datetime):
            return value
        if not isinstance(value, str) or not _ISO_INSTANT.match(value):
            raise ValueError("an instant is written as in 2026-03-01T00:00:00+08:00")
        return value

    @field_validator("created_after", "created_before")
    @classmethod
    def _in_utc(cls, moment: datetime | None) -> datetime | None:
        """An instant that has no UTC time (its offset carries it past year 1 or 9999) is refused."""
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValueError("the instant is outside the years 1 to 9999 in UTC") from None


def matching(store: Store, user: User, selection: Selection, *, before: int | None, limit: int) -> list[Job]:
    """The newest ``limit`` jobs the caller may see that match, below id ``before`` (and up to ``up_to_id``)."""
    statuses = set(selection.status or ()) | set(GROUPS[selection.group] if selection.group else ())
    return store.list_jobs(
        owner=selection.owner if user.is_admin else user.name,
        statuses=sorted(statuses) or None,
        type=selection.type,
        resource=selection.resource,
        created_after=selection.created_after,
        created_before=selection.created_before,
        text=selection.q,
        before=_lowest(before, None if selection.up_to_id is None else selection.up_to_id + 1),
        limit=limit,
    )


def _lowest(*bounds: int | None) -> int | None:
    given = [b for b in bounds if b is not None]
    return min(given) if given else None
