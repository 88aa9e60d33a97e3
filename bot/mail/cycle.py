"""One worker cycle: the I/O around the pipeline.

Read new mail from IMAP (local files: ``bot.mail.local``), store each batch through
``pipeline.process_batch`` in one transaction (``bot.mail.intake``: each message alone when the
batch fails or a run died with it), archive what was committed, then send the approved
replies. The order is what makes a crash at any moment harmless: a message is archived only
after its transaction committed, and one found stored but not archived is only archived.

Several workers may run cycles at once: the mailbox is read only by the worker holding its
lock (``bot.storage.locks``), and the others skip reading for this cycle (the report says so),
standing by for a share of its stage work on PostgreSQL (``bot.mail.shared``), and still send
approved replies if the ``outbox`` lock is theirs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from imapclient.exceptions import IMAPClientError
from sqlalchemy import Engine

from bot.config import ImapSettings, Settings
from bot.mail import archive, shared
from bot.mail.intake import RUN, process_after_death, process_safely, record_oversized, store_batch
from bot.mail.mailbox import Fetched, Mailbox, MailboxError
from bot.mail.outbox import SendReport, send_approved
from bot.mail.readers import ReadAhead
from bot.stages.reading import Reading
from bot.storage import backlog, database, locks, store
from bot.storage.trade_book import CycleRecords

# Seconds a worker sharing the stage work waits for the mailbox's reader to add a batch.
WAIT_FOR_READER = 0.2
# Batches the mailbox's reader keeps waiting in the shared intake for the other workers before it
# stores one itself: enough that a worker finishing a batch finds the next, few enough that the
# reader's archive keeps pace.
SHARED_AHEAD = 3
log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    fetched: int = 0
    duplicates: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    failed: int = 0
    uncertain: int = 0
    # Messages this worker fetched into the shared intake (PostgreSQL), for any worker to store.
    queued: int = 0
    # Of the messages counted, those this worker took from the shared intake and stored.
    taken: int = 0
    problems: list[str] = field(default_factory=list)
    # Work another worker was doing at the time, so this cycle left it alone (not a failure).
    skipped: list[str] = field(default_factory=list)

    def count(self, outcome: str | None) -> None:
        self.fetched += 1
        if outcome is None:
            self.duplicates += 1
        else:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class CycleFailed(Exception):
    """The mailbox could not be read; approved replies were still sent. ``report`` says what was done."""

    def __init__(self, report: CycleReport) -> None:
        super().__init__("; ".join(report.problems))
        self.report = report


def run_cycle(settings: Settings, engine: Engine) -> CycleReport:
    """One pass: read new mail, process each message in its own transaction, archive, send."""
    report = CycleReport()
    failure: MailboxError | None = None
    try:
        read_if_free(settings, engine, report)
    except MailboxError as exc:
        failure = exc
    except (OSError, IMAPClientError) as exc:
        failure = MailboxError(f"IMAP {settings.imap.host}:{settings.imap.port}: {exc}")
    finally:
        # Approved replies go out whatever happened while reading the mailbox.
        outgoing = send_approved(engine, settings)
        report.sent, report.failed = len(outgoing.sent), outgoing.failed
        report.uncertain = outgoing.uncertain
        if outgoing.busy:
            report.skipped.append("outbox: another worker is sending")
    copies = keep_sent_copies(settings, outgoing)
    report.problems = [p for p in (str(failure) if failure else "", outgoing.problem, copies) if p]
    for skipped in report.skipped:
        log.debug("skipped %s", skipped)
    if failure is not None:
        raise CycleFailed(report) from failure
    return report


def mailbox_lock(imap: ImapSettings) -> str:
    """The name of the lock that lets one worker at a time read this folder."""
    return f"mailbox:{imap.host}:{imap.username}:{imap.folder}"


def read_if_free(settings: Settings, engine: Engine, report: CycleReport) -> None:
    """Read the mailbox unless another worker is reading it (then say so in the report)."""
    with locks.exclusive(engine, mailbox_lock(settings.imap)) as held:
        if held:
            read_mailbox(settings, engine, report)
            return
        report.skipped.append(f"{settings.imap.folder}: another worker is reading it")
    take_share(settings, engine, report)


def take_share(settings: Settings, engine: Engine, report: CycleReport) -> None:
    """Store what the shared intake holds (PostgreSQL) for as long as another worker is reading
    the mailbox into it, then what it left."""
    if not shared.sharing(settings, engine):
        return
    reading = mailbox_lock(settings.imap)
    # Standing by: the reader adds its batches to the shared intake while someone does.
    with locks.member(engine, shared.HELPERS, RUN):
        work = shared.Shared(engine, settings)
        try:
            while True:
                if work.step():
                    continue
                if not locks.held_anywhere(engine, reading):
                    break
                time.sleep(WAIT_FOR_READER)
            # What the reader added between this worker's last look and the end of its reading.
            work.drain()
        finally:
            work.close()
            _count(report, work)


def keep_sent_copies(settings: Settings, outgoing: SendReport) -> str:
    """Put what was sent in the IMAP Sent folder; a failure here is reported, never resent."""
    folder = settings.smtp.sent_folder
    if not folder or not outgoing.messages:
        return ""
    try:
        with Mailbox(settings.imap) as mailbox:
            mailbox.keep_sent([m.as_bytes() for m in outgoing.messages], folder)
    except (MailboxError, OSError, IMAPClientError) as exc:
        log.warning("sent replies not copied to %s: %s", folder, exc)
        return f"copy to IMAP folder {folder} failed: {exc}"
    return ""


def read_mailbox(settings: Settings, engine: Engine, report: CycleReport) -> None:
    folder = settings.imap.folder
    with Mailbox(settings.imap) as mailbox:
        uidvalidity = mailbox.uidvalidity
        with database.session_scope(engine) as session:
            cursor = store.cursor_for(session, folder=folder)
            same = cursor is not None and cursor.uidvalidity == uidvalidity
            after = cursor.last_uid if cursor and same else 0
            # Still set by another run, that run died with this message (or batch) in hand.
            died = cursor is not None and same and cursor.in_hand_by != RUN
            died_with = cursor.in_hand_uid if died and cursor and cursor.in_hand_through is None else None
            died_in = (cursor.in_hand_uid or 0, cursor.in_hand_through or 0) if died and cursor else (0, 0)
            if cursor and not same:
                # Old UIDs mean nothing now: what is still in the folder is read again and
                # recognised by Message-ID or content, then filed as a duplicate.
                store.forget_uids(session, folder=folder, keep_uidvalidity=uidvalidity)
        # On PostgreSQL the shared intake may hold what a run left, even with sharing now off.
        kept = engine.dialect.name == "postgresql"
        if kept:
            backlog.ensure(engine)
        left = archive.left_behind(engine, mailbox, after, with_backlog=kept)
        archive.pending(engine, mailbox, settings, duplicates=left)
        batches = (b for b in mailbox.new_messages(after, max_bytes=settings.imap.max_message_bytes) if b)
        ahead = ReadAhead(settings)
        sharing = shared.sharing(settings, engine)
        stored = Stored(engine, settings, mailbox, uidvalidity, report, ahead, sharing=sharing, backlog=kept)
        try:
            # What a run left in the shared intake is stored before anything newer.
            stored.leftovers()
            current = next(batches, None)
            here = stored.keeps(current)
            reading = ahead.start(current) if here else None
            while current is not None:
                if not here:
                    stored.share(current)
                # The next batch is fetched (and read elsewhere, if it is stored here) while
                # this one is stored; it is added to the shared intake only after this one.
                following = next(batches, None)
                follows_here = stored.keeps(following)
                upcoming = ahead.start(following) if follows_here else None
                if here:
                    stored.batch(current, ahead.result(reading), died_with=died_with, died_in=died_in)
                current, reading, here = following, upcoming, follows_here
            stored.finish()
        finally:
            try:
                stored.close()
            finally:
                ahead.close()


def _count(report: CycleReport, work: shared.Shared) -> None:
    for outcome in work.outcomes:
        report.count(outcome)
    report.taken += len(work.outcomes)
    work.outcomes.clear()


@dataclass
class Stored:
    """Where one cycle stores the batches it reads, and the report it counts them in."""

    engine: Engine
    settings: Settings
    mailbox: Mailbox
    uidvalidity: int
    report: CycleReport
    ahead: ReadAhead | None = None
    # The symbols and window quotes every batch of the cycle reads.
    cycle_records: CycleRecords = field(default_factory=CycleRecords)
    # Whether batches may go through the shared intake, whether the database has one (PostgreSQL,
    # sharing or not), and this worker's share of the work there once it has one.
    sharing: bool = False
    backlog: bool = False
    work: shared.Shared | None = None
    # Stored since the last move to the archive folders, and of them the duplicates' UIDs.
    unarchived: int = 0
    duplicates: list[int] = field(default_factory=list)

    def keeps(self, batch: list[Fetched] | None) -> bool:
        """Whether ``batch`` is stored here rather than added to the shared intake: when no
        other worker stands by to take it and nothing waits there (which keeps the order of a
        sender's messages). What waits when the last helper has gone is stored first."""
        if batch is None:
            return False
        if not self.sharing:
            return True
        if shared.standing_by(self.engine):
            return False
        waiting = shared.left(self.engine)
        if waiting and self.work is not None:
            self.work.drain()
            waiting = shared.left(self.engine)
        return not waiting

    def leftovers(self) -> None:
        if self.backlog and shared.left(self.engine):
            self._share().drain()

    def share(self, batch: list[Fetched]) -> None:
        """Add ``batch`` to the shared intake, and store from there whenever the other workers
        leave more than ``SHARED_AHEAD`` batches waiting."""
        work = self._share()
        for outcome in shared.enqueue(self.engine, self.settings, self.uidvalidity, batch):
            self.report.count(outcome)
        self.report.queued += len(batch)
        while shared.waiting(self.engine) > SHARED_AHEAD * self.settings.imap.batch_size and work.step():
            pass
        self._archive_soon(batch, [])

    def finish(self) -> None:
        """Store what is left in the shared intake, then archive."""
        if self.work is not None:
            self.work.drain()
        self.archive()

    def _share(self) -> shared.Shared:
        if self.work is None:
            self.work = shared.Shared(self.engine, self.settings, self.ahead)
        return self.work

    def close(self) -> None:
        if self.work is not None:
            try:
                self.work.close()
            finally:
                _count(self.report, self.work)

    def archive(self) -> None:
        """Move what is stored and not yet archived (``archive.pending``; ``archive.shared``
        where there is a shared intake), with the duplicates found since the last move."""
        if self.backlog:
            archive.shared(self.engine, self.mailbox, self.settings, duplicates=self.duplicates)
        else:
            archive.pending(self.engine, self.mailbox, self.settings, duplicates=self.duplicates)
        self.unarchived, self.duplicates = 0, []

    def _archive_soon(self, batch: list[Fetched], duplicates: list[int]) -> None:
        self.unarchived += len(batch)
        self.duplicates += duplicates
        if self.unarchived >= archive.EVERY:
            self.archive()

    def batch(
        self,
        batch: list[Fetched],
        readings: list[Reading] | None,
        *,
        died_with: int | None,
        died_in: tuple[int, int],
    ) -> None:
        engine, settings, uidvalidity, report = self.engine, self.settings, self.uidvalidity, self.report
        folder = settings.imap.folder
        before = dict(report.outcomes)
        # A batch a run died with is read one message at a time, to find the one that killed it.
        alone = any(f.raw is None or f.uid == died_with or died_in[0] <= f.uid <= died_in[1] for f in batch)
        outcomes = (
            None
            if alone
            else store_batch(engine, settings, uidvalidity, batch, readings, self.ahead, self.cycle_records)
        )
        if outcomes is not None:
            for outcome in outcomes:
                report.count(outcome)
            duplicates = [f.uid for f, outcome in zip(batch, outcomes, strict=True) if outcome is None]
            self._archive_soon(batch, duplicates)
            _log_batch(batch, duplicates, report, before)
            return
        with database.session_scope(engine) as session:
            store.hand_on(session, folder=folder, uidvalidity=uidvalidity, uid=batch[0].uid, by=RUN)
        duplicates = []
        for index, fetched in enumerate(batch):
            # Whatever stores this message says which one is in hand next, in the same commit.
            following = batch[index + 1].uid if index + 1 < len(batch) else None
            if fetched.raw is None:
                outcome = record_oversized(engine, settings, uidvalidity, fetched, following)
            elif fetched.uid == died_with:
                outcome = process_after_death(engine, settings, fetched, uidvalidity, following)
            else:
                outcome = process_safely(
                    engine, settings, fetched.raw, folder, uidvalidity, fetched.uid, hand_on=following
                )
            report.count(outcome)
            if outcome is None and fetched.raw is not None:
                duplicates.append(fetched.uid)
        # The cursor only saves work: a crash before this line re-reads the batch, and
        # every message in it is then recognised as stored.
        with database.session_scope(engine) as session:
            store.advance_cursor(session, folder=folder, uidvalidity=uidvalidity, uid=batch[-1].uid)
        self._archive_soon(batch, duplicates)
        _log_batch(batch, duplicates, report, before)


def _log_batch(
    batch: list[Fetched], duplicates: list[int], report: CycleReport, before: dict[str, int]
) -> None:
    log.info(
        "batch of %d messages (uid %d to %d): %d already stored; %s",
        len(batch),
        batch[0].uid,
        batch[-1].uid,
        len(duplicates),
        _outcomes(report, before),
    )


def _outcomes(report: CycleReport, before: dict[str, int]) -> str:
    """What a batch became: the report's outcomes less those counted ``before`` it."""
    counts = {k: v - before.get(k, 0) for k, v in sorted(report.outcomes.items())}
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing new"
