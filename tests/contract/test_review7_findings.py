"""Defects found reviewing webhooks and e-mail (decision 0018): a trickling or dead SMTP server holding senders and
webhooks, hosts without SMTP failing e-mail others could send, rows any user could grow without bound, a ping
race, a refusal telling what internal names resolve to, a slow stop and a restart beside old threads, and an
e-mail sent again after the server took it. Each test shows one, on SQLite and PostgreSQL where storage is."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, insert, select, update
from tests.contract.test_deliveries import Notices, notices_on
from tests.integration.test_api_webhooks import API, app_on
from tests.support.receivers import receiving, smtp_server
from tests.support.scripted_smtp import scripted_smtp

from batchyard import errors
from batchyard.api.channels import build
from batchyard.core.notices import Channel, DeliveryStatus, EventType
from batchyard.core.smtp import SmtpServer
from batchyard.service.mailer import Mailer, notice_message
from batchyard.service.webhooks import WebhookService
from batchyard.store.sql.deliveries import new_delivery
from batchyard.store.sql.rows import as_utc, utcnow
from batchyard.store.sql.tables import deliveries, webhooks

T = TypeVar("T")
NOTICE = {
    "job_id": 1,
    "notification_id": None,
    "status": "succeeded",
    "type": "square",
    "counts": {"succeeded": 1, "failed": 0, "skipped": 0},
}


@pytest.fixture
def notices(database_url: str, tmp_path: Path) -> Iterator[Notices]:
    with notices_on(database_url, tmp_path) as n:
        yield n


def _smtp(port: int) -> dict[str, Any]:
    return {"smtp_url": f"smtp://127.0.0.1:{port}", "smtp_from": "batchyard@example.com"}


def _queue_emails(notices: Notices, recipients: list[str]) -> None:
    """E-mail deliveries due now, as finished jobs of several users would queue them."""
    now = utcnow()
    common = new_delivery(notices.alice.id, EventType.JOB_FINISHED, NOTICE, now, notification_id=None)
    rows = [{**common, "channel": Channel.EMAIL, "target_id": notices.alice.id, "recipient": r} for r in recipients]
    with notices.yard.store.db.write() as conn:
        conn.execute(insert(deliveries), rows)


def _email_rows(notices: Notices) -> list[Any]:
    d = deliveries.c
    query = select(d.recipient, d.status, d.attempts, d.next_attempt_at).where(d.channel == Channel.EMAIL)
    with notices.yard.store.db.read() as conn:
        return list(conn.execute(query.order_by(d.id)).all())


def _within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``'s answer, asserting it came within ``seconds`` (the thread is left to the server's hang-up)."""
    answers: list[T] = []
    thread = threading.Thread(target=lambda: answers.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert answers, f"no answer within {seconds} s"
    return answers[0]


def _message() -> Any:
    return notice_message(EventType.JOB_FINISHED, NOTICE, sender="by@example.com", recipient="ann@example.com")


# --- 1. a trickling SMTP server holds a sender without bound, past the lease, and starves webhooks -------------


def test_an_smtp_server_trickling_its_greeting_is_cut_off_at_the_exchanges_deadline() -> None:
    """Every "220-" line comes within the timeout; only the whole exchange's deadline ends it."""
    with scripted_smtp(trickle=0.05) as server:
        mailer = Mailer(SmtpServer("127.0.0.1", server.port), sender="by@example.com", timeout=0.2)
        started = time.monotonic()
        answer = _within(5.0, lambda: mailer.send(_message()))
        took = time.monotonic() - started
    assert "timed out" in (answer.error or "")
    assert took < mailer.longest_attempt + 0.5


def test_the_claim_lease_outlasts_the_longest_attempt_of_either_channel(tmp_path: Path) -> None:
    with smtp_server() as (_, port):
        slow = {**_smtp(port), "delivery_timeout": 20.0}
        with notices_on(f"sqlite:///{tmp_path}/b.db", tmp_path, **slow) as notices:
            dispatcher = notices.dispatcher
            assert dispatcher.mailer is not None
            longest = max(dispatcher.poster.longest_attempt, dispatcher.mailer.longest_attempt)
    assert dispatcher.lease >= longest + 30, "an attempt still going when its lease ends is sent twice"


def test_a_hung_smtp_server_never_holds_up_a_webhook(database_url: str, tmp_path: Path) -> None:
    with scripted_smtp(greet=False) as server, receiving() as receiver:
        hung = {**_smtp(server.port), "delivery_timeout": 1.0, "delivery_concurrency": 1}
        with notices_on(database_url, tmp_path, **hung) as notices:
            _queue_emails(notices, [f"u{n}@example.com" for n in range(3)])
            hook = notices.channels.webhooks.create(notices.alice, receiver.url).webhook
            notices.dispatcher.start()
            try:
                time.sleep(0.2)  # a sender waits on the SMTP server by now
                notices.channels.webhooks.ping(notices.alice, hook.id)
                started = time.monotonic()
                receiver.wait_for(1, timeout=10)
                waited = time.monotonic() - started
            finally:
                notices.dispatcher.stop()
    assert waited < 0.8, f"the ping waited {waited:.1f} s behind e-mails"


# --- 2. a dead SMTP server costs a timeout per queued e-mail -----------------------------------------------------


def test_a_dead_smtp_server_holds_back_every_queued_email_until_its_next_retry(
    database_url: str, tmp_path: Path
) -> None:
    dead = {"delivery_timeout": 0.3, "delivery_backoff_seconds": 30.0, "delivery_backoff_cap": 60.0}
    with (
        scripted_smtp(greet=False) as server,
        notices_on(database_url, tmp_path, **_smtp(server.port), **dead) as notices,
    ):
        _queue_emails(notices, [f"u{n}@example.com" for n in range(4)])
        assert notices.dispatcher.deliver_one()
        assert not notices.dispatcher.deliver_one(), "the other e-mails wait for the server's next retry"
        rows = _email_rows(notices)
    assert [r.attempts for r in rows] == [1, 0, 0, 0], "attempts of those held back are not counted"
    assert len({as_utc(r.next_attempt_at) for r in rows}) == 1
    assert server.connections == 1


def test_a_refused_recipient_holds_back_no_other_email(database_url: str, tmp_path: Path) -> None:
    later = {"delivery_backoff_seconds": 30.0, "delivery_backoff_cap": 60.0}
    with (
        scripted_smtp(refuse_rcpt="bounce") as server,
        notices_on(database_url, tmp_path, **_smtp(server.port), **later) as notices,
    ):
        _queue_emails(notices, ["bounce@example.com", "ann@example.com", "bo@example.com"])
        while notices.dispatcher.deliver_one():
            pass
        rows = _email_rows(notices)
    assert [(r.status, r.attempts) for r in rows] == [("pending", 1), ("delivered", 1), ("delivered", 1)]
    assert len(server.messages) == 2


# --- 3. a host without SMTP fails for good the e-mail a host with SMTP would send ------------------------------


def test_a_host_without_smtp_leaves_the_email_to_a_host_that_has_it(database_url: str, tmp_path: Path) -> None:
    with smtp_server() as (mailbox, port), notices_on(database_url, tmp_path, **_smtp(port)) as notices:
        notices.yard.store.set_email(notices.alice.id, "alice@example.com")
        notices.finish_job()
        plain = notices.yard.settings.model_copy(update={"smtp_url": None, "smtp_from": None})
        other_host = build(notices.yard.store, plain, deliver=True).dispatcher
        assert other_host is not None
        assert not other_host.deliver_one(), "it cannot send e-mail, so it claims none"
        assert [(r.status, r.attempts) for r in _email_rows(notices)] == [("pending", 0)]
        assert notices.dispatcher.deliver_one()
        [row] = _email_rows(notices)
    assert (row.status, row.attempts, len(mailbox.received)) == ("delivered", 1, 1)


# --- 4. any user grows the tables without bound -----------------------------------------------------------------


def test_a_webhook_is_pinged_at_most_once_a_minute(database_url: str, tmp_path: Path) -> None:
    with app_on(database_url, tmp_path) as svc, receiving() as receiver:
        hook = svc.client.post(f"{API}/me/webhooks", json={"url": receiver.url}, headers=svc.headers("vera")).json()
        ping = f"{API}/me/webhooks/{hook['id']}/ping"
        first, again = (svc.client.post(ping, headers=svc.headers("vera")) for _ in "ab")
        assert (first.status_code, again.status_code) == (202, 202)
        assert first.json()["id"] == again.json()["id"], "the pending one, not a second"
        dispatcher = build(svc.yard.store, svc.yard.settings, deliver=True).dispatcher
        assert dispatcher is not None
        assert dispatcher.deliver_one()
        refused = svc.client.post(ping, headers=svc.headers("vera", **{"Accept-Language": "zh-CN"}))
        schema = svc.client.get("/openapi.json").json()["paths"]
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "ping_too_soon"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "秒后重试" in refused.json()["error"]["message"]
    assert len(receiver.hits) == 1
    assert "429" in schema[f"{API}/me/webhooks/{{webhook_id}}/ping"]["post"]["responses"]
    assert "429" in schema[f"{API}/me/webhooks"]["post"]["responses"]


def test_webhook_creations_are_capped_per_day_deleted_ones_counted(notices: Notices) -> None:
    service = WebhookService(notices.yard.store, notices.channels.webhooks.signer, allow_private=True, per_day=3)
    for _ in range(3):
        service.delete(notices.alice, service.create(notices.alice, "http://127.0.0.1:9/x").webhook.id)
    with pytest.raises(errors.TooManyNewWebhooks) as refused:
        service.create(notices.alice, "http://127.0.0.1:9/x")
    assert 86_000 < refused.value.details["retry_after"] <= 86_400
    assert "24" in refused.value.message("zh-CN")


def test_tidy_deletes_webhooks_deleted_long_ago_once_their_deliveries_are_gone(notices: Notices) -> None:
    store, now = notices.yard.store, utcnow()
    live, gone, with_recent_log, recently_deleted = (
        notices.channels.webhooks.create(notices.alice, f"http://127.0.0.1:9/{n}").webhook.id for n in range(4)
    )
    long_ago, yesterday = now - timedelta(days=31), now - timedelta(days=1)
    common = new_delivery(notices.alice.id, EventType.PING, {}, now, notification_id=None)
    with store.db.write() as conn:
        for hook_id, deleted_at in ((gone, long_ago), (with_recent_log, long_ago), (recently_deleted, yesterday)):
            conn.execute(update(webhooks).where(webhooks.c.id == hook_id).values(deleted_at=deleted_at))
        for hook_id, created in ((gone, long_ago), (with_recent_log, long_ago), (with_recent_log, yesterday)):
            ended = {"status": DeliveryStatus.FAILED, "created_at": created}
            conn.execute(
                insert(deliveries).values({**common, "channel": Channel.WEBHOOK, "target_id": hook_id, **ended})
            )
    store.tidy()
    with store.db.read() as conn:
        kept = conn.execute(select(webhooks.c.id).order_by(webhooks.c.id)).scalars().all()
        logs = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
    assert kept == [live, with_recent_log, recently_deleted]
    assert logs == 1


# --- 5. two pings at once both find none pending ----------------------------------------------------------------


def test_concurrent_pings_queue_one_pending_ping(database_url: str, tmp_path: Path) -> None:
    with notices_on(database_url, tmp_path) as notices:
        hooks = notices.channels.webhooks
        pending = []
        for round_ in range(10):
            hook = hooks.create(notices.alice, f"http://127.0.0.1:9/{round_}").webhook
            barrier = threading.Barrier(8)

            def ping(hook_id: int = hook.id, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                hooks.ping(notices.alice, hook_id)

            threads = [threading.Thread(target=ping) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            pending.append(len([d for d in notices.log(hook.id) if d.status == DeliveryStatus.PENDING]))
            hooks.delete(notices.alice, hook.id)
    assert set(pending) == {1}, pending


# --- 6. the 422 tells what an internal name resolves to ---------------------------------------------------------


def test_a_refused_url_does_not_tell_what_its_host_resolves_to(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with app_on(database_url, tmp_path, webhook_allow_private=False) as svc, caplog.at_level(logging.INFO):
        answers = {
            (url, language): svc.client.post(
                f"{API}/me/webhooks", json={"url": url}, headers=svc.headers("vera", **{"Accept-Language": language})
            )
            for url in ("http://localhost/x", "http://nothing-here.invalid/x")
            for language in ("en", "zh-CN")
        }
    messages = {key: answer.json()["error"]["message"] for key, answer in answers.items()}
    assert {answer.status_code for answer in answers.values()} == {422}
    assert not [m for m in messages.values() if "127.0.0.1" in m or "::1" in m], messages
    private, unknown = (messages[url, "en"] for url in ("http://localhost/x", "http://nothing-here.invalid/x"))
    assert private == unknown.replace("nothing-here.invalid", "localhost"), "one answer for both: no oracle"
    assert "回环、私有或链路本地地址" in messages["http://localhost/x", "zh-CN"]
    assert any("localhost" in r.getMessage() and "127.0.0.1" in r.getMessage() for r in caplog.records), (
        "the server's log keeps the address"
    )


# --- 8. stop waits its timeout once per thread; a restart after a stop that timed out -------------------------


def test_stop_waits_its_timeout_once_not_once_per_thread(tmp_path: Path) -> None:
    busy = {"delivery_concurrency": 4, "delivery_timeout": 5.0}
    with receiving(delay=2.5) as receiver, notices_on(f"sqlite:///{tmp_path}/b.db", tmp_path, **busy) as notices:
        for n in range(4):
            notices.channels.webhooks.create(notices.alice, f"{receiver.url}/{n}")
        notices.finish_job(items=1)
        notices.dispatcher.start()
        receiver.wait_for(4)  # every sender is inside an attempt
        started = time.monotonic()
        notices.dispatcher.stop(timeout=0.4)
        took = time.monotonic() - started
        notices.dispatcher.stop(timeout=10)  # let them record before the database closes
    assert took < 1.0, f"stop(timeout=0.4) took {took:.1f} s"


def test_a_restart_after_a_stop_that_timed_out_never_runs_old_threads_beside_new_ones(tmp_path: Path) -> None:
    """The old thread ends its attempt and stops: ``start`` must not have cleared the flag it stops by. (The
    attempt outlasts the 5 s that ``start`` used to wait for the old threads.)"""
    slow = {"delivery_concurrency": 1, "delivery_timeout": 10.0}
    with receiving(delay=5.5) as receiver, notices_on(f"sqlite:///{tmp_path}/b.db", tmp_path, **slow) as notices:
        hook = notices.channels.webhooks.create(notices.alice, receiver.url).webhook
        notices.finish_job(items=1)
        notices.dispatcher.start()
        receiver.wait_for(1)
        notices.dispatcher.stop(timeout=0.1)
        notices.dispatcher.start()
        deadline = time.monotonic() + 10
        while notices.log(hook.id)[0].status != DeliveryStatus.DELIVERED:
            assert time.monotonic() < deadline, "the old attempt never ended"
            time.sleep(0.05)
        time.sleep(0.3)  # a few polls: a thread that was going to stop has
        senders = [t for t in threading.enumerate() if t.name.startswith("batchyard-deliveries")]
        notices.dispatcher.stop()
    assert len(senders) == 1, [t.name for t in senders]


# --- a failure after the server took the message ----------------------------------------------------------------


@pytest.mark.parametrize("quit_reply", [b"421 closing now", None], ids=["not-221", "never"])
def test_a_failure_after_the_server_took_the_message_does_not_send_it_again(
    database_url: str, tmp_path: Path, quit_reply: bytes | None
) -> None:
    with scripted_smtp(quit_reply=quit_reply) as server:
        quick = {**_smtp(server.port), "delivery_timeout": 0.3}
        with notices_on(database_url, tmp_path, **quick) as notices:
            _queue_emails(notices, ["ann@example.com"])
            assert notices.dispatcher.deliver_one()
            time.sleep(0.2)  # past a retry's backoff
            while notices.dispatcher.deliver_one():
                pass
            [row] = _email_rows(notices)
    assert (row.status, row.attempts, len(server.messages)) == ("delivered", 1, 1)
