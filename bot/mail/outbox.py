"""The SMTP edge: turn approved replies into mail and send each one at most once.

A reply is marked ``sending`` and committed before the SMTP conversation starts, and
``sent`` after it ends. What happens on failure depends on how far the conversation got:

- refused or unreachable before the message data was handed over: nothing was delivered, so
  a temporary failure (4xx, connection refused, timeout) leaves it ``approved`` with a
  retry time that doubles each attempt (``failed`` after ``max_attempts``), and a permanent
  one (5xx) marks it ``failed`` with the server's answer, for staff to see in the queue;
- cut off while the data was being sent, or the process died mid-send (found ``sending`` at
  the next cycle): it may have been delivered, so it becomes ``uncertain`` and waits for a
  person (``claimsbot resolve``), because sending it again could deliver it twice.

One failing reply never holds up the others. With several workers only the one holding the
``outbox`` lock sends (the others skip the run), which is what makes the ``sending`` rule
sound: a reply found ``sending`` when the lock is taken was left by a sender that died.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from html import escape
from pathlib import Path

from sqlalchemy import Engine, or_, update
from sqlmodel import select

from bot.claims import moves, replies
from bot.config import Settings, SmtpSettings
from bot.mail import tokens
from bot.mail.tokens import TokenError
from bot.stages.parse import msg_ids
from bot.storage import locks
from bot.storage.database import session_scope
from bot.storage.tables import Reply, ReplyStatus, utcnow

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
    # Another worker holds the ``outbox`` lock and is sending: this run did nothing.
    busy: bool = False
    # The sent messages as delivered, for the copy in the IMAP Sent folder.
    messages: list[EmailMessage] = field(default_factory=list)


def compose(reply: Reply, settings: SmtpSettings) -> EmailMessage:
    """The reply as mail. Thread ids are a client's words: only well-formed msg-ids go into our
    headers, and the subject is one line; anything that still cannot be composed raises."""
    message = EmailMessage()
    message["From"] = formataddr((settings.from_name, settings.from_address))
    message["To"] = reply.to_address
    message["Subject"] = " ".join(reply.subject.split())
    message["Date"] = format_datetime(reply.created_at)
    (own,) = msg_ids(reply.message_id) or (None,)
    if own is None:
        raise ValueError(f"our own Message-ID {reply.message_id[:80]!r} is not a msg-id")
    message["Message-ID"] = own
    in_reply_to = msg_ids(reply.in_reply_to)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to[0]
    references = msg_ids(reply.references)
    if references:
        message["References"] = " ".join(references)
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(reply.body_text, charset="utf-8")
    if reply.body_html:
        message.add_alternative(page(reply), subtype="html", charset="utf-8")
    return message


def page(reply: Reply) -> str:
    """The HTML part as a whole page, as it is sent."""
    lang = "en" if reply.language == "en" else reply.language
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(reply.subject)}'
        f'</title></head>\n<body style="font-family: sans-serif; line-height: 1.5">\n{reply.body_html}'
        "</body></html>\n"
    )


def send_approved(engine: Engine, config: Settings) -> SendReport:
    """Send every approved reply that is due once, over one SMTP connection; report what left,
    failed, waits for a retry, or needs a person. Skipped while another worker is sending."""
    with locks.exclusive(engine, "outbox") as held:
        if not held:
            log.debug("another worker is sending the approved replies")
            return SendReport(busy=True)
        return _send_due(engine, config)


def _send_due(engine: Engine, config: Settings) -> SendReport:
    settings, sent_dir = config.smtp, config.sent_dir
    report = SendReport()
    now = utcnow()
    with session_scope(engine) as session:
        interrupted = session.exec(  # type: ignore[call-overload]
            update(Reply)
            .where(Reply.status == ReplyStatus.SENDING)
            .values(status=ReplyStatus.UNCERTAIN, failure="the worker stopped while sending")
        )
        report.uncertain += interrupted.rowcount or 0
        due = session.exec(
            select(Reply.id)
            .where(
                Reply.status == ReplyStatus.APPROVED,
                or_(Reply.next_attempt_at.is_(None), Reply.next_attempt_at <= now),  # type: ignore[union-attr]
            )
            .order_by(Reply.id)
        ).all()
    connection = _Connection(settings)
    try:
        for reply_id in due:
            if not _send_one(engine, connection, config, sent_dir, reply_id, report):
                break
    finally:
        connection.close()
    return report


def _send_one(
    engine: Engine,
    connection: _Connection,
    config: Settings,
    sent_dir: Path,
    reply_id: int,
    report: SendReport,
) -> bool:
    """Send one reply; False when the server itself is failing, so the rest wait for the next run."""
    settings = config.smtp
    with session_scope(engine) as session:
        # Claim the row: a row another transaction has locked (a person editing or settling
        # it) is left for the next run, and the conditional update keeps SQLite, which has no
        # row locks, just as safe.
        free = session.exec(
            select(Reply.id)
            .where(Reply.id == reply_id, Reply.status == ReplyStatus.APPROVED)
            .with_for_update(skip_locked=True)
        ).first()
        if free is None:
            return True
        claimed = session.exec(  # type: ignore[call-overload]
            update(Reply)
            .where(Reply.id == reply_id, Reply.status == ReplyStatus.APPROVED)
            .values(status=ReplyStatus.SENDING, attempts=Reply.attempts + 1)
        )
        if claimed.rowcount != 1:
            return True
        reply = session.get(Reply, reply_id)
        assert reply is not None
        try:
            # Approved before its HTML part was drafted (``claimsbot approve`` does it too).
            reply.body_html = replies.html_of(reply, config)
            message = compose(reply, settings)
            data = bytes(message)  # an address or header that cannot be written fails here
            unsendable = ""
        except Exception as exc:
            # Refused here, before any SMTP conversation: failed with the reason, never left
            # ``sending`` (which would read as maybe delivered), and the rest of the batch goes on.
            unsendable = f"cannot be composed: {exc.__class__.__name__}: {exc}"[:500]
            reply.status, reply.failure = ReplyStatus.FAILED, unsendable
    if unsendable:
        report.failed += 1
        log.warning("reply %s %s", reply_id, unsendable)
        return True
    sent_dir.mkdir(parents=True, exist_ok=True)
    path = sent_dir / f"{reply_id:06d}.eml"
    path.write_bytes(data)
    try:
        connection.send(message)
    except _Undelivered as exc:
        if exc.permanent and not exc.server:
            _set(engine, reply_id, ReplyStatus.FAILED, failure=str(exc))
            report.failed += 1
            log.warning("reply %s refused by the SMTP server: %s", reply_id, exc)
            return True
        if reply.attempts >= settings.max_attempts:
            failure = f"gave up after {reply.attempts} attempts; last: {exc}"
            _set(engine, reply_id, ReplyStatus.FAILED, failure=failure)
            report.failed += 1
            log.warning("reply %s: %s", reply_id, failure)
        else:
            wait = timedelta(seconds=settings.retry_seconds * 2 ** (reply.attempts - 1))
            _set(engine, reply_id, ReplyStatus.APPROVED, failure=str(exc), next_attempt_at=utcnow() + wait)
            report.retry += 1
            log.warning("reply %s not sent, will retry in %s: %s", reply_id, wait, exc)
        if exc.server:
            report.problem = f"SMTP {settings.host}:{settings.port}: {exc}"
            return False
        return True
    except _MaybeDelivered as exc:
        _set(engine, reply_id, ReplyStatus.UNCERTAIN, failure=str(exc))
        report.uncertain += 1
        log.warning("reply %s may or may not have been delivered: %s", reply_id, exc)
        return True
    with session_scope(engine) as session:
        done = session.get(Reply, reply_id)
        assert done is not None
        done.status, done.sent_at, done.sent_path, done.failure = ReplyStatus.SENT, utcnow(), str(path), ""
        moves.after_sent(session, done, consent_days=config.claims.consent_days)
        session.flush()
        session.refresh(done)
        session.expunge(done)
    report.sent.append(done)
    report.messages.append(message)
    log.info("sent %s reply", done.kind, extra={"reply": reply_id, "message_id": done.message_id})
    return True


def _set(engine: Engine, reply_id: int, status: ReplyStatus, **values: object) -> None:
    with session_scope(engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(Reply).where(Reply.id == reply_id).values(status=status, **values)
        )


def open_smtp(settings: SmtpSettings) -> smtplib.SMTP:
    """A logged-in SMTP session as configured (SSL or STARTTLS, the certificate checked against
    the system's authorities or ``ca_file``; a password or an XOAUTH2 login when a username is
    set); the replies and the managers' digest both leave through it."""
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
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
            _log_in(smtp, settings)
    except (OSError, smtplib.SMTPException, TokenError, UnicodeError):
        _close(smtp)
        raise
    return smtp


def _log_in(smtp: smtplib.SMTP, settings: SmtpSettings) -> None:
    """A password, or XOAUTH2 with a token from ``[smtp.oauth2]``: a cached token refused is
    dropped and a new one tried, once; a second refusal says which setting to check."""
    if settings.auth == "xoauth2":
        source = tokens.source_for(settings.oauth2, section="smtp", login=settings.username)
        for attempt in (1, 2):
            response = tokens.sasl_xoauth2(settings.username, source.token())
            try:
                smtp.auth("XOAUTH2", lambda challenge=None, answer=response: answer, initial_response_ok=True)
                return
            except smtplib.SMTPAuthenticationError as exc:
                source.forget()
                if attempt == 2:
                    raise smtplib.SMTPAuthenticationError(
                        exc.smtp_code,
                        f"XOAUTH2 login of {settings.username!r} refused with a new token from "
                        f"[smtp.oauth2] provider {settings.oauth2.provider}: check the application's "
                        "permission to send as this mailbox, or whether its grant was revoked",
                    ) from exc
    if not settings.password.get_secret_value():
        raise smtplib.SMTPAuthenticationError(
            535, '[smtp] password is empty: set CLAIMSBOT_SMTP_PASSWORD (or [smtp] auth = "xoauth2")'
        )
    try:
        smtp.login(settings.username, settings.password.get_secret_value())
    except smtplib.SMTPAuthenticationError as exc:
        raise smtplib.SMTPAuthenticationError(
            exc.smtp_code, "login refused: check [smtp] username and password (CLAIMSBOT_SMTP_PASSWORD)"
        ) from exc


class _Connection:
    """One SMTP session for a batch, opened at the first reply and reopened after a fault.

    Each ``send`` raises to say whether the data may have been handed over, and whether the
    refusal concerns this reply or the server as a whole.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        try:
            return open_smtp(self.settings)
        except (OSError, smtplib.SMTPException, TokenError, UnicodeError) as exc:
            # UnicodeError: a user name or token that is not ASCII cannot be sent in XOAUTH2.
            raise _Undelivered(_describe(exc), permanent=False, server=True) from exc

    def send(self, message: EmailMessage) -> None:
        settings = self.settings
        if self.smtp is None:
            self.smtp = self._open()
        smtp = self.smtp
        payload = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        recipient = str(message["To"])
        code, answer = self._step(lambda: smtp.mail(settings.return_path))
        if code >= 400:
            self.close()
            raise _Undelivered(f"{code} {_text(answer)}", permanent=False, server=True)
        code, answer = self._step(lambda: smtp.rcpt(recipient))
        if code >= 400:
            self._reset()
            raise _Undelivered(f"{code} {_text(answer)}", permanent=code >= 500)
        try:
            code, answer = smtp.data(payload)
        except smtplib.SMTPDataError as exc:
            self._reset()
            raise _Undelivered(
                f"{exc.smtp_code} {_text(exc.smtp_error)}", permanent=exc.smtp_code >= 500
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close(polite=False)
            raise _MaybeDelivered(
                f"connection lost while sending the message: {exc.__class__.__name__}"
            ) from exc
        if code != 250:
            # The server read the message and refused it: nothing was delivered.
            self._reset()
            raise _Undelivered(f"{code} {_text(answer)}", permanent=code >= 500)

    def _step(self, command: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
        try:
            return command()
        except (OSError, smtplib.SMTPException) as exc:
            self.close(polite=False)
            raise _Undelivered(_describe(exc), permanent=False, server=True) from exc

    def _reset(self) -> None:
        """Forget a refused transaction so the next reply can use the same connection."""
        try:
            if self.smtp is not None:
                self.smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close(polite=False)

    def close(self, *, polite: bool = True) -> None:
        _close(self.smtp, polite=polite)
        self.smtp = None


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
