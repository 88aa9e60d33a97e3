"""The long-running worker: cycles on a schedule, woken early by IMAP IDLE, backing off on failure.

``claimsbot run`` runs the jobs of ``bot.mail.jobs`` in APScheduler; the ``poll`` job calls
``Worker.cycle``, which reads the mailbox (``poll_mailbox``; the ``outbox`` job sends). Where the
server supports IDLE, a watcher thread keeps one IDLE connection open (re-issued every
``idle_seconds``, well inside the 29-minute limit of RFC 2177) and asks for a poll as soon as new
mail arrives. Any connection error is retried with capped exponential backoff; imapclient never
reconnects by itself, and an ``idle_check`` that returns nothing long before its timeout means
the server has gone, so that is treated as a dead connection too. ``run --once`` calls
``run_cycle`` (read, then send) once, without the scheduler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from imapclient.exceptions import IMAPClientError
from sqlalchemy import Engine

from bot.config import Settings
from bot.mail.cycle import CycleFailed, CycleReport, read_if_free, run_cycle
from bot.mail.mailbox import Mailbox, MailboxError
from bot.mail.outbox import OutboxError
from bot.stages.draft import TemplateProblem
from bot.storage.database import StoreError

log = logging.getLogger(__name__)
RETRYABLE = (CycleFailed, MailboxError, OutboxError, StoreError, OSError, IMAPClientError)
CHECK_EVERY = 5.0


def describe(report: CycleReport) -> str:
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items())) or "none"
    held = (
        f", {report.failed} refused, {report.uncertain} need a person"
        if report.failed or report.uncertain
        else ""
    )
    shared = f" ({report.taken} of them taken from the shared intake)" if report.taken else ""
    return (
        f"cycle: {report.fetched} fetched{shared}, {report.duplicates} already stored, "
        f"outcomes: {outcomes}; {report.sent} replies sent{held}"
        + (f"; {report.queued} added to the shared intake" if report.queued else "")
    )


class Backoff:
    """1, 2, 4 ... seconds after consecutive failures, never more than ``cap``."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.failures = 0

    def failed(self) -> float:
        self.failures += 1
        return min(self.cap, 2.0 ** (self.failures - 1))

    def succeeded(self) -> None:
        self.failures = 0


def poll_mailbox(settings: Settings, engine: Engine) -> CycleReport:
    """Read new mail and process it, without sending (the ``outbox`` job sends)."""
    report = CycleReport()
    try:
        read_if_free(settings, engine, report)
    except (OSError, IMAPClientError) as exc:
        raise MailboxError(f"IMAP {settings.imap.host}:{settings.imap.port}: {exc}") from exc
    return report


class Worker:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        work: Callable[[Settings, Engine], CycleReport] = run_cycle,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.work = work
        # What went wrong in the latest cycle; empty when it worked (``claimsbot status`` shows it).
        self.problem = ""
        self.stop = threading.Event()
        self._backoff = Backoff(settings.imap.max_backoff_seconds)
        self._not_before = 0.0
        self._lock = threading.Lock()
        self._again = threading.Event()

    def request(self) -> None:
        """Ask for a cycle as soon as possible; one already running will run once more."""
        self._again.set()

    def cycle(self) -> None:
        """One cycle, unless a recent failure asks us to wait; never raises."""
        for _ in range(10):
            self._again.clear()
            self._cycle_once()
            if not self._again.is_set() or self.stop.is_set():
                return

    def _cycle_once(self) -> None:
        if self.stop.is_set() or time.monotonic() < self._not_before:
            return
        with self._lock:
            try:
                report = self.work(self.settings, self.engine)
            except TemplateProblem as exc:
                log.error("%s", exc)
                self.problem = str(exc)
                self._wait_after_failure()
                return
            except RETRYABLE as exc:
                delay = self._wait_after_failure()
                self.problem = str(exc)
                log.warning("%s; retrying in %.0f s", exc, delay)
                return
            except Exception as exc:
                delay = self._wait_after_failure()
                self.problem = f"failed on our side ({exc.__class__.__name__})"
                log.error("cycle failed on our side (%s); retrying in %.0f s", exc.__class__.__name__, delay)
                log.debug("details", exc_info=True)
                return
        self._backoff.succeeded()
        self._not_before = 0.0
        self.problem = ""
        log.info("%s", describe(report))
        for problem in report.problems:
            log.warning("%s", problem)

    def _wait_after_failure(self) -> float:
        delay = self._backoff.failed()
        self._not_before = time.monotonic() + delay
        return delay

    def watch_for_mail(self, wake: Callable[[], None]) -> None:
        """Keep an IDLE connection and call ``wake`` when mail arrives; returns if IDLE is unsupported."""
        backoff = Backoff(self.settings.imap.max_backoff_seconds)
        while not self.stop.is_set():
            try:
                with Mailbox(self.settings.imap) as mailbox:
                    if b"IDLE" not in mailbox.client.capabilities():
                        log.info(
                            "the server does not offer IDLE; polling every %ss", self.settings.poll_seconds
                        )
                        return
                    self._idle(mailbox, wake, backoff)
            except (MailboxError, OSError, IMAPClientError) as exc:
                # Whatever the server said may have been news: a cycle costs little.
                wake()
                delay = backoff.failed()
                log.warning("IDLE connection lost (%s); reconnecting in %.0f s", exc, delay)
                self.stop.wait(delay)

    def _idle(self, mailbox: Mailbox, wake: Callable[[], None], backoff: Backoff) -> None:
        client = mailbox.client
        while not self.stop.is_set():
            client.idle()
            renew_at = time.monotonic() + self.settings.imap.idle_seconds
            news = False
            try:
                while not self.stop.is_set() and time.monotonic() < renew_at:
                    asked = time.monotonic()
                    responses = client.idle_check(timeout=CHECK_EVERY)
                    if not responses and time.monotonic() - asked < CHECK_EVERY / 2:
                        raise MailboxError("the server closed the IDLE connection")
                    if any(r[1] in (b"EXISTS", b"RECENT") for r in responses if len(r) > 1):
                        news = True
                        break
            finally:
                late = client.idle_done()
            # A full IDLE period (or real news) means the connection works: forget past failures.
            backoff.succeeded()
            if news or any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in late[1]):
                wake()
