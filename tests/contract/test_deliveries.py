"""Webhook and e-mail deliveries, on SQLite and PostgreSQL, to real receivers: a finished job's notice is queued
with its inbox entry and posted signed; refusals are retried with backoff and logged; the last failure fails it;
two dispatchers never send one delivery twice; a dispatcher that dies mid-attempt costs a resend, not a loss."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from tests.support.receivers import receiving, smtp_server, verify

from batchyard import Context, Yard
from batchyard.api.channels import Channels, build
from batchyard.core.model import Job
from batchyard.core.notices import Channel, Delivery, DeliveryAttempt, DeliveryStatus
from batchyard.core.users import Role, User
from batchyard.service.auth import AuthService
from batchyard.service.deliveries import CHANNELS, Dispatcher
from batchyard.store.sql.rows import utcnow
from batchyard.store.sql.tables import deliveries, users

FAST = {
    "webhook_allow_private": True,
    "delivery_backoff_seconds": 0.05,
    "delivery_backoff_cap": 0.1,
    "delivery_poll_seconds": 0.05,
    "delivery_max_attempts": 3,
    "delivery_timeout": 2.0,
}


def _square(item: int, ctx: Context) -> int:
    return item * item


@dataclass
class Notices:
    yard: Yard
    channels: Channels
    alice: User

    @property
    def dispatcher(self) -> Dispatcher:
        assert self.channels.dispatcher is not None
        return self.channels.dispatcher

    def finish_job(self, items: int = 3) -> Job:
        job = self.yard.submit("square", items=range(items), owner="alice")
        return self.yard.run_until_done(job.id, timeout=30)

    def log(self, webhook_id: int) -> list[Delivery]:
        found = self.yard.store.webhook_deliveries(self.alice.id, webhook_id)
        assert found is not None
        return found

    def deliver_until(self, done: Callable[[], bool], timeout: float = 30.0) -> None:
        """Run the dispatcher's steps in this thread until ``done()`` (retries wait for their backoff)."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "timed out delivering"
            if not self.dispatcher.deliver_one():
                time.sleep(0.02)


@contextmanager
def notices_on(database_url: str, data_dir: Path, **overrides: Any) -> Iterator[Notices]:
    yard = Yard(database_url, data_dir=data_dir, lease_seconds=2.0, **{**FAST, **overrides})
    yard.job("square", chunk_size=10)(_square)
    try:
        alice, _ = AuthService(yard.store).create_user("alice", role=Role.OPERATOR, quota=0)
        yield Notices(yard, build(yard.store, yard.settings, deliver=True), alice)
    finally:
        yard.close()


@pytest.fixture
def notices(database_url: str, tmp_path: Path) -> Iterator[Notices]:
    with notices_on(database_url, tmp_path) as n:
        yield n


def test_a_finished_job_is_posted_to_the_webhook_signed_with_the_secret_shown_at_creation(notices: Notices) -> None:
    with receiving() as receiver:
        issued = notices.channels.webhooks.create(notices.alice, receiver.url, "ci")
        job = notices.finish_job(items=3)

        assert notices.dispatcher.deliver_one()
        [hit] = receiver.hits

    assert verify(issued.secret, hit.body, hit.headers["x-batchyard-signature"])
    assert not verify(issued.secret, hit.body + b" ", hit.headers["x-batchyard-signature"])
    body = json.loads(hit.body)
    assert body["type"] == "job.finished"
    assert body["data"] == {
        "job_id": job.id,
        "notification_id": notices.yard.store.notifications(notices.alice.id)[0].id,
        "status": "succeeded",
        "type": "square",
        "counts": {"succeeded": 3, "failed": 0, "skipped": 0},
    }
    assert hit.headers["content-type"] == "application/json"
    assert hit.headers["x-batchyard-delivery"] == str(body["id"])
    assert hit.headers["x-batchyard-event"] == "job.finished"
    assert hit.headers["user-agent"].startswith("batchyard/")
    [delivered] = notices.log(issued.webhook.id)
    assert (delivered.id, delivered.status, delivered.attempts) == (body["id"], DeliveryStatus.DELIVERED, 1)
    assert [(a.status_code, a.error) for a in delivered.log] == [(200, None)]
    assert delivered.delivered_at is not None
    assert not notices.dispatcher.deliver_one(), "nothing is left to send"


def test_the_notice_is_queued_with_the_inbox_entry_once_per_round_and_webhook(notices: Notices) -> None:
    service = notices.channels.webhooks
    hooks = [service.create(notices.alice, f"http://127.0.0.1:9/{n}").webhook for n in range(2)]
    store = notices.yard.store
    job = notices.finish_job()
    assert store.finish_if_done(job.id) is None, "finishing again does nothing"

    [notice] = store.notifications(notices.alice.id)
    queued = [d for hook in hooks for d in notices.log(hook.id)]
    assert [(d.notification_id, d.status, d.attempts) for d in queued] == [(notice.id, "pending", 0)] * 2
    with store.db.read() as conn:
        total = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
    assert total == 2, "no e-mail delivery: alice has no address"


def test_a_receiver_that_fails_twice_gets_one_successful_delivery_and_the_log_shows_three_attempts(
    notices: Notices,
) -> None:
    with receiving(answers=[500, 500, 200]) as receiver:
        issued = notices.channels.webhooks.create(notices.alice, receiver.url)
        notices.finish_job()
        notices.deliver_until(lambda: notices.log(issued.webhook.id)[0].status != DeliveryStatus.PENDING)

    [delivery] = notices.log(issued.webhook.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert [a.status_code for a in delivery.log] == [500, 500, 200]
    assert [a.error for a in delivery.log] == ["HTTP 500: xx", "HTTP 500: xx", None]
    assert [a.at for a in delivery.log] == sorted(a.at for a in delivery.log)
    assert len(receiver.hits) == 3
    assert len({h.body for h in receiver.hits}) == 1, "every attempt sends the same bytes"
    assert {h.headers["x-batchyard-delivery"] for h in receiver.hits} == {str(delivery.id)}
    assert [h.headers["x-batchyard-attempt"] for h in receiver.hits] == ["1", "2", "3"]


def test_a_receiver_that_never_answers_2xx_ends_failed_after_the_last_attempt(notices: Notices) -> None:
    with receiving(default=503) as receiver:
        issued = notices.channels.webhooks.create(notices.alice, receiver.url)
        notices.finish_job()
        notices.deliver_until(lambda: notices.log(issued.webhook.id)[0].status != DeliveryStatus.PENDING)
        time.sleep(0.3)  # a retry that should not happen would have happened by now
        assert not notices.dispatcher.deliver_one()

    [delivery] = notices.log(issued.webhook.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.FAILED, 3, 503)
    assert len(receiver.hits) == 3
    assert delivery.next_attempt_at is None


def test_a_failing_receiver_costs_one_attempt_per_backoff_step_not_one_per_queued_notice(
    database_url: str, tmp_path: Path
) -> None:
    backoff = {"delivery_backoff_seconds": 1.0, "delivery_backoff_cap": 1.0}  # the retry comes in 0.5-1 s
    with (
        notices_on(database_url, tmp_path, **backoff) as notices,
        receiving(default=503) as dead,
        receiving() as alive,
    ):
        hooks = notices.channels.webhooks
        dead_id = hooks.create(notices.alice, dead.url).webhook.id
        hooks.create(notices.alice, alive.url)
        for _ in range(4):
            notices.finish_job(items=1)
        while notices.dispatcher.deliver_one():
            pass
        assert len(dead.hits) == 1, "the dead receiver's other notices wait for its backoff"
        assert len(alive.hits) == 4, "and nobody else's do"
        time.sleep(1.05)
        while notices.dispatcher.deliver_one():
            pass
        assert len(dead.hits) == 2
        log = notices.log(dead_id)
    assert sorted(d.attempts for d in log) == [0, 0, 0, 2], "the oldest is retried; the others are not counted"


def test_a_redirect_is_not_followed_but_counted_as_a_failure(database_url: str, tmp_path: Path) -> None:
    with notices_on(database_url, tmp_path, delivery_max_attempts=1) as notices, receiving() as target:
        with receiving(default=307, location=target.url) as redirecting:
            issued = notices.channels.webhooks.create(notices.alice, redirecting.url)
            notices.finish_job()
            assert notices.dispatcher.deliver_one()
            assert len(redirecting.hits) == 1
        assert target.hits == []
        [delivery] = notices.log(issued.webhook.id)
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("failed", 307, "HTTP 307: xx")


def test_a_slow_or_trickling_receiver_costs_at_most_the_attempts_deadline(database_url: str, tmp_path: Path) -> None:
    """A receiver that never answers, and one that answers a byte at a time (each read within the timeout)
    for ever: both attempts end after at most three timeouts; a huge refusal is read no further than 1 KiB."""
    with notices_on(database_url, tmp_path, delivery_timeout=0.4, delivery_max_attempts=1) as notices:
        hooks = notices.channels.webhooks
        with (
            receiving(delay=5) as silent,
            receiving(drip=0.1) as dripping,
            receiving(default=500, body_size=5_000_000) as big,
        ):
            ids = [hooks.create(notices.alice, r.url).webhook.id for r in (silent, dripping, big)]
            notices.finish_job()
            notices.deliver_until(lambda: all(notices.log(i)[0].status == DeliveryStatus.FAILED for i in ids))
        slow, drip, huge = (notices.log(i)[0].log[0] for i in ids)
    assert "timed out" in (slow.error or "")
    assert "timed out" in (drip.error or "")
    assert drip.status_code is None
    assert huge.status_code == 500
    assert huge.error is not None
    assert len(huge.error) <= 220
    assert slow.duration_ms < 1_000, "no answer within the timeout"
    assert 1_000 <= drip.duration_ms < 2_000, "answering slowly is cut at three timeouts in all"


def test_two_dispatchers_on_one_database_deliver_each_notice_exactly_once(database_url: str, tmp_path: Path) -> None:
    with (
        notices_on(database_url, tmp_path, delivery_concurrency=3) as first,
        receiving(delay=0.02) as receiver,
    ):
        for n in range(3):
            first.channels.webhooks.create(first.alice, f"{receiver.url}/{n}")
        for _ in range(8):
            first.finish_job(items=1)
        second_yard = Yard(database_url, data_dir=tmp_path, **{**FAST, "delivery_concurrency": 3})
        try:
            second = build(second_yard.store, second_yard.settings, deliver=True).dispatcher
            assert second is not None
            dispatchers = [first.dispatcher, second]
            for dispatcher in dispatchers:
                dispatcher.start()
            hits = receiver.wait_for(24)
            time.sleep(0.5)  # a second send of anything would arrive meanwhile
            for dispatcher in dispatchers:
                dispatcher.stop()
        finally:
            second_yard.close()
        per_delivery = Counter(h.headers["x-batchyard-delivery"] for h in receiver.hits)
    assert len(hits) == 24
    assert len(per_delivery) == 24
    assert set(per_delivery.values()) == {1}, "a delivery was sent twice"


def test_a_dispatcher_that_dies_mid_attempt_costs_a_resend_logged_as_interrupted(notices: Notices) -> None:
    """Sending and recording are not one transaction: the claim's lease runs out, another dispatcher sends it
    again (at least once), and the log shows the attempt that never answered."""
    store = notices.yard.store
    with receiving() as receiver:
        issued = notices.channels.webhooks.create(notices.alice, receiver.url)
        notices.finish_job()
        [lost] = store.claim_deliveries(limit=1, lease_seconds=0.2, max_attempts=3, channels=CHANNELS)
        assert store.claim_deliveries(limit=1, lease_seconds=0.2, max_attempts=3, channels=CHANNELS) == []
        time.sleep(0.3)
        assert notices.dispatcher.deliver_one()
        assert len(receiver.hits) == 1

    [delivery] = notices.log(issued.webhook.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert [(a.status_code, a.error) for a in delivery.log] == [
        (None, "interrupted: the sender stopped before it recorded the answer"),
        (200, None),
    ]
    late = DeliveryAttempt(delivery.created_at, 200, None, 1)
    assert not store.record_delivery(lost, late, DeliveryStatus.DELIVERED), "a claim that ran out records nothing"


def test_an_interrupted_last_attempt_fails_the_delivery_without_sending_it_again(
    database_url: str, tmp_path: Path
) -> None:
    with notices_on(database_url, tmp_path, delivery_max_attempts=1) as notices, receiving() as receiver:
        issued = notices.channels.webhooks.create(notices.alice, receiver.url)
        notices.finish_job()
        notices.yard.store.claim_deliveries(limit=1, lease_seconds=0.1, max_attempts=1, channels=CHANNELS)
        time.sleep(0.2)
        assert not notices.dispatcher.deliver_one()
        assert receiver.hits == []
        [delivery] = notices.log(issued.webhook.id)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        DeliveryStatus.FAILED,
        1,
        "interrupted: the sender stopped before it recorded the answer",
    )


def test_deleting_a_webhook_fails_its_pending_deliveries_and_nothing_is_sent(notices: Notices) -> None:
    store = notices.yard.store
    with receiving() as receiver:
        issued = notices.channels.webhooks.create(notices.alice, receiver.url)
        notices.finish_job()
        notices.finish_job()
        [in_flight] = store.claim_deliveries(limit=1, lease_seconds=30, max_attempts=3, channels=CHANNELS)
        notices.channels.webhooks.delete(notices.alice, issued.webhook.id)
        assert not notices.dispatcher.deliver_one()
        assert receiver.hits == []
    with store.db.read() as conn:
        rows = conn.execute(select(deliveries.c.status, deliveries.c.last_error)).all()
    assert [tuple(r) for r in rows] == [("failed", "the webhook was deleted")] * 2
    answer = DeliveryAttempt(in_flight.created_at, 200, None, 1)
    assert not store.record_delivery(in_flight, answer, DeliveryStatus.DELIVERED)


def test_a_deleted_user_takes_their_webhooks_and_deliveries_with_them(notices: Notices) -> None:
    store = notices.yard.store
    with receiving() as receiver:
        notices.channels.webhooks.create(notices.alice, receiver.url)
        notices.finish_job()
        notices.finish_job()
        [in_flight] = store.claim_deliveries(limit=1, lease_seconds=30, max_attempts=3, channels=CHANNELS)
        with store.db.write() as conn:
            conn.execute(delete(users).where(users.c.id == notices.alice.id))
        assert not notices.dispatcher.deliver_one()
        assert receiver.hits == []
    answer = DeliveryAttempt(in_flight.created_at, 200, None, 1)
    assert not store.record_delivery(in_flight, answer, DeliveryStatus.DELIVERED)
    with store.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0


def test_the_address_is_checked_again_when_sending(database_url: str, tmp_path: Path) -> None:
    """A webhook made while private addresses were allowed (or a name that resolves elsewhere now) is not
    called at a private address by a dispatcher that does not allow them."""
    with notices_on(database_url, tmp_path) as notices, receiving() as receiver:
        issued = notices.channels.webhooks.create(notices.alice, receiver.url)
        notices.finish_job()
        strict = build(
            notices.yard.store, notices.yard.settings.model_copy(update={"webhook_allow_private": False}), deliver=True
        )
        assert strict.dispatcher is not None
        assert strict.dispatcher.deliver_one()
        assert receiver.hits == []
        [delivery] = notices.log(issued.webhook.id)
    assert delivery.log[0].error == (
        "The webhook URL is refused: '127.0.0.1' does not resolve, or resolves to a loopback, private or "
        "link-local address"
    )
    assert delivery.status == DeliveryStatus.PENDING, "retried: the address may change back"


def test_a_server_with_another_secret_key_does_not_sign_with_it(database_url: str, tmp_path: Path) -> None:
    with notices_on(database_url, tmp_path) as notices, receiving() as receiver:
        notices.channels.webhooks.create(notices.alice, receiver.url)
        notices.finish_job()
        other = notices.yard.settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
        stranger = build(notices.yard.store, other, deliver=True).dispatcher
        assert stranger is not None
        assert stranger.deliver_one()
        assert receiver.hits == []
        time.sleep(0.2)  # its backoff
        assert notices.dispatcher.deliver_one()
        assert len(receiver.hits) == 1


def test_a_finished_job_is_emailed_to_its_owner_through_smtp(database_url: str, tmp_path: Path) -> None:
    with smtp_server() as (mailbox, port):
        smtp = {"smtp_url": f"smtp://127.0.0.1:{port}", "smtp_from": "batchyard@example.com"}
        with notices_on(database_url, tmp_path, **smtp) as notices:
            notices.yard.store.set_email(notices.alice.id, "alice@example.com")
            job = notices.finish_job(items=4)
            notices.deliver_until(lambda: bool(mailbox.received))
            with notices.yard.store.db.read() as conn:
                status = conn.execute(select(deliveries.c.status).where(deliveries.c.channel == Channel.EMAIL))
                assert status.scalar_one() == "delivered"
    [(recipients, message)] = mailbox.received
    assert recipients == ["alice@example.com"]
    assert message["To"] == "alice@example.com"
    assert message["From"] == "batchyard@example.com"
    assert message["Subject"] == f"[batchyard] 任务 {job.id} 已结束：succeeded / Job {job.id} ended: succeeded"
    text = message.get_content()
    assert f"Job {job.id} (square) ended succeeded: 4 succeeded, 0 failed, 0 skipped." in text
    assert f"任务 {job.id}（square）已结束" in text


def test_an_unreachable_smtp_server_fails_the_email_after_its_attempts(database_url: str, tmp_path: Path) -> None:
    closed = {"smtp_url": "smtp://127.0.0.1:9", "smtp_from": "batchyard@example.com", "delivery_max_attempts": 2}
    with notices_on(database_url, tmp_path, **closed) as notices:
        notices.yard.store.set_email(notices.alice.id, "alice@example.com")
        notices.finish_job()
        store = notices.yard.store
        query = select(deliveries.c.status, deliveries.c.attempts, deliveries.c.last_error)

        def ended() -> bool:
            with store.db.read() as conn:
                return conn.execute(select(deliveries.c.status)).scalar_one() != "pending"

        notices.deliver_until(ended)
        with store.db.read() as conn:
            status, attempts, error = conn.execute(query).one()
    assert (status, attempts) == ("failed", 2)
    assert "ConnectionRefusedError" in error


def test_without_smtp_an_address_left_from_before_gets_its_notice_failed_not_kept(notices: Notices) -> None:
    """Failed once it is a day overdue: until then a process that has SMTP may send it."""
    store = notices.yard.store
    store.set_email(notices.alice.id, "alice@example.com")
    notices.finish_job()
    assert not notices.dispatcher.deliver_one()
    with store.db.write() as conn:
        conn.execute(update(deliveries).values(next_attempt_at=utcnow() - timedelta(days=1, minutes=1)))
    assert notices.dispatcher.deliver_one()
    with store.db.read() as conn:
        status, error = conn.execute(select(deliveries.c.status, deliveries.c.last_error)).one()
    assert (status, error) == ("failed", "this server sends no e-mail (no SMTP server is configured)")


def test_dispatcher_threads_stop_and_start_again(notices: Notices) -> None:
    with receiving() as receiver:
        notices.channels.webhooks.create(notices.alice, receiver.url)
        notices.dispatcher.start()
        notices.dispatcher.start()  # a second lifespan of the same app
        notices.finish_job()
        receiver.wait_for(1)
        notices.dispatcher.stop()
        assert not [t for t in threading.enumerate() if t.name.startswith("batchyard-deliveries")]
