"""The pure rules of webhooks and e-mail: URLs, addresses, the SMTP URL, secrets and keys, the retry schedule."""

from __future__ import annotations

import ipaddress
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batchyard.core.smtp import SmtpServer, parse_smtp_url
from batchyard.core.webhook_urls import check_webhook_url, is_public
from batchyard.errors import ConfigurationError, WebhookUrlRefused
from batchyard.service.deliveries import RetryPolicy
from batchyard.service.signing import Signer, load_secret_key, signature
from batchyard.settings import load_settings


def test_a_webhook_url_names_its_host_and_port() -> None:
    assert check_webhook_url("https://hooks.example.com/x?y=1") == ("hooks.example.com", 443)
    assert check_webhook_url("http://93.184.215.14:8080/") == ("93.184.215.14", 8080)
    assert check_webhook_url("http://[2606:2800::1]/") == ("2606:2800::1", 80)


@pytest.mark.parametrize(
    "url",
    ["gopher://x.example/", "https://u@x.example/", "https://x.example:0x50/", "http://x.example/\x00", "https://"],
)
def test_a_url_that_cannot_be_a_webhook_is_refused_with_a_reason_in_both_languages(url: str) -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        check_webhook_url(url)
    assert refused.value.message("en").startswith("The webhook URL is refused: ")
    assert refused.value.message("zh-CN").startswith("Webhook 地址不被接受：")
    assert "{" not in refused.value.message("zh-CN")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.215.14", True),
        ("::7f00:1", False),
        ("64:ff9b::7f00:1", False),
        ("2002:7f00:1::1", False),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),
    ],
)
def test_only_public_addresses_count_as_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_smtp_url_names_the_server_and_how_to_talk_to_it() -> None:
    assert parse_smtp_url("smtp://mail.example.com") == SmtpServer("mail.example.com", 25)
    assert parse_smtp_url("smtps://u%40x:p%3Ass@mail.example.com") == SmtpServer(
        "mail.example.com", 465, tls=True, username="u@x", password="p:ss"
    )
    assert parse_smtp_url("smtp://mail.example.com:587?starttls=true").starttls
    for bad in ("http://mail.example.com", "smtp://", "smtp://h?tls=1", "smtp://h?starttls=maybe", "smtp://h:x"):
        with pytest.raises(ValueError, match=r"SMTP URL|starttls"):
            parse_smtp_url(bad)


def test_a_bad_smtp_setting_is_a_configuration_error_that_never_quotes_the_password() -> None:
    with pytest.raises(ConfigurationError) as bad:
        load_settings(smtp_url="smtpx://user:hunter2hunter2@mail.example.com", smtp_from="a@example.com")
    assert "hunter2" not in str(bad.value)
    assert "smtp_url" in str(bad.value)
    with pytest.raises(ConfigurationError, match="smtp_from must be set"):
        load_settings(smtp_url="smtp://user:hunter2hunter2@mail.example.com")
    with pytest.raises(ConfigurationError, match="smtp_from"):
        load_settings(smtp_url="smtp://mail.example.com", smtp_from="a@example.com\r\nBcc: b@example.com")
    ok = load_settings(smtp_url="smtp://user:hunter2hunter2@mail.example.com", smtp_from="a@example.com")
    assert "hunter2" not in repr(ok)


def test_a_secret_is_derived_from_the_key_the_webhook_and_its_nonce(tmp_path: Path) -> None:
    signer = Signer(b"k" * 32)
    secret = signer.webhook_secret(1, "n")
    assert secret.startswith("whsec_")
    assert secret == Signer(b"k" * 32).webhook_secret(1, "n")
    assert secret not in {signer.webhook_secret(2, "n"), signer.webhook_secret(1, "m")}
    assert secret != Signer(b"j" * 32).webhook_secret(1, "n")
    assert signer.key_id != Signer(b"j" * 32).key_id
    assert signature(secret, b"{}").startswith("sha256=")


def test_the_key_file_is_made_once_readable_by_its_owner_only_and_agreed_on_by_racing_processes(
    tmp_path: Path,
) -> None:
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(load_secret_key(None, tmp_path / "d"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert len(keys[0]) >= 32
    path = tmp_path / "d" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"], "no temporary file is left behind"
    assert load_secret_key(None, tmp_path / "d") == keys[0]
    assert load_secret_key("x" * 40, tmp_path / "d") == b"x" * 40
    with pytest.raises(ConfigurationError, match="at least 32"):
        load_secret_key("short", tmp_path / "d")


def test_the_default_retries_span_hours_and_then_stop() -> None:
    policy = RetryPolicy()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    delays = []
    for attempt in range(1, policy.max_attempts):
        at = policy.next_attempt_at(attempt, now)
        assert at is not None
        delays.append(at - now)
    assert policy.next_attempt_at(policy.max_attempts, now) is None
    assert timedelta(hours=1) <= sum(delays, timedelta()) <= timedelta(hours=2, minutes=5)
    assert all(d <= timedelta(hours=1) for d in delays)
