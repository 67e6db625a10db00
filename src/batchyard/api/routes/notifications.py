"""The caller's inbox: a notice for each of their jobs that finished, in their language."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from batchyard.api.deps import MAX_ID, CurrentUser, StoreDep
from batchyard.api.errors import language, responses
from batchyard.core.users import Notification
from batchyard.errors import NotificationNotFound

router = APIRouter(tags=["notifications"])

_MESSAGES = {
    "en": "Job {job_id} ({type}) ended {status}: {succeeded} succeeded, {failed} failed, {skipped} skipped.",
    "zh-CN": "任务 {job_id}（{type}）已结束，状态 {status}：成功 {succeeded}，失败 {failed}，跳过 {skipped}。",
}


class NotificationOut(BaseModel):
    id: int
    job_id: int
    kind: str
    message: str = Field(description="for people, in the caller's language")
    data: dict[str, Any] = Field(description="the job's status, type and counts when it ended")
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, notice: Notification, lang: str) -> NotificationOut:
        message = _MESSAGES[lang].format(job_id=notice.job_id, **{"type": "", **notice.data})
        return cls(
            id=notice.id,
            job_id=notice.job_id,
            kind=notice.kind,
            message=message,
            data=notice.data,
            created_at=notice.created_at,
            read_at=notice.read_at,
        )


class NotificationPage(BaseModel):
    notifications: list[NotificationOut]
    next_cursor: str | None


@router.get(
    "/notifications", operation_id="list_notifications", response_model=NotificationPage, responses=responses(401, 422)
)
def list_notifications(
    request: Request,
    user: CurrentUser,
    store: StoreDep,
    *,
    unread: bool = False,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationPage:
    """Newest first; `unread=true` for those not marked read."""
    found = store.notifications(user.id, unread=unread, before=int(cursor) if cursor else None, limit=limit + 1)
    page = found[:limit]
    lang = language(request)
    more = len(found) > limit
    return NotificationPage(
        notifications=[NotificationOut.of(n, lang) for n in page], next_cursor=str(page[-1].id) if more else None
    )


@router.post(
    "/notifications/{notification_id}/read",
    operation_id="mark_notification_read",
    status_code=204,
    responses=responses(401, 404, 422),
)
def mark_notification_read(
    notification_id: Annotated[int, Path(ge=1, le=MAX_ID)], user: CurrentUser, store: StoreDep
) -> None:
    if not store.mark_read(user.id, notification_id):
        raise NotificationNotFound(notification_id=notification_id)
