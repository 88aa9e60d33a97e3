"""``claimsbot status``: is the worker reading mail, and how much is waiting for people.

Read from the database only (no mail server is contacted), so it answers while the worker runs
and tells whether it has been running: the last poll is what the ``poll`` job recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import Engine, func
from sqlmodel import select

from bot.config import Settings
from bot.reports import digest
from bot.stages import attachments
from bot.storage import backlog, database, runs
from bot.storage.tables import Reply, ReplyStatus


@dataclass(frozen=True)
class Status:
    now: datetime
    jobs: dict[str, runs.JobRun]
    replies: dict[str, int]
    figures: digest.Digest
    last_digest: runs.DigestRun | None
    # Whether screenshots can be read (Tesseract and its models), as attachments reports it.
    ocr: str = ""
    # The shared intake on PostgreSQL: messages fetched and waiting, and of them being read.
    intake: tuple[int, int] | None = None


def gather(settings: Settings, engine: Engine, *, now: datetime) -> Status:
    runs.ensure_tables(engine)
    sharing = backlog.in_use(settings, engine)
    if sharing:
        backlog.ensure(engine)
    deadline = settings.deadlines
    with database.session_scope(engine) as session:
        counts = dict(session.exec(select(Reply.status, func.count()).group_by(Reply.status)).all())
        figures = digest.gather(
            session,
            since=now,
            now=now,
            rules=deadline.rules,
            holidays=deadline.holidays,
            tz=deadline.tz,
            warn_days=deadline.warn_days,
            days=1,
        )
        return Status(
            now=now,
            jobs=runs.last_runs(session),
            replies={s.value: int(counts.get(s.value, 0)) for s in ReplyStatus},
            figures=figures,
            last_digest=runs.last_digest(session),
            ocr=attachments.ocr_state(),
            intake=backlog.count(session) if sharing else None,
        )


def _ago(moment: datetime | None, now: datetime, tz: tzinfo) -> str:
    if moment is None:
        return "never"
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M:%S %Z} ({_age(now - moment)} ago)"


def _age(value: timedelta) -> str:
    seconds = max(0, int(value.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    hours = seconds // 3600
    return f"{hours // 24} d {hours % 24} h" if hours >= 48 else f"{hours} h"


def lines(status: Status, tz: tzinfo) -> list[str]:
    now, figures = status.now, status.figures
    poll = status.jobs.get("poll")
    polled = _ago(poll.finished_at if poll else None, now, tz)
    if poll is not None and not poll.ok:
        polled += f", failed: {poll.detail}"
    out = [f"last poll:        {polled}"]
    if status.intake is not None:
        waiting, taken = status.intake
        out.append(f"shared intake:    {waiting} messages fetched and waiting, {taken} of them being read")
    for name in ("outbox", "reminders", "deadlines", "digest"):
        run = status.jobs.get(name)
        if run is not None:
            state = "ok" if run.ok else f"failed: {run.detail}"
            out.append(f"last {name + ':':<12} {_ago(run.finished_at, now, tz)}, {state}")
    waiting = ", ".join(f"{name} {count}" for name, count in status.replies.items() if count) or "none"
    out.append(f"replies:          {waiting}")
    oldest = figures.oldest_draft
    out.append(
        "oldest draft:     "
        + (
            f"reply {oldest.reply_id} ({oldest.kind}, {oldest.reference}), {_age(oldest.age)} old"
            if oldest
            else "none waiting"
        )
    )
    out.append(f"quarantine:       {figures.quarantined} messages")
    states = ", ".join(f"{state} {count}" for state, count in figures.by_state.items() if count) or "none"
    out.append(f"claims:           {states}")
    out.append(
        f"deadlines:        {figures.overdue} overdue, {figures.due_soon} due within {figures.warn_days} days"
    )
    sent = status.last_digest
    out.append(f"last digest:      {_ago(sent.sent_at or sent.period_end if sent else None, now, tz)}")
    out.append(f"screenshot OCR:   {status.ocr or 'unknown'}")
    return out
