"""An app's notification channels, built from the settings: the webhook service its routes use, whether it
takes e-mail addresses (only when it can send e-mail), and the dispatcher its lifespan runs when it delivers."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from batchyard.core.smtp import parse_smtp_url
from batchyard.service.deliveries import Dispatcher, RetryPolicy
from batchyard.service.mailer import Mailer
from batchyard.service.signing import Signer, load_secret_key
from batchyard.service.webhook_http import WebhookPoster
from batchyard.service.webhooks import WebhookService
from batchyard.settings import Settings
from batchyard.store.base import Store

log = logging.getLogger("batchyard.api")


@dataclass(frozen=True, slots=True)
class Channels:
    webhooks: WebhookService
    email_enabled: bool
    dispatcher: Dispatcher | None


def build(store: Store, settings: Settings | None, *, deliver: bool) -> Channels:
    """Without settings (an app made for a test), the defaults and a key of the app's own: webhook secrets it
    shows are good for as long as it runs."""
    if settings is None:
        log.info("no settings given: webhook secrets are derived from a key that lasts as long as this app")
        config, key = Settings.model_construct(), secrets.token_bytes(32)
    else:
        secret = settings.secret_key.get_secret_value() if settings.secret_key else None
        config, key = settings, load_secret_key(secret, settings.data_dir)
    signer = Signer(key)
    mailer = _mailer(config)
    dispatcher = _dispatcher(store, signer, mailer, config) if deliver else None
    webhooks = WebhookService(store, signer, allow_private=config.webhook_allow_private)
    return Channels(webhooks, mailer is not None, dispatcher)


def _mailer(settings: Settings) -> Mailer | None:
    if settings.smtp_url is None or not settings.smtp_from:
        return None
    server = parse_smtp_url(settings.smtp_url.get_secret_value())
    return Mailer(server, sender=settings.smtp_from, timeout=settings.delivery_timeout)


def _dispatcher(store: Store, signer: Signer, mailer: Mailer | None, settings: Settings) -> Dispatcher:
    policy = RetryPolicy(
        max_attempts=settings.delivery_max_attempts,
        backoff_base=settings.delivery_backoff_seconds,
        backoff_cap=settings.delivery_backoff_cap,
    )
    poster = WebhookPoster(timeout=settings.delivery_timeout, allow_private=settings.webhook_allow_private)
    return Dispatcher(
        store,
        signer=signer,
        poster=poster,
        mailer=mailer,
        policy=policy,
        poll=settings.delivery_poll_seconds,
        concurrency=settings.delivery_concurrency,
    )
