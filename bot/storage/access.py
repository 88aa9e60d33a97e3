"""Staff logins kept in the database: the sessions the approval page's cookie points to, and the
failed logins that throttle and lock an account.

Both live in the database, not in a process's memory, because several web processes share one
database: a logout in one must end the session in all, and a guesser must not get a fresh
allowance from each. A session is known here only by the SHA-256 of its id; the id itself is
in the person's cookie and nowhere else, so whoever reads this table cannot log in with it.

The limits (documented in ``docs/security.md``):

- ``ACCOUNT_LIMIT`` failed logins for one account name within ``THROTTLE_WINDOW``, or
  ``ADDRESS_LIMIT`` from one client address, and further attempts are refused without the
  password being checked, until the window has passed;
- ``LOCKOUT_FAILURES`` within ``LOCKOUT_WINDOW`` lock the account name until a manager
  unlocks it (the page, or ``claimsbot users unlock NAME``).

Names are counted as typed, whether or not such a person exists, so that a refusal tells a
guesser nothing about which names are real.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, String, delete, func, text, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, Session, SQLModel, select

from bot.storage.locks import key
from bot.storage.tables import utcnow
from bot.storage.types import UTCDateTime

ACCOUNT_LIMIT = 10
ADDRESS_LIMIT = 30
THROTTLE_WINDOW = timedelta(minutes=1)
LOCKOUT_FAILURES = 20
LOCKOUT_WINDOW = timedelta(minutes=15)
# 32 random bytes: 256 bits, far beyond guessing.
SESSION_ID_BYTES = 32
# Ended and expired sessions stay this long, for the record of who was logged in when.
KEEP_SESSIONS = timedelta(days=30)
# ``last_seen_at`` is written at most this often, not on every request.
SEEN_EVERY = timedelta(minutes=1)
NAME_LENGTH = 120
ADDRESS_LENGTH = 64
AGENT_LENGTH = 200


def _when(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


def _text(length: int, **kw: Any) -> Any:
    return Field(default="", sa_column=Column(String(length), nullable=False, default="", **kw))


class StaffSession(SQLModel, table=True):
    """One login to the approval page; the cookie carries its id, this row only the id's hash."""

    __tablename__ = "staff_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    user_name: str = _text(NAME_LENGTH, index=True)
    created_at: datetime = _when(nullable=False)
    last_seen_at: datetime = _when(nullable=False)
    revoked_at: datetime | None = _when(nullable=True)
    user_agent: str = _text(AGENT_LENGTH)
    address: str = _text(ADDRESS_LENGTH)


class LoginFailure(SQLModel, table=True):
    """A login refused for a wrong name or password (never the password itself), counted for the limits."""

    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(nullable=False, index=True)
    account: str = _text(NAME_LENGTH, index=True)
    address: str = _text(ADDRESS_LENGTH, index=True)


class LoginLock(SQLModel, table=True):
    """An account name locked after too many failures; it stays locked until a manager lifts it."""

    __tablename__ = "login_lock"

    id: int | None = Field(default=None, primary_key=True)
    account: str = _text(NAME_LENGTH, index=True)
    locked_at: datetime = _when(nullable=False)
    failures: int = 0
    lifted_at: datetime | None = _when(nullable=True)
    lifted_by: str = _text(NAME_LENGTH)


class StaffChange(SQLModel, table=True):
    """A change to a person's access: added, disabled, enabled, role changed, password reset."""

    __tablename__ = "staff_change"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(nullable=False)
    user_name: str = _text(NAME_LENGTH, index=True)
    change: str = _text(40)
    detail: str = _text(200)
    by: str = _text(NAME_LENGTH)


def record_change(session: Session, *, user: str, change: str, detail: str, by: str) -> None:
    session.add(
        StaffChange(at=utcnow(), user_name=user, change=change, detail=detail[:200], by=by[:NAME_LENGTH])
    )


def changes(session: Session, *, user: str | None = None) -> Sequence[StaffChange]:
    stmt = select(StaffChange).order_by(StaffChange.id)  # type: ignore[arg-type]
    if user is not None:
        stmt = stmt.where(StaffChange.user_name == user)
    return session.exec(stmt).all()


def latest_changes(session: Session, *, limit: int) -> Sequence[StaffChange]:
    stmt = select(StaffChange).order_by(StaffChange.id.desc()).limit(limit)  # type: ignore[union-attr]
    return session.exec(stmt).all()


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(
    session: Session, *, user: str, user_agent: str = "", address: str = "", now: datetime | None = None
) -> str:
    """Start a session for ``user`` and return its new random id, which only the cookie keeps."""
    now = now or utcnow()
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    session.add(
        StaffSession(
            token_hash=_digest(session_id),
            user_name=user,
            created_at=now,
            last_seen_at=now,
            user_agent=user_agent[:AGENT_LENGTH],
            address=address[:ADDRESS_LENGTH],
        )
    )
    session.exec(delete(StaffSession).where(StaffSession.created_at < now - KEEP_SESSIONS))  # type: ignore[call-overload, arg-type]
    session.flush()
    return session_id


def live_session(session: Session, session_id: str, *, hours: int) -> StaffSession | None:
    """The session this id names, unless it was revoked or started more than ``hours`` ago."""
    row = session.exec(select(StaffSession).where(StaffSession.token_hash == _digest(session_id))).first()
    now = utcnow()
    if row is None or row.revoked_at is not None or now - row.created_at > timedelta(hours=hours):
        return None
    if now - row.last_seen_at > SEEN_EVERY:
        row.last_seen_at = now
        session.add(row)
    return row


def revoke(session: Session, session_id: str) -> None:
    """End one session at once (a logout, or the session a new login replaces)."""
    session.exec(  # type: ignore[call-overload]
        update(StaffSession)
        .where(StaffSession.token_hash == _digest(session_id), StaffSession.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=utcnow())
    )


def revoke_all(session: Session, user: str) -> int:
    """End every session of ``user`` (log out everywhere, a deactivated account); returns how many."""
    result = session.exec(  # type: ignore[call-overload]
        update(StaffSession)
        .where(StaffSession.user_name == user, StaffSession.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


def refusal(session: Session, *, account: str, address: str, now: datetime | None = None) -> str:
    """Why a login must be refused before its password is checked: ``"locked"``, ``"account"`` or
    ``"address"`` (too many recent failures), or ``""`` when the password may be checked.

    Attempts for one name, and from one address, are taken one at a time, so that concurrent
    guesses, in one process or several, cannot all slip under the limit together.
    """
    now, account, address = now or utcnow(), account[:NAME_LENGTH], address[:ADDRESS_LENGTH]
    _serialise(session, account, address)
    # Old failures count for nothing; this write also takes SQLite's write lock first thing.
    session.exec(delete(LoginFailure).where(LoginFailure.at < now - LOCKOUT_WINDOW))  # type: ignore[call-overload, arg-type]
    if lock_of(session, account) is not None:
        return "locked"
    since = now - THROTTLE_WINDOW
    if _failures(session, LoginFailure.account == account, since) >= ACCOUNT_LIMIT:
        return "account"
    if _failures(session, LoginFailure.address == address, since) >= ADDRESS_LIMIT:
        return "address"
    return ""


def record_failure(session: Session, *, account: str, address: str, now: datetime | None = None) -> int:
    """Count a failed login and lock the account at the limit; returns its failures in ``LOCKOUT_WINDOW``."""
    now, account, address = now or utcnow(), account[:NAME_LENGTH], address[:ADDRESS_LENGTH]
    session.add(LoginFailure(at=now, account=account, address=address))
    session.flush()
    recent = _failures(session, LoginFailure.account == account, now - LOCKOUT_WINDOW)
    if recent >= LOCKOUT_FAILURES and lock_of(session, account) is None:
        session.add(LoginLock(account=account, locked_at=now, failures=recent))
        session.flush()
    return recent


def lock_of(session: Session, account: str) -> LoginLock | None:
    stmt = select(LoginLock).where(LoginLock.account == account[:NAME_LENGTH], LoginLock.lifted_at.is_(None))  # type: ignore[union-attr]
    return session.exec(stmt).first()


def locks(session: Session) -> Sequence[LoginLock]:
    """The account names locked now, most recent first."""
    stmt = select(LoginLock).where(LoginLock.lifted_at.is_(None)).order_by(LoginLock.locked_at.desc())  # type: ignore[union-attr, attr-defined]
    return session.exec(stmt).all()


def unlock(session: Session, account: str, *, by: str) -> bool:
    """Lift the lock on ``account`` and forget its failures, so the person can log in at once.

    Returns whether there was anything to lift: a lock, or failures that throttle the name.
    """
    account = account[:NAME_LENGTH]
    lifted = session.exec(  # type: ignore[call-overload]
        update(LoginLock)
        .where(LoginLock.account == account, LoginLock.lifted_at.is_(None))  # type: ignore[union-attr]
        .values(lifted_at=utcnow(), lifted_by=by[:NAME_LENGTH])
    )
    forgotten = session.exec(delete(LoginFailure).where(LoginFailure.account == account))  # type: ignore[call-overload, arg-type]
    return bool(lifted.rowcount or forgotten.rowcount)


def _failures(session: Session, condition: ColumnElement[bool] | bool, since: datetime) -> int:
    stmt = select(func.count()).select_from(LoginFailure).where(condition, LoginFailure.at >= since)
    return int(session.exec(stmt).one())


def _serialise(session: Session, account: str, address: str) -> None:
    """On PostgreSQL, wait for any other login to this name or from this address (till commit)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in (f"login-account:{account}", f"login-address:{address}"):
        session.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=key(name)))  # type: ignore[call-overload]
