"""Storing what the mailbox hands over, exactly once whatever happens: a batch in one commit,
or, when a batch fails or a run died with it in hand, each message alone, marked in hand in the
commit that stores the one before it (``bot.mail.cycle`` reads the mailbox around these)."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from contextlib import nullcontext

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.mail.mailbox import Fetched
from bot.mail.readers import ReadAhead
from bot.pipeline import process_batch, process_message
from bot.stages.draft import TemplateProblem
from bot.stages.reading import Reading
from bot.storage import database, store
from bot.storage.intake import hold_for_staff
from bot.storage.tables import IntakeAttempt, MessageStatus, utcnow
from bot.storage.trade_book import CycleRecords

log = logging.getLogger(__name__)

# This run of this worker: the mark of the message in hand names it.
RUN = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"


def store_batch(
    engine: Engine,
    settings: Settings,
    uidvalidity: int,
    batch: list[Fetched],
    readings: list[Reading] | None = None,
    ahead: ReadAhead | None = None,
    cycle_records: CycleRecords | None = None,
) -> list[str | None] | None:
    """Store a whole batch in one commit, which also moves the cursor past it; each message's
    outcome, or None if the batch failed on some message (the caller then stores each alone,
    and only that one is kept for a person). The batch is marked in hand first: a run that dies
    while storing it leaves the mark, and the next reads the batch one message at a time."""
    folder = settings.imap.folder
    with database.session_scope(engine) as session:
        store.hand_on(
            session, folder=folder, uidvalidity=uidvalidity, uid=batch[0].uid, by=RUN, through=batch[-1].uid
        )
    messages = [(f.uid, f.raw) for f in batch if f.raw is not None]
    try:
        with database.session_scope(engine) as session:
            with ahead.drafting(session, len(messages)) if ahead else nullcontext():
                stored = process_batch(
                    messages,
                    session=session,
                    settings=settings,
                    folder=folder,
                    uidvalidity=uidvalidity,
                    readings=readings,
                    cycle_records=cycle_records,
                )
            store.advance_cursor(session, folder=folder, uidvalidity=uidvalidity, uid=batch[-1].uid)
            return [str(inbound.status) if inbound else None for inbound in stored]
    except Exception as exc:
        unless_the_environment(exc)
        log.warning(
            "batch of uid %d to %d failed (%s); storing its messages one at a time",
            batch[0].uid,
            batch[-1].uid,
            exc.__class__.__name__,
        )
        log.debug("traceback", exc_info=True)
        return None


def unless_the_environment(exc: Exception) -> None:
    """Failures of the environment (templates, the database) are not the message's fault: they
    end the cycle, and the message is read again next time."""
    if isinstance(exc, TemplateProblem):
        raise exc
    if isinstance(exc, OperationalError):
        raise database.StoreError(f"database unavailable: {exc.__class__.__name__}") from exc


def process_after_death(
    engine: Engine, settings: Settings, fetched: Fetched, uidvalidity: int, following: int | None
) -> str | None:
    """The previous run died with this message in hand: count that death, committed before the
    message is read again; one that has killed ``[intake] max_kills`` runs is kept for a person
    without being read a further time."""
    assert fetched.raw is not None
    raw, folder, uid = fetched.raw, settings.imap.folder, fetched.uid
    content_hash = hashlib.sha256(raw).hexdigest()
    with database.session_scope(engine) as session:
        if store.find_duplicate(session, message_id=None, content_hash=content_hash):
            store.hand_on(session, folder=folder, uidvalidity=uidvalidity, uid=following, by=RUN)
            return None
        stored = session.get(IntakeAttempt, content_hash)
        attempt = stored or IntakeAttempt(
            content_hash=content_hash, folder=folder, uid=uid, started_at=utcnow()
        )
        attempt.deaths += 1
        if attempt.deaths >= settings.intake.max_kills:
            log.error("message uid %s stopped the worker %s times; kept unread", uid, attempt.deaths)
            if stored is not None:
                session.delete(stored)
            hold_for_staff(
                session,
                settings,
                raw,
                reason=stopped_reason(attempt.deaths),
                folder=folder,
                uidvalidity=uidvalidity,
                uid=uid,
                content_hash=content_hash,
            )
            store.hand_on(session, folder=folder, uidvalidity=uidvalidity, uid=following, by=RUN)
            return str(MessageStatus.QUARANTINED)
        attempt.started_at = utcnow()
        session.add(attempt)
    outcome = process_safely(engine, settings, raw, folder, uidvalidity, uid, hand_on=following)
    with database.session_scope(engine) as session:
        survived = session.get(IntakeAttempt, content_hash)
        if survived is not None:
            session.delete(survived)
    return outcome


def process_safely(
    engine: Engine,
    settings: Settings,
    raw: bytes,
    folder: str,
    uidvalidity: int,
    uid: int,
    *,
    on_server: bool = True,
    hand_on: int | None = None,
) -> str | None:
    """Process in one transaction; if our own code fails on this message, keep it for a person.

    Failures of the environment (database, templates) are not the message's fault: they end
    the cycle and the message is read again next time. A message from the mailbox's folder
    passes the mark of the message in hand to ``hand_on`` (the next UID, or None at the end of
    the batch) in the commit that stores it.
    """
    try:
        with database.session_scope(engine) as session:
            inbound = process_message(
                raw, session=session, settings=settings, folder=folder, uidvalidity=uidvalidity, uid=uid
            )
            if inbound is not None and not on_server:
                inbound.archived = True
            if on_server:
                store.hand_on(session, folder=folder, uidvalidity=uidvalidity, uid=hand_on, by=RUN)
            return str(inbound.status) if inbound else None
    except Exception as exc:
        unless_the_environment(exc)
        log.error(
            "message uid %s could not be processed: %s (run with -v for the traceback)",
            uid,
            exc.__class__.__name__,
        )
        log.debug("traceback", exc_info=True)
    content_hash = hashlib.sha256(raw).hexdigest()
    with database.session_scope(engine) as session:
        if on_server:
            store.hand_on(session, folder=folder, uidvalidity=uidvalidity, uid=hand_on, by=RUN)
        if store.find_duplicate(session, message_id=None, content_hash=content_hash):
            return None
        hold_for_staff(
            session,
            settings,
            raw,
            reason="internal error while processing; see the worker log",
            folder=folder,
            uidvalidity=uidvalidity,
            uid=uid,
            archived=not on_server,
            content_hash=content_hash,
        )
    return str(MessageStatus.QUARANTINED)


def stopped_reason(deaths: int) -> str:
    """What staff read about a message kept unread because reading it kept stopping the worker."""
    return f"reading this message stopped the worker {deaths} times (killed or stuck); it was not read again"


def record_oversized(
    engine: Engine, settings: Settings, uidvalidity: int, fetched: Fetched, hand_on: int | None
) -> str | None:
    """Too large to read safely: listed for staff and left where it is on the server."""
    folder = settings.imap.folder
    marker = f"oversized:{folder}:{uidvalidity}:{fetched.uid}"
    limit = settings.imap.max_message_bytes
    with database.session_scope(engine) as session:
        store.hand_on(session, folder=folder, uidvalidity=uidvalidity, uid=hand_on, by=RUN)
        if store.find_duplicate(session, message_id=None, content_hash=marker):
            return None
        hold_for_staff(
            session,
            settings,
            b"",
            content_hash=marker,
            folder=folder,
            uidvalidity=uidvalidity,
            uid=fetched.uid,
            archived=True,
            reason=(
                f"message of {fetched.size:,} bytes is over the {limit:,}-byte limit "
                f"([imap] max_message_bytes); left in {folder} on the server"
            ),
        )
    return str(MessageStatus.QUARANTINED)
