"""The SMTP edge: turn approved replies into mail and send each one at most once.

A reply is marked ``sending`` and committed before the SMTP conversation starts, and
``sent`` after it ends. What happens on failure depends on how far the conversation got:

- refused or unreachable before the message data was handed over: nothing was delivered, so
  a temporary failure (4xx, connection refused, timeout) leaves it ``approved`` for the next
  cycle and a permanent one (5xx) marks it ``failed`` with the server's answer;
- cut off while the data was being sent, or the process died mid-send (found ``sending`` at
  the next cycle): it may have been delivered, so it becomes ``uncertain`` and waits for a
  person (``claimsbot resolve``), because sending it again could deliver it twice.

One failing reply never holds up the others.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from sqlalchemy import Engine, update
from sqlmodel import select

from bot.config import SmtpSettings
from bot.store import session_scope
from bot.tables import Reply, ReplyStatus, utcnow

log = logging.getLogger(__name__)


class OutboxError(Exception):
    """The SMTP server cannot be reached; the message says which."""


class _Undelivered(Exception):
    """The server did not take the message.

    ``permanent``: retrying this reply cannot help. ``server``: the refusal is about the
    connection or our own sender address, not this reply, so no other reply will fare better.
    """

    def __init__(self, reason: str, *, permanent: bool, server: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.server = server


class _MaybeDelivered(Exception):
    pass


@dataclass
class SendReport:
    sent: list[Reply] = field(default_factory=list)
    failed: int = 0
    uncertain: int = 0
    retry: int = 0
    problem: str = ""


def compose(reply: Reply, settings: SmtpSettings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((settings.from_name, settings.from_address))
    message["To"] = reply.to_address
    message["Subject"] = reply.subject
    message["Date"] = format_datetime(reply.created_at)
    message["Message-ID"] = reply.message_id
    if reply.in_reply_to:
        message["In-Reply-To"] = reply.in_reply_to
    if reply.references:
        message["References"] = reply.references
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(reply.body_text, charset="utf-8")
    return message


def _set(engine: Engine, reply_id: int, status: ReplyStatus, **values: object) -> None:
    with session_scope(engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(Reply).where(Reply.id == reply_id).values(status=status, **values)
        )


def send_approved(engine: Engine, settings: SmtpSettings, sent_dir: Path) -> SendReport:
    """Send every approved reply once; report what left, failed, or needs a person."""
    report = SendReport()
    with session_scope(engine) as session:
        interrupted = session.exec(  # type: ignore[call-overload]
            update(Reply)
            .where(Reply.status == ReplyStatus.SENDING)
            .values(status=ReplyStatus.UNCERTAIN, failure="the worker stopped while sending")
        )
        report.uncertain += interrupted.rowcount or 0
        approved = session.exec(
            select(Reply.id).where(Reply.status == ReplyStatus.APPROVED).order_by(Reply.id)
        ).all()
    for reply_id in approved:
        with session_scope(engine) as session:
            claimed = session.exec(  # type: ignore[call-overload]
                update(Reply)
                .where(Reply.id == reply_id, Reply.status == ReplyStatus.APPROVED)
                .values(status=ReplyStatus.SENDING)
            )
            if claimed.rowcount != 1:
                continue
            reply = session.get(Reply, reply_id)
        assert reply is not None
        message = compose(reply, settings)
        sent_dir.mkdir(parents=True, exist_ok=True)
        path = sent_dir / f"{reply_id:06d}.eml"
        path.write_bytes(bytes(message))
        try:
            _deliver(message, settings)
        except _Undelivered as exc:
            if exc.permanent and not exc.server:
                _set(engine, reply_id, ReplyStatus.FAILED, failure=str(exc))
                report.failed += 1
                log.warning("reply %s refused by the SMTP server: %s", reply_id, exc)
                continue
            _set(engine, reply_id, ReplyStatus.APPROVED, failure=str(exc))
            report.retry += 1
            log.warning("reply %s not sent, will retry: %s", reply_id, exc)
            if exc.server:
                report.problem = f"SMTP {settings.host}:{settings.port}: {exc}"
                break
            continue
        except _MaybeDelivered as exc:
            _set(engine, reply_id, ReplyStatus.UNCERTAIN, failure=str(exc))
            report.uncertain += 1
            log.warning("reply %s may or may not have been delivered: %s", reply_id, exc)
            continue
        _set(engine, reply_id, ReplyStatus.SENT, sent_at=utcnow(), sent_path=str(path), failure="")
        with session_scope(engine) as session:
            done = session.get(Reply, reply_id)
        assert done is not None
        report.sent.append(done)
        log.info("sent reply %s", reply_id)
    return report


def _deliver(message: EmailMessage, settings: SmtpSettings) -> None:
    """One SMTP conversation; the exception says whether the data may have been handed over,
    and whether the refusal concerns this reply or the server as a whole."""
    context = ssl.create_default_context()
    payload = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    recipient = str(message["To"])
    smtp: smtplib.SMTP | None = None
    try:
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        smtp.ehlo_or_helo_if_needed()
        if settings.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, settings.password.get_secret_value())
        code, answer = smtp.mail(settings.return_path)
        if code >= 400:
            raise smtplib.SMTPSenderRefused(code, answer, settings.return_path)
    except (OSError, smtplib.SMTPException) as exc:
        _close(smtp)
        raise _Undelivered(_describe(exc), permanent=False, server=True) from exc
    code, answer = _step(smtp, lambda: smtp.rcpt(recipient))
    if code >= 400:
        _close(smtp, polite=True)
        raise _Undelivered(f"{code} {_text(answer)}", permanent=code >= 500)
    try:
        code, answer = smtp.data(payload)
    except smtplib.SMTPDataError as exc:
        _close(smtp, polite=True)
        raise _Undelivered(
            f"{exc.smtp_code} {_text(exc.smtp_error)}", permanent=exc.smtp_code >= 500
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        _close(smtp)
        raise _MaybeDelivered(f"connection lost while sending the message: {exc.__class__.__name__}") from exc
    _close(smtp, polite=True)
    if code != 250:
        # The server read the message and refused it: nothing was delivered.
        raise _Undelivered(f"{code} {_text(answer)}", permanent=code >= 500)


def _step(smtp: smtplib.SMTP, command: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
    try:
        return command()
    except (OSError, smtplib.SMTPException) as exc:
        _close(smtp)
        raise _Undelivered(_describe(exc), permanent=False, server=True) from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{exc.__class__.__name__}: {exc}"


def _close(smtp: smtplib.SMTP | None, *, polite: bool = False) -> None:
    if smtp is None:
        return
    try:
        if polite:
            smtp.quit()
    except (OSError, smtplib.SMTPException):
        pass
    smtp.close()


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
