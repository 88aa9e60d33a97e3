"""Stage work shared by every worker on PostgreSQL, through the intake backlog.

The worker holding the mailbox adds each fetched batch to ``bot.storage.backlog`` in the commit
that moves the UID cursor (``enqueue``), and every worker, that one included, takes batches
from there (``Shared.step``): the next batch is taken and read in the reading process while the
one before it is stored. A batch is stored in one commit that also deletes its rows; one that
fails is stored one message at a time. A row taken again after its taker died is read alone,
and one whose taker died with it alone ``[intake] max_kills`` times is kept for a person
unread (a batch's death is no one message's). The mailbox's reader archives what any of them
stored (``archive.shared``). The reader stores a batch itself, as without the backlog, while no
other worker stands by for a share (``HELPERS``) and the backlog is empty (``cycle.Stored.keeps``).
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot.config import Settings
from bot.mail.intake import RUN, record_oversized, stopped_reason, unless_the_environment
from bot.mail.mailbox import Fetched
from bot.mail.readers import ReadAhead, read_all
from bot.pipeline import own_addresses, process_batch
from bot.stages.reading import Reading
from bot.storage import backlog, database, locks, store
from bot.storage.backlog import Waiting
from bot.storage.intake import envelope_hint, hold_for_staff
from bot.storage.tables import MessageStatus
from bot.storage.trade_book import CycleRecords

log = logging.getLogger(__name__)


sharing = backlog.in_use
# The group of workers standing by for a share of the work of the worker reading the mailbox.
HELPERS = "intake:helpers"


def standing_by(engine: Engine) -> int:
    """How many workers stand by for a share of the work of the one reading the mailbox."""
    return locks.members(engine, HELPERS)


def left(engine: Engine) -> int:
    """Messages in the shared intake not yet stored, taken or not."""
    with database.session_scope(engine) as session:
        total, _ = backlog.count(session)
    return total


def enqueue(engine: Engine, settings: Settings, uidvalidity: int, batch: list[Fetched]) -> list[str | None]:
    """Add a fetched batch to the backlog and move the cursor past it, in one commit; a message
    too large to read is listed for staff at once, as without the backlog, and its outcome
    returned for the cycle's report."""
    folder = settings.imap.folder
    oversized = [
        record_oversized(engine, settings, uidvalidity, fetched, None)
        for fetched in batch
        if fetched.raw is None
    ]
    messages = [(f.uid, f.raw, envelope_hint(f.raw)[0] or f"uid:{f.uid}") for f in batch if f.raw is not None]
    with database.session_scope(engine) as session:
        backlog.add(session, folder=folder, uidvalidity=uidvalidity, messages=messages)
        store.advance_cursor(session, folder=folder, uidvalidity=uidvalidity, uid=batch[-1].uid)
    return oversized


def waiting(engine: Engine) -> int:
    """Messages in the shared intake that no worker has taken."""
    with database.session_scope(engine) as session:
        total, taken = backlog.count(session)
    return total - taken


@dataclass
class Shared:
    """One worker's share of the stage work in one cycle; ``outcomes`` of what it stored
    (None: already stored), to be counted in the cycle's report."""

    engine: Engine
    settings: Settings
    # The reading process to use (the cycle's), or None for one of its own.
    ahead: ReadAhead | None = None
    outcomes: list[str | None] = field(default_factory=list)
    _ahead: ReadAhead | None = None
    _next: tuple[list[Waiting], Future[list[Reading]] | None] | None = None
    _alive: ExitStack = field(default_factory=ExitStack)
    _cycle_records: CycleRecords = field(default_factory=CycleRecords)

    def __post_init__(self) -> None:
        backlog.ensure(self.engine)
        # Held while this worker may have rows taken, so that its death frees them at once.
        self._alive.enter_context(locks.exclusive(self.engine, backlog.taker(RUN)))
        self._ahead = self.ahead or ReadAhead(self.settings)

    def step(self) -> bool:
        """Store one batch from the backlog; False when there was none to take."""
        current = self._next or self._take(retake=True)
        self._next = None
        if current is None:
            return False
        taken, reading = current
        if not taken[0].retaken:
            # Not while a retake is in hand: a death then must count against that message alone.
            self._next = self._take(retake=False)
        assert self._ahead is not None
        self._store(taken, self._ahead.result(reading))
        return True

    def drain(self) -> None:
        while self.step():
            pass

    def close(self) -> None:
        """Give back a batch taken ahead and not stored, for any worker to take at once."""
        if self._next is not None:
            backlog.give_back(self.engine, self._next[0], by=RUN)
            self._next = None
        if self._ahead is not None and self.ahead is None:
            self._ahead.close()
        self._alive.close()

    def _take(self, *, retake: bool) -> tuple[list[Waiting], Future[list[Reading]] | None] | None:
        """Take a batch and start reading it; a retake is read when it is stored, alone."""
        settings = self.settings
        taken = backlog.take(
            self.engine,
            by=RUN,
            limit=settings.imap.batch_size,
            retake_after=timedelta(seconds=settings.intake.retake_after_seconds),
            retake=retake,
        )
        if not taken:
            return None
        if taken[0].retaken:
            return taken, None
        assert self._ahead is not None
        return taken, self._ahead.start([Fetched(w.uid, w.raw, len(w.raw)) for w in taken])

    def _store(self, taken: list[Waiting], readings: list[Reading] | None) -> None:
        before = len(self.outcomes)
        self._store_taken(taken, readings)
        done = self.outcomes[before:]
        log.info(
            "stored %d messages from the shared intake (uid %d to %d): %d already stored",
            len(done),
            taken[0].uid,
            taken[-1].uid,
            done.count(None),
        )

    def _store_taken(self, taken: list[Waiting], readings: list[Reading] | None) -> None:
        where = {(w.folder, w.uidvalidity) for w in taken}
        if len(taken) == 1 or len(where) > 1 or any(w.retaken for w in taken):
            for waiting in taken:
                self._alone(waiting)
            return
        try:
            with database.session_scope(self.engine) as session:
                stored = self._batch(session, taken, readings)
        except Exception as exc:
            self._unless_the_environment(exc, taken)
            log.warning(
                "batch of %d messages from the backlog failed (%s); storing them one at a time",
                len(taken),
                exc.__class__.__name__,
            )
            log.debug("traceback", exc_info=True)
            for waiting in taken:
                self._alone(waiting)
            return
        self.outcomes.extend(stored)

    def _unless_the_environment(self, exc: Exception, taken: list[Waiting]) -> None:
        """A failure of the database or the templates ends the cycle; what was taken is given
        back first, so that no message is counted as having stopped a worker."""
        try:
            unless_the_environment(exc)
        except Exception:
            try:
                backlog.give_back(self.engine, taken, by=RUN)
            except OperationalError:
                log.debug("the taken messages wait [intake] retake_after_seconds", exc_info=True)
            raise

    def _batch(
        self, session: Session, taken: list[Waiting], readings: list[Reading] | None
    ) -> list[str | None]:
        mine = backlog.lock_mine(session, [w.id for w in taken], by=RUN)
        kept = [(w, r) for w, r in zip(taken, readings or [None] * len(taken), strict=True) if w.id in mine]
        if not kept:
            return []
        found = [r for _, r in kept]
        if readings is None or any(r is None for r in found):
            found = read_all(
                [w.raw for w, _ in kept], own_addresses(self.settings), self.settings.claims.reference_prefix
            )
        backlog.name_locks(session, names(found))
        first = kept[0][0]
        assert self._ahead is not None
        with self._ahead.drafting(session, len(kept)):
            stored = process_batch(
                [(w.uid, w.raw) for w, _ in kept],
                session=session,
                settings=self.settings,
                folder=first.folder,
                uidvalidity=first.uidvalidity,
                readings=[r for r in found if r is not None],
                cycle_records=self._cycle_records,
            )
        rows = [w.id for w, _ in kept]
        backlog.done(
            session, rows, duplicates=[i for i, inbound in zip(rows, stored, strict=True) if not inbound]
        )
        return [str(inbound.status) if inbound else None for inbound in stored]

    def _alone(self, waiting: Waiting) -> None:
        """Store one message in its own commit; one whose earlier retakes died with it is kept
        for a person unread once they reach ``[intake] max_kills``, and one our code fails on
        is kept for a person with the reason."""
        deaths = max(waiting.retakes - 1, 0)
        if deaths >= self.settings.intake.max_kills:
            log.error("message uid %s stopped the worker %s times; kept unread", waiting.uid, deaths)
            self._keep_unread(waiting, stopped_reason(deaths))
            return
        try:
            with database.session_scope(self.engine) as session:
                self.outcomes.extend(self._batch(session, [waiting], None))
            return
        except Exception as exc:
            self._unless_the_environment(exc, [waiting])
            log.error(
                "message uid %s could not be processed: %s (run with -v for the traceback)",
                waiting.uid,
                exc.__class__.__name__,
            )
            log.debug("traceback", exc_info=True)
        self._keep_unread(waiting, "internal error while processing; see the worker log")

    def _keep_unread(self, waiting: Waiting, reason: str) -> None:
        content_hash = hashlib.sha256(waiting.raw).hexdigest()
        with database.session_scope(self.engine) as session:
            if not backlog.lock_mine(session, [waiting.id], by=RUN):
                return
            if store.find_duplicate(session, message_id=None, content_hash=content_hash):
                backlog.done(session, [waiting.id], duplicates=[waiting.id])
                self.outcomes.append(None)
                return
            backlog.done(session, [waiting.id])
            hold_for_staff(
                session,
                self.settings,
                waiting.raw,
                reason=reason,
                folder=waiting.folder,
                uidvalidity=waiting.uidvalidity,
                uid=waiting.uid,
                content_hash=content_hash,
            )
        self.outcomes.append(str(MessageStatus.QUARANTINED))


def names(readings: list[Reading | None]) -> set[str]:
    """What a batch's messages name, locked while it is stored: senders, claim references,
    threads, and every number a complaint names."""
    found: set[str] = set()
    for reading in readings:
        if reading is None or reading.parsed is None:
            continue
        found.add(f"sender:{reading.parsed.sender.lower()}")
        verdict = reading.verdict
        if verdict is not None:
            if verdict.reference:
                found.add(f"claim:{verdict.reference}")
            found.update(f"thread:{i}" for i in verdict.thread_ids)
        found.update(f"number:{n}" for n in reading.numbers())
    return found
