"""The caller's webhooks: each receives a signed POST for every notice of theirs (viewers too: they only
receive). Another user's webhook is 404, like their tokens and notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from batchyard.api.deps import CurrentUser, WebhookId, Webhooks
from batchyard.api.errors import responses
from batchyard.api.schemas import Out
from batchyard.core.webhook_urls import MAX_URL_LENGTH

router = APIRouter(tags=["webhooks"])


class WebhookIn(BaseModel):
    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="http or https, no user name or password; it must resolve to public addresses unless the "
        "server allows private ones",
    )
    description: str | None = Field(default=None, max_length=200)


class WebhookOut(Out):
    id: int
    url: str
    description: str | None
    created_at: datetime


class NewWebhookOut(WebhookOut):
    secret: str = Field(
        description="the signing secret, shown this once: `X-Batchyard-Signature` is `sha256=` and the hex "
        "HMAC-SHA256 of the body keyed by it"
    )


class AttemptOut(Out):
    at: datetime
    status_code: int | None = Field(description="the receiver's HTTP status; null when it gave none")
    error: str | None = Field(description="what went wrong; null when delivered")
    duration_ms: int


class DeliveryOut(Out):
    id: int = Field(description="the body's `id` and the `X-Batchyard-Delivery` header")
    event: str = Field(description="`job.finished` or `ping`")
    status: str = Field(description="pending, delivered or failed")
    notification_id: int | None
    data: dict[str, Any]
    attempts: int
    next_attempt_at: datetime | None = Field(description="while pending")
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptOut] = Field(description="every attempt, oldest first")


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None


@router.post(
    "/me/webhooks",
    operation_id="create_my_webhook",
    status_code=201,
    response_model=NewWebhookOut,
    responses=responses(401, 409, 422, 429),
)
def create_my_webhook(body: WebhookIn, user: CurrentUser, service: Webhooks) -> NewWebhookOut:
    """A webhook for the caller's notices, with its signing secret (shown once). A URL that is not http(s),
    carries credentials or resolves to a private address is 422; more than 10 webhooks is 409; more than 30
    made in 24 hours, deleted ones too, is 429 with `Retry-After`."""
    issued = service.create(user, body.url, body.description)
    return NewWebhookOut(**WebhookOut.of(issued.webhook).model_dump(), secret=issued.secret)


@router.get("/me/webhooks", operation_id="my_webhooks", response_model=list[WebhookOut], responses=responses(401))
def my_webhooks(user: CurrentUser, service: Webhooks) -> list[WebhookOut]:
    return [WebhookOut.of(hook) for hook in service.of_user(user)]


@router.delete(
    "/me/webhooks/{webhook_id}",
    operation_id="delete_my_webhook",
    status_code=204,
    responses=responses(401, 404, 422),
)
def delete_my_webhook(webhook_id: WebhookId, user: CurrentUser, service: Webhooks) -> None:
    """Its deliveries still pending are failed; one already being sent may still arrive."""
    service.delete(user, webhook_id)


@router.get(
    "/me/webhooks/{webhook_id}/deliveries",
    operation_id="webhook_deliveries",
    response_model=DeliveryPage,
    responses=responses(401, 404, 422),
)
def webhook_deliveries(
    webhook_id: WebhookId,
    user: CurrentUser,
    service: Webhooks,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    """Newest first, each with its attempts: when, the receiver's status, what went wrong."""
    found = service.deliveries(user, webhook_id, before=int(cursor) if cursor else None, limit=limit + 1)
    page = found[:limit]
    more = len(found) > limit
    return DeliveryPage(deliveries=[DeliveryOut.of(d) for d in page], next_cursor=str(page[-1].id) if more else None)


@router.post(
    "/me/webhooks/{webhook_id}/ping",
    operation_id="ping_my_webhook",
    status_code=202,
    response_model=DeliveryOut,
    responses=responses(401, 404, 422, 429),
)
def ping_my_webhook(webhook_id: WebhookId, user: CurrentUser, service: Webhooks) -> DeliveryOut:
    """Queue a `ping` delivery to the webhook (or return the one still pending); one a minute, else 429 with
    `Retry-After`."""
    return DeliveryOut.of(service.ping(user, webhook_id))
