"""Cron schedules over HTTP: the caller's own (an admin sees all; another user's schedule is 404, like their
webhooks), the next five fire times, and every slot with what became of it and why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from batchyard.api.deps import ActingUser, CurrentUser, ScheduleId, Schedules
from batchyard.api.errors import language, responses
from batchyard.core.schedules import NewSchedule, Schedule, ScheduleChange, Slot
from batchyard.core.slot_rules import REASON_LABELS, MissedPolicy, Overlap
from batchyard.core.users import User
from batchyard.service.schedules import ScheduleService

router = APIRouter(tags=["schedules"])

OverlapName = Literal["allow", "skip", "buffer_one", "cancel_previous"]
Missed = Annotated[
    str | dict[str, Any],
    Field(
        description='`"skip"`, `"latest_once"` or `{"kind": "catch_up_all", "window_seconds": 86400, "max": 10}`',
        examples=["latest_once"],
    ),
]
Cron = Annotated[str, Field(min_length=1, max_length=200, examples=["0 9 1 * *"], description="five fields")]
Zone = Annotated[str, Field(min_length=1, max_length=64, examples=["Asia/Shanghai"], description="an IANA zone")]


class ScheduleIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=200, description="the job type each run submits")
    cron: Cron
    timezone: Zone = "Asia/Shanghai"
    params: dict[str, Any] = Field(default_factory=dict)
    overlap: OverlapName = "skip"
    missed: Missed = "latest_once"
    pause_on_failure: bool = False
    paused: bool = False


class ScheduleEdit(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    cron: Cron | None = None
    timezone: Zone | None = None
    params: dict[str, Any] | None = None
    overlap: OverlapName | None = None
    missed: Missed | None = None
    pause_on_failure: bool | None = None


class PauseIn(BaseModel):
    reason: str | None = Field(None, max_length=500)


class PreviewIn(BaseModel):
    cron: Cron
    timezone: Zone = "Asia/Shanghai"


class FireTimes(BaseModel):
    next: list[datetime] = Field(description="the next five fire times, in UTC")


class ScheduleOut(BaseModel):
    id: int
    name: str
    owner: str
    type: str
    cron: str
    timezone: str
    params: dict[str, Any]
    overlap: OverlapName
    missed: dict[str, Any]
    pause_on_failure: bool
    paused: bool
    paused_reason: str | None
    created_at: datetime
    updated_at: datetime
    next: list[datetime] = Field(description="the next five fire times, in UTC")
    slots: dict[str, int] = Field(description="slots by outcome: started, skipped, buffered, refused, claimed")


class SlotOut(BaseModel):
    slot_at: datetime
    outcome: str = Field(description="started, buffered, skipped, refused (the submit was refused), claimed")
    reason: str | None = Field(description="a code: missed, superseded, outside_window, over_limit, ...")
    reason_text: str | None = Field(description="the reason in the caller's language")
    job_id: int | None
    count: int = Field(description="how many slots this row stands for (skipped slots are summed up)")
    last_at: datetime | None = Field(description="the last slot a summary stands for")


class SlotPage(BaseModel):
    slots: list[SlotOut]
    next_before: datetime | None = Field(description="pass as `before` for the next (older) page")


def _out(schedule: Schedule, service: ScheduleService) -> ScheduleOut:
    return ScheduleOut(
        id=schedule.id,
        name=schedule.name,
        owner=schedule.owner,
        type=schedule.type,
        cron=schedule.cron,
        timezone=schedule.timezone,
        params=schedule.params,
        overlap=schedule.overlap.value,
        missed=schedule.missed.as_dict(),
        pause_on_failure=schedule.pause_on_failure,
        paused=schedule.paused,
        paused_reason=schedule.paused_reason,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
        next=service.preview(schedule.cron, schedule.timezone),
        slots=service.store.count_slots(schedule.id),
    )


def _slot(slot: Slot, lang: str) -> SlotOut:
    zh = lang.startswith("zh")
    if slot.detail is not None:
        text: str | None = slot.detail_zh if zh and slot.detail_zh else slot.detail
    else:
        labels = REASON_LABELS.get(slot.reason or "")
        text = None if labels is None else labels[1 if zh else 0]
    return SlotOut(
        slot_at=slot.slot_at,
        outcome=slot.outcome.value,
        reason=slot.reason,
        reason_text=text,
        job_id=slot.job_id,
        count=slot.count,
        last_at=slot.last_at,
    )


def _mine(service: ScheduleService, schedule_id: int, user: User) -> Schedule:
    return service.get(schedule_id, owner=None if user.is_admin else user.name)


@router.get("/schedules", operation_id="list_schedules", response_model=list[ScheduleOut], responses=responses(401))
def list_schedules(user: CurrentUser, service: Schedules) -> list[ScheduleOut]:
    """The caller's schedules (an admin's: everyone's), oldest first."""
    found = service.listed(owner=None if user.is_admin else user.name, limit=500)
    return [_out(s, service) for s in found]


@router.post(
    "/schedules",
    operation_id="create_schedule",
    status_code=201,
    response_model=ScheduleOut,
    responses=responses(401, 403, 409, 422),
)
def create_schedule(body: ScheduleIn, user: ActingUser, service: Schedules) -> ScheduleOut:
    """A schedule of the caller's: each slot submits a job of ``type`` as the caller (quota and limits apply).
    A wrong cron, zone, type or params is 422; a name the caller already uses is 409."""
    new = NewSchedule(
        name=body.name,
        owner=user.name,
        type=body.type,
        params=body.params,
        cron=body.cron,
        timezone=body.timezone,
        overlap=Overlap(body.overlap),
        missed=MissedPolicy.parse(body.missed),
        pause_on_failure=body.pause_on_failure,
        paused=body.paused,
    )
    return _out(service.create(new), service)


@router.post(
    "/schedules/preview", operation_id="preview_schedule", response_model=FireTimes, responses=responses(401, 422)
)
def preview_schedule(body: PreviewIn, user: CurrentUser, service: Schedules) -> FireTimes:
    """The next five fire times of a cron expression in a time zone (for an editor, before saving)."""
    return FireTimes(next=service.preview(body.cron, body.timezone))


@router.get(
    "/schedules/{schedule_id}",
    operation_id="get_schedule",
    response_model=ScheduleOut,
    responses=responses(401, 404, 422),
)
def get_schedule(schedule_id: ScheduleId, user: CurrentUser, service: Schedules) -> ScheduleOut:
    return _out(_mine(service, schedule_id, user), service)


@router.patch(
    "/schedules/{schedule_id}",
    operation_id="update_schedule",
    response_model=ScheduleOut,
    responses=responses(401, 403, 404, 409, 422),
)
def update_schedule(schedule_id: ScheduleId, body: ScheduleEdit, user: ActingUser, service: Schedules) -> ScheduleOut:
    """Change what is given; a new cron or zone decides slots from now on (none is back-filled)."""
    _mine(service, schedule_id, user)
    change = ScheduleChange(
        name=body.name,
        params=body.params,
        cron=body.cron,
        timezone=body.timezone,
        overlap=None if body.overlap is None else Overlap(body.overlap),
        missed=None if body.missed is None else MissedPolicy.parse(body.missed),
        pause_on_failure=body.pause_on_failure,
    )
    return _out(service.change(schedule_id, change), service)


@router.delete(
    "/schedules/{schedule_id}",
    operation_id="delete_schedule",
    status_code=204,
    responses=responses(401, 403, 404, 422),
)
def delete_schedule(schedule_id: ScheduleId, user: ActingUser, service: Schedules) -> Response:
    """The schedule and its slots' record; the jobs it started stay."""
    _mine(service, schedule_id, user)
    service.delete(schedule_id)
    return Response(status_code=204)


@router.post(
    "/schedules/{schedule_id}/pause",
    operation_id="pause_schedule",
    response_model=ScheduleOut,
    responses=responses(401, 403, 404, 422),
)
def pause_schedule(
    schedule_id: ScheduleId, user: ActingUser, service: Schedules, body: PauseIn | None = None
) -> ScheduleOut:
    _mine(service, schedule_id, user)
    return _out(service.pause(schedule_id, body.reason if body else None), service)


@router.post(
    "/schedules/{schedule_id}/resume",
    operation_id="resume_schedule",
    response_model=ScheduleOut,
    responses=responses(401, 403, 404, 422),
)
def resume_schedule(schedule_id: ScheduleId, user: ActingUser, service: Schedules) -> ScheduleOut:
    """Slots that came due while paused are decided by the schedule's missed-run policy."""
    _mine(service, schedule_id, user)
    return _out(service.resume(schedule_id), service)


@router.get(
    "/schedules/{schedule_id}/slots",
    operation_id="list_schedule_slots",
    response_model=SlotPage,
    responses=responses(401, 404, 422),
)
def list_schedule_slots(
    request: Request,
    schedule_id: ScheduleId,
    *,
    user: CurrentUser,
    service: Schedules,
    before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SlotPage:
    """Newest first: each slot started, buffered, refused, or skipped with its reason in the caller's language."""
    _mine(service, schedule_id, user)
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=UTC)  # an instant without a zone is read as UTC
    found = service.slots(schedule_id, before=before, limit=limit)
    lang = language(request)
    more = found[-1].slot_at if len(found) == limit else None
    return SlotPage(slots=[_slot(s, lang) for s in found], next_before=more)
