"""A user's webhooks: made with a URL that passes the SSRF rule and a secret shown once, listed, deleted,
pinged, and the log of their deliveries. Another user's webhook is 404, as their tokens and notifications are."""

from __future__ import annotations

from dataclasses import dataclass

from batchyard.core.notices import Delivery, Webhook
from batchyard.core.users import User
from batchyard.errors import WebhookNotFound
from batchyard.service.addresses import check_new_webhook_url
from batchyard.service.signing import Signer, new_nonce
from batchyard.store.base import Store

MAX_WEBHOOKS = 10  # per user
MAX_NEW_PER_DAY = 30  # webhooks a user may make in 24 hours, deleted ones counted: a deleted one keeps its row
PING_INTERVAL = 60  # seconds between two pings of a webhook


@dataclass(frozen=True, slots=True)
class IssuedWebhook:
    webhook: Webhook
    secret: str  # shown this once; derived again for each delivery, never stored


class WebhookService:
    def __init__(
        self,
        store: Store,
        signer: Signer,
        *,
        allow_private: bool,
        limit: int = MAX_WEBHOOKS,
        per_day: int = MAX_NEW_PER_DAY,
    ) -> None:
        self.store = store
        self.signer = signer
        self.allow_private = allow_private
        self.limit = limit
        self.per_day = per_day

    def create(self, user: User, url: str, description: str | None = None) -> IssuedWebhook:
        check_new_webhook_url(url, allow_private=self.allow_private)
        nonce = new_nonce()
        hook = self.store.create_webhook(
            user.id,
            url=url,
            description=description,
            nonce=nonce,
            key_id=self.signer.key_id,
            limit=self.limit,
            per_day=self.per_day,
        )
        return IssuedWebhook(hook, self.signer.webhook_secret(hook.id, nonce))

    def of_user(self, user: User) -> list[Webhook]:
        return self.store.webhooks(user.id)

    def get(self, user: User, webhook_id: int) -> Webhook:
        found = self.store.webhook(user.id, webhook_id)
        if found is None:
            raise WebhookNotFound(webhook_id=webhook_id)
        return found

    def delete(self, user: User, webhook_id: int) -> None:
        if not self.store.delete_webhook(user.id, webhook_id):
            raise WebhookNotFound(webhook_id=webhook_id)

    def ping(self, user: User, webhook_id: int) -> Delivery:
        queued = self.store.queue_ping(user.id, webhook_id, interval=PING_INTERVAL)
        if queued is None:
            raise WebhookNotFound(webhook_id=webhook_id)
        return queued

    def deliveries(self, user: User, webhook_id: int, *, before: int | None, limit: int) -> list[Delivery]:
        found = self.store.webhook_deliveries(user.id, webhook_id, before=before, limit=limit)
        if found is None:
            raise WebhookNotFound(webhook_id=webhook_id)
        return found
