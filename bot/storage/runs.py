"""What the scheduled jobs did: the last run of each (``claimsbot status`` shows the last poll)
and every digest sent, so that a retried digest never goes out twice.

Two small tables, ``job_run`` and ``digest_run``, created by ``ensure_tables`` (idempotent) when
the worker or a command that reads them starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Column, Engine, Integer, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.storage import locks
from bot.storage.tables import utcnow
from bot.storage.types import UTCDateTime

# Kept apart from the claims' schema (``SQLModel.metadata`` and its migrations), like the
# scheduler's own ``apscheduler_jobs``: operational state, created when first needed.
METADATA = MetaData()

job_run = Table(
    "job_run",
    METADATA,
    Column("name", String(64), primary_key=True),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("ok", Boolean, nullable=False, default=True),
    Column("detail", Text, nullable=False, default=""),
)

# One digest: ``key`` names its slot (``scheduled:<UTC time>`` or ``manual:<UTC time>``) and is
# unique, so the slot is claimed before anything is sent. ``sending`` that never became ``sent``
# means the worker stopped mid-send: it is not sent again (it may have arrived).
digest_run = Table(
    "digest_run",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(80), unique=True, nullable=False),
    Column("period_start", UTCDateTime(), nullable=False),
    Column("period_end", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("failure", Text, nullable=False, default=""),
)


@dataclass(frozen=True)
class JobRun:
    name: str
    started_at: datetime | None
    finished_at: datetime | None
    ok: bool
    detail: str


@dataclass(frozen=True)
class DigestRun:
    key: str
    period_start: datetime
    period_end: datetime
    status: str
    sent_at: datetime | None


def ensure_tables(engine: Engine) -> None:
    """Create the two tables if missing; several workers starting together take turns."""
    locks.create_missing(engine, METADATA)


def _upsert(session: Session, name: str, **values: object) -> None:
    """Update the job's row, or add it; a worker that added it meanwhile (its first run on a new
    database, begun at the same moment) leaves it to be updated."""
    changed = update(job_run).where(job_run.c.name == name).values(**values)
    if session.execute(changed).rowcount:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.execute(insert(job_run).values(name=name, **values))
    except IntegrityError:
        session.execute(changed)


def started(session: Session, *, name: str, at: datetime) -> None:
    _upsert(session, name, started_at=at)


def finished(session: Session, *, name: str, ok: bool, detail: str = "") -> None:
    _upsert(session, name, finished_at=utcnow(), ok=ok, detail=detail[:2000])


def last_runs(session: Session) -> dict[str, JobRun]:
    rows = session.execute(select(job_run)).all()
    return {row.name: JobRun(row.name, row.started_at, row.finished_at, row.ok, row.detail) for row in rows}


def last_digest(session: Session) -> DigestRun | None:
    """The latest digest that went out (or may have: stopped while sending)."""
    row = session.execute(
        select(digest_run)
        .where(digest_run.c.status.in_(["sent", "sending"]))
        .order_by(digest_run.c.period_end.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return DigestRun(row.key, row.period_start, row.period_end, row.status, row.sent_at)


def claim_digest(session: Session, *, key: str, period_start: datetime, period_end: datetime) -> int | None:
    """Take a digest slot for sending; None if it was already sent (or is being sent). A slot
    whose last attempt failed before anything was handed to the server is taken again."""
    retried = session.execute(
        update(digest_run)
        .where(digest_run.c.key == key, digest_run.c.status == "failed")
        .values(status="sending", period_start=period_start, failure="")
    )
    if retried.rowcount == 1:  # type: ignore[attr-defined]
        return int(session.execute(select(digest_run.c.id).where(digest_run.c.key == key)).scalar_one())
    try:
        with session.begin_nested():
            result = session.execute(
                insert(digest_run).values(
                    key=key, period_start=period_start, period_end=period_end, status="sending", failure=""
                )
            )
    except IntegrityError:
        return None
    return int(result.inserted_primary_key[0])


def digest_done(session: Session, *, run_id: int, failure: str = "") -> None:
    values = {"status": "failed", "failure": failure} if failure else {"status": "sent", "sent_at": utcnow()}
    session.execute(update(digest_run).where(digest_run.c.id == run_id).values(**values))
