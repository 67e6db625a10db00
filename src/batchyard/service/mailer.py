"""E-mailing a notice through the configured SMTP server, in Chinese and English both: users have no language
preference, and a notice read in the wrong one is worse than one that carries both. The whole exchange ends by
a deadline, however slowly the server trickles its replies."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from batchyard.core.notices import EventType
from batchyard.core.smtp import SmtpServer

_SUBJECT = "[batchyard] 任务 {job_id} 已结束：{status} / Job {job_id} ended: {status}"
_BODY = {
    "zh-CN": "任务 {job_id}（{type}）已结束，状态 {status}：成功 {succeeded}，失败 {failed}，跳过 {skipped}。",
    "en": "Job {job_id} ({type}) ended {status}: {succeeded} succeeded, {failed} failed, {skipped} skipped.",
}
_FOOTER = "—\n此邮件由 batchyard 自动发送。/ Sent automatically by batchyard."
EXCHANGE_WAITS = 6  # the longest exchange, in timeouts: a slow greeting and a slow answer to the message
# Refusals of this message, not failures of the server: the other e-mails queued need not wait for a retry.
_MESSAGE_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)


def notice_message(event: EventType, data: dict[str, Any], *, sender: str, recipient: str) -> EmailMessage:
    """The e-mail for a job's finish notice (``data`` as queued: job_id, status, type, counts)."""
    if event != EventType.JOB_FINISHED:
        raise ValueError(f"no e-mail is written for {event}")
    fields = {"job_id": data["job_id"], "status": data["status"], "type": data["type"], **data["counts"]}
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = _SUBJECT.format(**fields)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="batchyard")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    message.set_content("\n\n".join([*(body.format(**fields) for body in _BODY.values()), _FOOTER]))
    return message


@dataclass(frozen=True, slots=True)
class MailAnswer:
    error: str | None = None  # None: the server took the message
    server_failed: bool = False  # the server (down, slow, misconfigured), not this message: all would fail now


class Mailer:
    """Sends through one SMTP server; ``timeout`` bounds each wait on it (connecting, every command), and
    ``longest_attempt`` the whole exchange."""

    def __init__(self, server: SmtpServer, *, sender: str, timeout: float) -> None:
        self.server = server
        self.sender = sender
        self.timeout = timeout

    @property
    def longest_attempt(self) -> float:
        return EXCHANGE_WAITS * self.timeout

    def send(self, message: EmailMessage) -> MailAnswer:
        """Once the server has taken the message, nothing that goes wrong afterwards (a QUIT answered with
        something else than 221, or not at all) counts as a failure: that would send the message again."""
        with _Watchdog(self.longest_attempt) as watchdog:
            try:
                smtp = self._hand_over(message, watchdog)
            except (smtplib.SMTPException, OSError) as exc:
                return _failure(exc, watchdog)
            with contextlib.closing(smtp), contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
        return MailAnswer()

    def _hand_over(self, message: EmailMessage, watchdog: _Watchdog) -> smtplib.SMTP:
        """A connection on which the server has taken the message (closed when it has not)."""
        smtp = self._connect(watchdog)
        try:
            if self.server.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.server.username:
                smtp.login(self.server.username, self.server.password or "")
            smtp.send_message(message)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _connect(self, watchdog: _Watchdog) -> smtplib.SMTP:
        host, port = self.server.host, self.server.port
        if self.server.tls:
            context = ssl.create_default_context()
            return _Tls(host, port, timeout=self.timeout, watchdog=watchdog, context=context)
        return _Plain(host, port, timeout=self.timeout, watchdog=watchdog)


def _failure(exc: smtplib.SMTPException | OSError, watchdog: _Watchdog) -> MailAnswer:
    if watchdog.expired:
        return MailAnswer(f"timed out: the SMTP exchange took over {watchdog.seconds:g} s", server_failed=True)
    if isinstance(exc, smtplib.SMTPException):
        return MailAnswer(f"SMTP: {type(exc).__name__}: {exc}", server_failed=not isinstance(exc, _MESSAGE_REFUSED))
    return MailAnswer(f"{type(exc).__name__}: {exc or 'connection failed'}", server_failed=True)  # refused, TLS…


class _Watchdog:
    """Shuts the connection down at the exchange's deadline. smtplib bounds each read, not the exchange: a
    server sending endless ``250-`` lines, each in time, would hold the sender for ever (and past its lease,
    when another dispatcher sends the e-mail again). Shutting down a duplicate of the socket ends the reads of
    the connection, TLS or not, in whichever thread they wait."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._deadline = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def bounded(self, timeout: float) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the SMTP exchange ran out of time")
        return min(timeout, left)

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            if self.expired:
                sock.close()
                raise TimeoutError("the SMTP exchange ran out of time")
            self._sockets.append(sock.dup())
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class _Watched(smtplib.SMTP):
    """A client whose connection the watchdog can end (set ``watchdog`` before connecting)."""

    watchdog: _Watchdog

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # smtplib's hook for making the connection; SMTP_SSL wraps in TLS what it returns
        connection = socket.create_connection((host, port), self.watchdog.bounded(timeout), self.source_address)
        return self.watchdog.watch(connection)


class _Plain(_Watched):
    def __init__(self, host: str, port: int, *, timeout: float, watchdog: _Watchdog) -> None:
        self.watchdog = watchdog
        super().__init__(host, port, timeout=timeout)  # connects, and reads the greeting


class _Tls(smtplib.SMTP_SSL, _Watched):
    """TLS from the first byte (smtps), on a connection the watchdog watches."""

    def __init__(self, host: str, port: int, *, timeout: float, watchdog: _Watchdog, context: ssl.SSLContext) -> None:
        self.watchdog = watchdog
        super().__init__(host, port, timeout=timeout, context=context)
