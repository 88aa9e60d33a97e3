"""The managers' digest as the worker and ``claimsbot digest`` send it: figures since the last
digest, gathered by ``bot.reports.digest`` and written by ``bot.reports.digest_letter``, sent
over the ``[smtp]`` connection at most once per slot.

A scheduled digest's slot is the scheduled time it stands for (``[digest] at`` in its zone, the
latest at or before now); ``claimsbot digest --send`` takes a slot of its own. The slot is
claimed in ``digest_run`` before the message leaves (``bot.storage.runs.claim_digest``): a retry, a
second worker or a restart finds it taken and sends nothing. A digest the server refused before
taking it is marked failed and tried again at the job's next run.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import Engine

from bot.config import Settings
from bot.mail import outbox
from bot.reports import digest, digest_letter
from bot.storage import database, runs

log = logging.getLogger(__name__)


class DigestError(Exception):
    """The digest could not be written or sent; the message says why."""


@dataclass(frozen=True)
class Outcome:
    sent: bool
    detail: str


def latest_slot(now: datetime, at: tuple[int, int], tz: tzinfo) -> datetime:
    """The latest scheduled time at or before ``now``, in UTC."""
    local = now.astimezone(tz)
    slot = datetime.combine(local.date(), time(*at), tzinfo=tz)
    if slot > local:
        slot = datetime.combine(local.date() - timedelta(days=1), time(*at), tzinfo=tz)
    return slot.astimezone(UTC)


def compose(settings: Settings, engine: Engine, *, now: datetime) -> tuple[EmailMessage, digest.Digest]:
    """The digest at ``now``, its period from the last digest sent (or the previous scheduled time,
    when none was); in ``[digest] language``, times in ``[digest] timezone``, claims linked to
    their pages under ``[web] base_url`` when it is set."""
    runs.ensure_tables(engine)
    deadline = settings.deadlines
    with database.session_scope(engine) as session:
        last = runs.last_digest(session)
        since = (
            last.period_end
            if last
            else digest.since_last(now, settings.digest.hour_minute, settings.digest.tz)
        )
        figures = digest.gather(
            session,
            since=min(since, now),
            now=now,
            rules=deadline.rules,
            holidays=deadline.holidays,
            tz=deadline.tz,
            warn_days=deadline.warn_days,
        )
    message = digest_letter.compose_digest(
        figures,
        from_address=settings.smtp.from_address,
        to=list(settings.digest.recipients) or [settings.smtp.from_address],
        message_id_domain=settings.smtp.message_id_domain,
        templates_dir=settings.templates_dir,
        language=settings.digest.language,
        base_url=settings.web.base_url,
        zone=settings.digest.tz,
    )
    return message, figures


def write_preview(settings: Settings, engine: Engine, path: Path, *, now: datetime) -> digest.Digest:
    """The digest as a file to look at: ``.eml`` as it would be sent, ``.html`` with the chart inline."""
    message, figures = compose(settings, engine, now=now)
    suffix = path.suffix.lower()
    if suffix == ".eml":
        data = bytes(message)
    elif suffix in (".html", ".htm"):
        data = _standalone_html(message).encode("utf-8")
    else:
        raise DigestError(f"{path}: give a file name ending in .eml or .html")
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise DigestError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return figures


def _standalone_html(message: EmailMessage) -> str:
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    for part in message.walk():
        if part.get_content_type() == "image/png":
            cid = str(part["Content-ID"]).strip().strip("<>")
            encoded = base64.b64encode(part.get_payload(decode=True)).decode()  # type: ignore[arg-type]
            html = html.replace(f"cid:{cid}", f"data:image/png;base64,{encoded}")
    return html


def send(settings: Settings, engine: Engine, *, now: datetime, scheduled: bool) -> Outcome:
    """Send the digest for the slot ``now`` falls in (scheduled) or for ``now`` itself (by hand)."""
    recipients = list(settings.digest.recipients)
    if not recipients:
        raise DigestError("no digest recipients: set [digest] recipients")
    runs.ensure_tables(engine)
    slot = latest_slot(now, settings.digest.hour_minute, settings.digest.tz) if scheduled else now
    key = f"{'scheduled' if scheduled else 'manual'}:{slot:%Y-%m-%dT%H:%M:%S}Z"
    message, figures = compose(settings, engine, now=now)
    with database.session_scope(engine) as session:
        # The next digest counts from where these figures stop, so nothing is counted twice.
        run_id = runs.claim_digest(session, key=key, period_start=figures.since, period_end=figures.now)
    if run_id is None:
        return Outcome(False, f"digest {key} was already sent")
    try:
        _deliver(settings, message, recipients)
    except DigestError as exc:
        with database.session_scope(engine) as session:
            runs.digest_done(session, run_id=run_id, failure=str(exc))
        raise
    with database.session_scope(engine) as session:
        runs.digest_done(session, run_id=run_id)
    log.info("digest sent to %s recipients", len(recipients), extra={"message_id": message["Message-ID"]})
    return Outcome(True, f"digest sent to {', '.join(recipients)}: {message['Subject']}")


def _deliver(settings: Settings, message: EmailMessage, recipients: list[str]) -> None:
    """Over the replies' SMTP connection (``bot.mail.outbox`` opens it: TLS, login), to every recipient.

    A refusal before the data went out raises ``DigestError``; a connection lost during the data
    is left as sent (``sending``) rather than risk a second copy."""
    try:
        smtp = outbox.open_smtp(settings.smtp)
    except (OSError, smtplib.SMTPException) as exc:
        raise DigestError(
            f"SMTP {settings.smtp.host}:{settings.smtp.port}: {exc.__class__.__name__}: {exc}"
        ) from None
    try:
        smtp.send_message(message, from_addr=settings.smtp.return_path, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DigestError(f"SMTP refused every recipient: {', '.join(exc.recipients)}") from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        raise DigestError(f"SMTP refused the digest: {exc.smtp_code} {exc.smtp_error!r}") from None
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("connection lost while sending the digest (%s); not sent again", exc.__class__.__name__)
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.quit()
        smtp.close()
