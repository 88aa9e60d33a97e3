"""The shared intake on PostgreSQL: messages the mailbox's reader has fetched and every worker
may take through the stages.

The reader adds a batch's raw bytes here in the commit that moves the folder's UID cursor past
them, so a fetched message is in the database before anything else is done with it. A worker
*takes* rows (marks them with its run, committed), then *locks* them (``FOR UPDATE SKIP
LOCKED``) in the transaction that stores what they became and deletes them: a worker killed at
any moment leaves them either taken and unlocked or as they were. A worker holds a lock of its
own (``taker``) while it takes; rows whose taker no longer holds it (killed: PostgreSQL drops
the lock with its connection), or took them over ``[intake] retake_after_seconds`` ago (stuck),
are retaken one at a time, each retake counted.

Two rules keep the work in the order it arrived where the order matters. Takings are one at a
time (a transaction-level advisory lock), and a row is not taken while an earlier row from the
same sender is taken by anyone: a client's second email is read after the first is stored.
What a batch names (its senders, accounts and orders) is locked for its transaction
(``name_locks``), so two workers never judge the same order at once.

Operational state, like ``bot.storage.runs``: its own table, created when first needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    exists,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased
from sqlmodel import Session

from bot.config import Settings
from bot.storage import locks
from bot.storage.tables import utcnow
from bot.storage.types import UTCDateTime

METADATA = MetaData()

backlog = Table(
    "intake_backlog",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("folder", String(255), nullable=False),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("uid", BigInteger, nullable=False),
    Column("sender", String(320), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("added_at", UTCDateTime(), nullable=False),
    Column("taken_by", String(255), nullable=True),
    Column("taken_at", UTCDateTime(), nullable=True),
    # Times taken again, alone, after its taker died or stalled with it.
    Column("retakes", Integer, nullable=False, default=0),
    # Found already stored: kept until the reader has archived it on the server.
    Column("duplicate", Boolean, nullable=False, default=False),
    UniqueConstraint("folder", "uidvalidity", "uid", name="uq_intake_backlog_uid"),
    Index("ix_intake_backlog_sender", "sender", "id"),
)
TAKING_LOCK = "intake:take"
_ready: set[str] = set()


@dataclass(frozen=True)
class Waiting:
    """A row of the backlog as a worker took it. ``retaken``: taken alone, because whoever took
    it before died or stalled with it (``retakes`` times so far, this one included)."""

    id: int
    folder: str
    uidvalidity: int
    uid: int
    raw: bytes
    retakes: int
    retaken: bool = False


def in_use(settings: Settings, engine: Engine) -> bool:
    """Whether stage work goes through the shared intake: on PostgreSQL, unless turned off."""
    return engine.dialect.name == "postgresql" and settings.intake.share_stage_work


def ensure(engine: Engine) -> None:
    """Create the table if missing (once per process and database)."""
    url = engine.url.render_as_string(hide_password=True)
    if url not in _ready:
        locks.create_missing(engine, METADATA)
        _ready.add(url)


def add(
    session: Session, *, folder: str, uidvalidity: int, messages: Iterable[tuple[int, bytes, str]]
) -> None:
    """Add fetched messages (UID, bytes, sender); one already added for that UID is left alone."""
    now = utcnow()
    rows = [
        {
            "folder": folder,
            "uidvalidity": uidvalidity,
            "uid": uid,
            "sender": sender[:320],
            "raw": raw,
            "added_at": now,
            "retakes": 0,
            "duplicate": False,
        }
        for uid, raw, sender in messages
    ]
    if rows:
        session.execute(pg_insert(backlog).on_conflict_do_nothing(constraint="uq_intake_backlog_uid"), rows)


def taker(by: str) -> str:
    """The lock a worker holds while it may have rows taken: its death frees them at once."""
    return f"intake:taker:{by}"


def take(
    engine: Engine, *, by: str, limit: int, retake_after: timedelta, retake: bool = True
) -> list[Waiting]:
    """Mark rows as taken by run ``by``, committed: one left unfinished by someone else (alone,
    unless ``retake`` is false), or else up to ``limit`` fresh rows in the order they came, none
    whose sender has an earlier row taken; [] when there is nothing to take. A row is unfinished
    when its taker no longer holds ``taker(...)`` (it died) or took it more than
    ``retake_after`` ago (it is stuck)."""
    now = utcnow()
    with Session(engine) as session, session.begin():
        session.execute(select(func.pg_advisory_xact_lock(locks.key(TAKING_LOCK))))
        left = _unfinished(session, now - retake_after) if retake else []
        retaken = bool(left)
        if not retaken:
            earlier = aliased(backlog)
            blocked = exists().where(
                earlier.c.sender == backlog.c.sender,
                earlier.c.id < backlog.c.id,
                earlier.c.taken_at.is_not(None),
                earlier.c.duplicate.is_(False),
            )
            left = (
                session.execute(
                    select(backlog.c.id)
                    .where(backlog.c.taken_at.is_(None), ~blocked)
                    .order_by(backlog.c.id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
        if not left:
            return []
        taken = session.execute(
            update(backlog)
            .where(backlog.c.id.in_(left))
            .values(taken_by=by, taken_at=now, retakes=backlog.c.retakes + int(retaken))
            .returning(
                backlog.c.id,
                backlog.c.folder,
                backlog.c.uidvalidity,
                backlog.c.uid,
                backlog.c.raw,
                backlog.c.retakes,
            )
        ).all()
    return sorted((Waiting(*row, retaken=retaken) for row in taken), key=lambda w: w.id)


def _unfinished(session: Session, taken_before: datetime) -> list[int]:
    """The first row whose taker died or stalled with it, locked, if any."""
    waiting = backlog.c.duplicate.is_(False)
    takers = {t for t in session.execute(select(backlog.c.taken_by).where(waiting).distinct()).scalars() if t}
    alive = locks.held(session.connection(), {taker(t) for t in takers})
    dead = [t for t in takers if taker(t) not in alive]
    found = session.execute(
        select(backlog.c.id)
        .where(waiting, (backlog.c.taken_at < taken_before) | backlog.c.taken_by.in_(dead))
        .order_by(backlog.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return list(found.scalars().all())


def lock_mine(session: Session, ids: list[int], *, by: str) -> set[int]:
    """Lock, for the caller's transaction, those of ``ids`` still taken by ``by`` (one retaken
    by another worker meanwhile is theirs now)."""
    found = session.execute(
        select(backlog.c.id)
        .where(backlog.c.id.in_(ids), backlog.c.taken_by == by)
        .with_for_update(skip_locked=True)
    )
    return set(found.scalars().all())


def done(session: Session, ids: Iterable[int], *, duplicates: Iterable[int] = ()) -> None:
    """Delete rows whose outcome the caller's transaction stores; ``duplicates``, found already
    stored, are kept for the reader to archive (``duplicates``) and then deleted."""
    dropped, kept = set(ids) - set(duplicates), list(duplicates)
    if dropped:
        session.execute(delete(backlog).where(backlog.c.id.in_(dropped)))
    if kept:
        session.execute(update(backlog).where(backlog.c.id.in_(kept)).values(duplicate=True))


def duplicates(session: Session, *, folder: str, uidvalidity: int) -> list[tuple[int, int]]:
    """(row id, UID) of the messages of a folder found already stored, not yet archived."""
    found = session.execute(
        select(backlog.c.id, backlog.c.uid).where(
            backlog.c.duplicate.is_(True), backlog.c.folder == folder, backlog.c.uidvalidity == uidvalidity
        )
    )
    return [(int(row_id), int(uid)) for row_id, uid in found]


def uids(session: Session, *, folder: str, uidvalidity: int) -> set[int]:
    """The UIDs of a folder the backlog holds (waiting, taken, or found already stored)."""
    found = session.execute(
        select(backlog.c.uid).where(backlog.c.folder == folder, backlog.c.uidvalidity == uidvalidity)
    )
    return {int(uid) for uid in found.scalars()}


def give_back(engine: Engine, taken: list[Waiting], *, by: str) -> None:
    """Untake rows not finished for a reason that is not theirs (the database, the templates):
    they are taken afresh later, and a retake given back does not count against them."""
    if not taken:
        return
    with Session(engine) as session, session.begin():
        for retaken in (False, True):
            ids = [w.id for w in taken if w.retaken is retaken]
            if ids:
                session.execute(
                    update(backlog)
                    .where(backlog.c.id.in_(ids), backlog.c.taken_by == by)
                    .values(taken_by=None, taken_at=None, retakes=backlog.c.retakes - int(retaken))
                )


def name_locks(session: Session, names: Iterable[str]) -> None:
    """Hold a transaction-level advisory lock on each name, all in one statement and in one
    order (so that two transactions locking overlapping names cannot deadlock)."""
    keys = sorted({locks.key(name) for name in names})
    if keys:
        session.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(:keys) AS k ORDER BY 1) AS s"
            ).bindparams(bindparam("keys", value=keys))
        )


def count(session: Session) -> tuple[int, int]:
    """Rows waiting, and of them taken by a worker."""
    waiting = backlog.c.duplicate.is_(False)
    total, taken = session.execute(select(func.count(), func.count(backlog.c.taken_at)).where(waiting)).one()
    return int(total), int(taken)
