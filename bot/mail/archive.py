"""Moving what the database committed out of the complaint folder: stored messages to the
processed folder (quarantined ones to the quarantine folder), with the duplicates found of
them. Only what a transaction committed is moved, so a crash at any moment leaves a message
either not stored (read again) or stored and still in the folder (moved next time)."""

from __future__ import annotations

from sqlalchemy import Engine, update

from bot.config import Settings
from bot.mail.mailbox import Mailbox
from bot.storage import backlog, database, store
from bot.storage.tables import InboundMessage, MessageStatus

# Messages stored between two moves to the archive folders (and at the end of every cycle). A
# MOVE costs the server in proportion to the size of the folders it changes: Dovecot rewrites
# both folders' indexes. Moving each batch of 100 of a storm of 20,000 spent 4.6 s of the
# worker's 35 in MOVE, and more with each batch; the messages wait in the inbox meanwhile.
EVERY = 2_000


def pending(
    engine: Engine, mailbox: Mailbox, settings: Settings, duplicates: list[int] | None = None
) -> None:
    """Move what the database holds but the server still shows in the inbox.

    Quarantined messages go to the quarantine folder, everything else to the processed folder.
    ``duplicates`` are UIDs found already stored since the last move: their first copy was filed.
    """
    folder = settings.imap.folder
    with database.session_scope(engine) as session:
        waiting = store.unarchived(session, folder=folder, uidvalidity=mailbox.uidvalidity)
        quarantined = {m.uid for m in waiting if m.status == MessageStatus.QUARANTINED}
        processed = {m.uid for m in waiting} - quarantined
        ids = [m.id for m in waiting]
    processed |= set(duplicates or []) - quarantined
    mailbox.archive(sorted(processed), settings.imap.processed_folder)
    mailbox.archive(sorted(quarantined), settings.imap.quarantine_folder)
    if ids:
        with database.session_scope(engine) as session:
            session.exec(  # type: ignore[call-overload]
                update(InboundMessage).where(InboundMessage.id.in_(ids)).values(archived=True)
            )


def left_behind(engine: Engine, mailbox: Mailbox, cursor: int, *, with_backlog: bool = False) -> list[int]:
    """Messages still in the folder at or below the cursor that no row names: each was found a
    duplicate of one stored, and the run that found it ended before the move to the archive.
    (The shared intake keeps its messages, and its duplicates, in its own table: ``with_backlog``
    says to look there too.)"""
    if cursor <= 0:
        return []
    there = mailbox.uids_through(cursor)
    if not there:
        return []
    with database.session_scope(engine) as session:
        where = {"folder": mailbox.folder, "uidvalidity": mailbox.uidvalidity}
        known = store.known_uids(session, **where, uids=there)
        if with_backlog:
            known |= backlog.uids(session, **where)
    return sorted(set(there) - known)


def shared(engine: Engine, mailbox: Mailbox, settings: Settings, duplicates: list[int] | None = None) -> None:
    """Archive what the workers stored, and the messages they found already stored (with
    ``duplicates`` found outside the shared intake, as ``pending``)."""
    with database.session_scope(engine) as session:
        found = backlog.duplicates(session, folder=settings.imap.folder, uidvalidity=mailbox.uidvalidity)
    pending(engine, mailbox, settings, duplicates=[uid for _, uid in found] + (duplicates or []))
    with database.session_scope(engine) as session:
        backlog.done(session, [row_id for row_id, _ in found])
