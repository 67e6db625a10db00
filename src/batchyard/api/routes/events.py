"""Live events as Server-Sent Events: one job's, or everything the caller may see. Each event carries its id;
a client that reconnects with ``Last-Event-ID`` gets everything after it, nothing twice."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Request
from sse_starlette import EventSourceResponse

from batchyard.api.deps import CurrentUser, JobId, StoreDep, owned
from batchyard.api.errors import responses
from batchyard.service.events import EventHub, EventsLost
from batchyard.store.base import Event

router = APIRouter(tags=["events"])
KEEP_ALIVE_SECONDS = 15
_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "a stream of events"}
}


def hub(request: Request) -> EventHub:
    value: EventHub = request.app.state.events
    return value


Hub = Annotated[EventHub, Depends(hub)]
LastEventId = Annotated[str | None, Header(pattern=r"^\d{1,18}$", description="the last id received")]


@router.get(
    "/jobs/{job_id}/events",
    operation_id="job_events",
    response_class=EventSourceResponse,
    responses={**_STREAM, **responses(401, 403, 404, 422)},
)
async def job_events(
    job_id: JobId,
    request: Request,
    user: CurrentUser,
    store: StoreDep,
    events: Hub,
    *,
    last_event_id: LastEventId = None,
) -> EventSourceResponse:
    """The job's events, from its first (or after `Last-Event-ID`) and then as they happen: progress at most
    a few times a second, every state change, and the end."""
    await anyio.to_thread.run_sync(lambda: owned(store.get_job(job_id), user))
    # without Last-Event-ID: from the job's first event still kept
    start = int(last_event_id) if last_event_id else max(0, await anyio.to_thread.run_sync(store.oldest_event_id) - 1)
    return _response(request, events, start, job_id=job_id, visible=lambda e: True, resumed=bool(last_event_id))


@router.get(
    "/events",
    operation_id="all_events",
    response_class=EventSourceResponse,
    responses={**_STREAM, **responses(401, 422)},
)
async def all_events(
    request: Request, user: CurrentUser, events: Hub, *, last_event_id: LastEventId = None
) -> EventSourceResponse:
    """Every event the caller may see (an admin: all), from now (or after `Last-Event-ID`)."""
    await anyio.to_thread.run_sync(events.start)
    start = int(last_event_id) if last_event_id else events.head

    def visible(event: Event) -> bool:
        return user.may_see(event.owner)

    return _response(request, events, start, job_id=None, visible=visible, resumed=bool(last_event_id))


def _response(
    request: Request,
    events: EventHub,
    start: int,
    *,
    job_id: int | None,
    visible: Callable[[Event], bool],
    resumed: bool,
) -> EventSourceResponse:
    stream = _stream(request, events, start, job_id, visible, resumed=resumed)
    return EventSourceResponse(stream, ping=KEEP_ALIVE_SECONDS)


async def _stream(
    request: Request,
    events: EventHub,
    cursor: int,
    job_id: int | None,
    visible: Callable[[Event], bool],
    *,
    resumed: bool,
) -> AsyncIterator[dict[str, Any]]:
    await anyio.to_thread.run_sync(events.start)
    if resumed and not await anyio.to_thread.run_sync(events.resume_after, cursor):
        cursor = events.head
        yield _reset(cursor, job_id)
    events.subscribers += 1
    try:
        while not await request.is_disconnected():
            try:
                found, complete_to = await anyio.to_thread.run_sync(events.after, cursor, job_id)
            except EventsLost:
                cursor = events.head
                yield _reset(cursor, job_id)
                continue
            for event in found:
                if visible(event):
                    yield _message(event)
            cursor = max(cursor, complete_to)
            if not found:
                await events.wait_beyond(cursor, KEEP_ALIVE_SECONDS)
    finally:
        events.subscribers -= 1


def _reset(event_id: int, job_id: int | None) -> dict[str, Any]:
    """Events after the client's ``Last-Event-ID`` are gone: it should fetch the state afresh, then follow on
    from this event's id."""
    data = {"reason": "the events after Last-Event-ID are no longer kept; fetch the current state again"}
    body = {"id": event_id, "job_id": job_id, "kind": "reset", "at": time.time(), "data": data}
    return {"id": str(event_id), "event": "reset", "data": json.dumps(body, ensure_ascii=False)}


def _message(event: Event) -> dict[str, Any]:
    body = {"id": event.id, "job_id": event.job_id, "kind": event.kind, "at": event.at, "data": event.data}
    return {"id": str(event.id), "event": event.kind, "data": json.dumps(body, ensure_ascii=False)}
