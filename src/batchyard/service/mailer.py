"""E-mailing a notice through the configured SMTP server, in Chinese and English both: users have no language
preference, and a notice read in the wrong one is worse than one that carries both."""

from __future__ import annotations

import smtplib
import ssl
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


class Mailer:
    """Sends through one SMTP server; ``timeout`` bounds each wait on it (connecting, every command)."""

    def __init__(self, server: SmtpServer, *, sender: str, timeout: float) -> None:
        self.server = server
        self.sender = sender
        self.timeout = timeout

    def send(self, message: EmailMessage) -> str | None:
        """None when the server took the message, else what went wrong."""
        try:
            with self._connect() as smtp:
                if self.server.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.server.username:
                    smtp.login(self.server.username, self.server.password or "")
                smtp.send_message(message)
        except smtplib.SMTPException as exc:
            return f"SMTP: {type(exc).__name__}: {exc}"
        except OSError as exc:  # refused, unreachable, timed out, TLS failed
            return f"{type(exc).__name__}: {exc or 'connection failed'}"
        return None

    def _connect(self) -> smtplib.SMTP:
        host, port = self.server.host, self.server.port
        if self.server.tls:
            return smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=ssl.create_default_context())
        return smtplib.SMTP(host, port, timeout=self.timeout)
