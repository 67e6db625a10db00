"""The dispatcher: threads in an API process that claim due deliveries from the outbox, send them (a signed
webhook POST, or an e-mail), log each attempt and retry with backoff until the last attempt. Each channel has
threads of its own, so a slow SMTP server never holds up a webhook; a process without SMTP sends no e-mail.

Several API processes may run one each: a delivery is claimed under a lease, so two never send it at once.
Sending and recording are not one transaction, so a process that dies between them sends that delivery again
once its lease runs out — webhooks are at-least-once, and receivers drop repeats by ``X-Batchyard-Delivery``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

from batchyard.core.backoff import backoff_seconds
from batchyard.core.notices import Channel, DeliveryAttempt, DeliveryStatus, DueDelivery
from batchyard.errors import BatchyardError
from batchyard.service.mailer import Mailer, notice_message
from batchyard.service.signing import Signer, signature
from batchyard.service.webhook_http import WebhookPoster
from batchyard.store.base import Store

log = logging.getLogger("batchyard.deliveries")

CHANNELS = (Channel.WEBHOOK, Channel.EMAIL)
RECORD_WAITS = (0.0, 1.0, 5.0)  # a passing database fault must not cost the answer (it would be sent again)
LEASE_MARGIN = 30.0  # seconds of a lease beyond the longest attempt: resolving names, recording the answer
ORPHANED_EMAIL = 24 * 3600.0  # an e-mail due this long ago has no process with SMTP to send it: fail it


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_base: float = 60.0  # seconds before the first retry; doubled for each later one, with jitter
    backoff_cap: float = 3600.0

    def next_attempt_at(self, attempt: int, now: datetime) -> datetime | None:
        """When to try again after attempt number ``attempt`` failed; None when it was the last."""
        if attempt >= self.max_attempts:
            return None
        return now + timedelta(seconds=backoff_seconds(attempt, base=self.backoff_base, cap=self.backoff_cap))


@dataclass(frozen=True, slots=True)
class _Result:
    status_code: int | None = None
    error: str | None = None
    final: bool = False  # a failure no retry can mend
    hold_back: bool = False  # the target failed: its other deliveries wait for the retry too


def webhook_body(due: DueDelivery) -> bytes:
    """The POST's body: the same bytes on every attempt (the delivery's id, type, time and data as queued)."""
    created = due.created_at.astimezone(UTC).isoformat()
    payload = {"id": due.id, "type": due.event.value, "created_at": created, "data": due.data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class Dispatcher:
    def __init__(
        self,
        store: Store,
        *,
        signer: Signer,
        poster: WebhookPoster,
        mailer: Mailer | None,
        policy: RetryPolicy,
        poll: float = 1.0,
        concurrency: int = 2,
    ) -> None:
        self.store = store
        self.signer = signer
        self.poster = poster
        self.mailer = mailer
        self.policy = policy
        self.poll = poll
        self.channels = CHANNELS if mailer is not None else (Channel.WEBHOOK,)  # only what it can send
        longest = max(poster.longest_attempt, mailer.longest_attempt if mailer is not None else 0.0)
        self.lease = longest + LEASE_MARGIN  # an attempt still going when its lease ends is sent twice
        self.concurrency = concurrency  # threads per channel
        self._user_agent = f"batchyard/{version('batchyard')}"
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the sending threads, ``concurrency`` per channel (again, after ``stop``: threads from before
        still in an attempt end with it, by a stop flag of their own that a new start never clears)."""
        self._stopping.set()
        self._stopping = stopping = threading.Event()
        new = [
            threading.Thread(
                target=self._run, args=(channel, stopping), name=f"batchyard-deliveries-{channel}-{n}", daemon=True
            )
            for channel in self.channels
            for n in range(self.concurrency)
        ]
        self._threads = [thread for thread in self._threads if thread.is_alive()] + new  # stop waits for all
        for thread in new:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking deliveries; those in flight finish if they can within ``timeout`` (for all threads
        together), else their lease runs out and another dispatcher sends them again."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def deliver_one(self, channels: Sequence[Channel] | None = None) -> bool:
        """Claim one due delivery (of ``channels``; all this dispatcher can send), attempt it and record the
        answer; False when none was due. Without SMTP, e-mail no process with SMTP has sent for a day is
        failed, not kept for ever."""
        claimed = self._claim(channels or self.channels)
        if not claimed and self.mailer is None:
            claimed = self._claim((Channel.EMAIL,), overdue=ORPHANED_EMAIL)
        for due in claimed:
            self._deliver(due)
        return bool(claimed)

    def _claim(self, channels: Sequence[Channel], overdue: float = 0.0) -> list[DueDelivery]:
        max_attempts = self.policy.max_attempts
        return self.store.claim_deliveries(
            limit=1, lease_seconds=self.lease, max_attempts=max_attempts, channels=channels, overdue=overdue
        )

    def _run(self, channel: Channel, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                busy = self.deliver_one((channel,))
            except BatchyardError as exc:  # the database is away: try again later
                log.warning("delivering notices failed, trying again: %s", exc)
                busy = False
            except Exception:  # a bug must not silently stop deliveries for the life of the process
                log.exception("delivering notices failed unexpectedly, trying again")
                busy = False
            if not busy:
                stopping.wait(self.poll)

    def _deliver(self, due: DueDelivery) -> None:
        at, started = datetime.now(UTC), time.monotonic()
        result = self._attempt(due)
        attempt = DeliveryAttempt(at, result.status_code, result.error, round((time.monotonic() - started) * 1000))
        if result.error is None:
            self._record(due, attempt, DeliveryStatus.DELIVERED)
            return
        next_at = None if result.final else self.policy.next_attempt_at(due.attempt, datetime.now(UTC))
        log.info("delivery %s (%s, attempt %s) failed: %s", due.id, due.channel, due.attempt, result.error)
        status = DeliveryStatus.FAILED if next_at is None else DeliveryStatus.PENDING
        self._record(due, attempt, status, next_at, hold_back=result.hold_back)

    def _attempt(self, due: DueDelivery) -> _Result:
        try:
            return self._send_webhook(due) if due.channel == Channel.WEBHOOK else self._send_email(due)
        except Exception as exc:  # a bug here must cost one attempt, not the dispatcher thread
            log.exception("delivery %s failed unexpectedly", due.id)
            return _Result(error=f"internal error: {type(exc).__name__}")

    def _send_webhook(self, due: DueDelivery) -> _Result:
        hook = due.webhook
        if hook is None:
            return _Result(error="the webhook was deleted", final=True)
        if hook.key_id != self.signer.key_id:  # another API host, with the right key, may send it
            return _Result(error="this server's secret_key is not the one the webhook was made with")
        body = webhook_body(due)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            "X-Batchyard-Event": due.event.value,
            "X-Batchyard-Delivery": str(due.id),
            "X-Batchyard-Attempt": str(due.attempt),
            "X-Batchyard-Signature": signature(self.signer.webhook_secret(hook.id, hook.nonce), body),
        }
        answer = self.poster.post(hook.url, body, headers)
        return _Result(answer.status_code, answer.error, hold_back=answer.error is not None)

    def _send_email(self, due: DueDelivery) -> _Result:
        if self.mailer is None or due.recipient is None:
            return _Result(error="this server sends no e-mail (no SMTP server is configured)", final=True)
        message = notice_message(due.event, due.data, sender=self.mailer.sender, recipient=due.recipient)
        answer = self.mailer.send(message)
        return _Result(error=answer.error, hold_back=answer.server_failed)

    def _record(
        self,
        due: DueDelivery,
        attempt: DeliveryAttempt,
        status: DeliveryStatus,
        next_at: datetime | None = None,
        *,
        hold_back: bool = False,
    ) -> None:
        for tried, wait in enumerate(RECORD_WAITS):
            if tried and self._stopping.wait(wait):  # shutting down: the lease will run out, and it is sent again
                return
            try:
                if not self.store.record_delivery(due, attempt, status, next_at, hold_back=hold_back):
                    log.info("delivery %s was taken back before its answer was recorded", due.id)
                return
            except BatchyardError as exc:
                log.warning("recording delivery %s failed: %s", due.id, exc)
