"""The SMTP edge: turn approved replies into mail and send each one at most once.

A reply is marked ``sending`` and committed before the SMTP conversation starts, and
``sent`` after it ends. A reply found in ``sending`` at the start of a cycle may or may not
have left (the process died mid-send): it becomes ``uncertain`` and waits for a person,
because sending it again could deliver it twice.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from sqlalchemy import Engine, update
from sqlmodel import select

from bot.config import SmtpSettings
from bot.store import session_scope
from bot.tables import Reply, ReplyStatus, utcnow

log = logging.getLogger(__name__)


NOT_DELIVERED = (
    ConnectionRefusedError,
    socket.gaierror,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPNotSupportedError,
)


class OutboxError(Exception):
    """The SMTP server cannot be reached or refused a reply; the message says which."""


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


def send_approved(engine: Engine, settings: SmtpSettings, sent_dir: Path) -> list[Reply]:
    """Send every approved reply; return the ones that left."""
    with session_scope(engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(Reply).where(Reply.status == ReplyStatus.SENDING).values(status=ReplyStatus.UNCERTAIN)
        )
        approved = session.exec(select(Reply.id).where(Reply.status == ReplyStatus.APPROVED)).all()
    sent: list[Reply] = []
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
        try:
            _deliver(message, settings)
        except (OSError, smtplib.SMTPException) as exc:
            # Refused before any data was accepted: safe to try again. Anything else may
            # have been delivered, so a person decides.
            retry = isinstance(exc, NOT_DELIVERED)
            with session_scope(engine) as session:
                session.exec(  # type: ignore[call-overload]
                    update(Reply)
                    .where(Reply.id == reply_id)
                    .values(status=ReplyStatus.APPROVED if retry else ReplyStatus.UNCERTAIN)
                )
            raise OutboxError(f"SMTP {settings.host}:{settings.port}: {exc}") from exc
        path = sent_dir / f"{reply.id:06d}.eml"
        sent_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(message))
        with session_scope(engine) as session:
            session.exec(  # type: ignore[call-overload]
                update(Reply)
                .where(Reply.id == reply_id)
                .values(status=ReplyStatus.SENT, sent_at=utcnow(), sent_path=str(path))
            )
            done = session.get(Reply, reply_id)
        assert done is not None
        sent.append(done)
        log.info("sent reply %s", reply.id)
    return sent


def _deliver(message: EmailMessage, settings: SmtpSettings) -> None:
    context = ssl.create_default_context()
    smtp_class = smtplib.SMTP_SSL if settings.security == "ssl" else smtplib.SMTP
    kwargs = {"context": context} if settings.security == "ssl" else {}
    with smtp_class(settings.host, settings.port, timeout=settings.timeout, **kwargs) as smtp:
        if settings.security == "starttls":
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password.get_secret_value())
        smtp.send_message(message, from_addr=settings.return_path)
