"""``claimsbot health``: is the worker reading mail and sending replies, as its last runs
recorded them (the heartbeat is the ``job_run`` table, written by every job). For systemd's
and a container's health checks: exit 0 when healthy, 1 when not, one line saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import select

from bot.config import Settings
from bot.storage import database, runs
from bot.storage.tables import Reply, ReplyStatus

# A poll is late after this many poll intervals (plus a minute for a slow mailbox); one still
# running is fine for this long (a first poll of a large backlog).
LATE_AFTER_POLLS = 3
LONGEST_POLL = timedelta(minutes=30)


@dataclass(frozen=True)
class Health:
    healthy: bool
    why: str
    last_poll: datetime | None
    last_send: datetime | None
    # Approved replies not yet sent: the outbox's backlog.
    backlog: int

    def public(self) -> dict[str, object]:
        """What an unauthenticated caller (``/healthz``) is told: no reason (it may name servers,
        mailboxes or what a job failed on), only whether and when."""
        return {k: v for k, v in self.as_dict().items() if k != "why"}

    def as_dict(self) -> dict[str, object]:
        return {
            "healthy": self.healthy,
            "why": self.why,
            "last_poll": self.last_poll.isoformat() if self.last_poll else None,
            "last_send": self.last_send.isoformat() if self.last_send else None,
            "backlog": self.backlog,
        }


def check(settings: Settings, engine: Engine, *, now: datetime) -> Health:
    runs.ensure_tables(engine)
    with database.session_scope(engine) as session:
        jobs = runs.last_runs(session)
        waiting = select(func.count()).select_from(Reply).where(Reply.status == ReplyStatus.APPROVED)
        backlog = int(session.exec(waiting).one())
        # An approved reply with a failure recorded is being retried: the mail server refuses.
        retrying = session.exec(
            select(Reply.failure).where(Reply.status == ReplyStatus.APPROVED, Reply.failure != "").limit(1)
        ).first()
    poll, outbox = jobs.get("poll"), jobs.get("outbox")
    last_poll = poll.finished_at if poll else None
    last_send = outbox.finished_at if outbox else None
    late = timedelta(seconds=LATE_AFTER_POLLS * settings.poll_seconds + 60)
    polling = (
        poll is not None
        and poll.started_at is not None
        and (last_poll is None or poll.started_at > last_poll)
    )
    if polling and poll is not None and poll.started_at is not None and now - poll.started_at <= LONGEST_POLL:
        since = int((now - poll.started_at).total_seconds())
        return Health(True, f"a poll has been running for {since} s", last_poll, last_send, backlog)
    if poll is None or last_poll is None:
        why = "the worker has not polled the mailbox yet"
    elif not poll.ok:
        why = f"the last poll failed: {poll.detail}"
    elif now - last_poll > late:
        quiet = int((now - last_poll).total_seconds())
        why = f"no poll for {quiet} s (the worker polls every {settings.poll_seconds} s)"
    elif outbox is not None and not outbox.ok:
        why = f"the last send failed: {outbox.detail}"
    elif retrying:
        why = f"replies are waiting to be sent again: {retrying}"
    else:
        return Health(
            True, f"polled {int((now - last_poll).total_seconds())} s ago", last_poll, last_send, backlog
        )
    return Health(False, why, last_poll, last_send, backlog)
