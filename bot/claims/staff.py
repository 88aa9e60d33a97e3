"""The people who work the queue: adding them, their roles, and taking their access away.

Every change is recorded (``access.StaffChange``) with who made it; disabling a person ends
all their sessions at once, so the next request they make finds the login page.
"""

from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher
from sqlmodel import Session, select

from bot.config import parse_timezone
from bot.storage import access, store
from bot.storage.tables import StaffUser, utcnow

ROLES = ("agent", "supervisor", "manager")
HASHER = PasswordHasher()
MIN_PASSWORD = 12
NAME_LENGTH = 120
# The claims view's ``owner=`` takes these as words, not names.
RESERVED_NAMES = frozenset({"me", "none"})


def add_user(session: Session, *, name: str, role: str, password: str, by: str = "") -> StaffUser:
    _check_name(name)
    _check_role(role)
    _check_password(password)
    if store.staff_user(session, name=name) is not None:
        raise ValueError(f"a user named {name!r} already exists")
    user = StaffUser(name=name, role=role, password_hash=HASHER.hash(password), created_at=utcnow())
    session.add(user)
    session.flush()
    access.record_change(session, user=name, change="added", detail=role, by=by or "command line")
    return user


def users(session: Session) -> Sequence[StaffUser]:
    return session.exec(select(StaffUser).order_by(StaffUser.name)).all()  # type: ignore[arg-type]


def set_active(session: Session, *, name: str, active: bool, by: str) -> int:
    """Disable or enable a person; disabling ends their sessions (returns how many ended)."""
    user = _existing(session, name)
    if user.active == active:
        raise ValueError(f"{name!r} is already {'enabled' if active else 'disabled'}")
    user.active = active
    session.add(user)
    ended = 0 if active else access.revoke_all(session, name)
    detail = f"{ended} open sessions ended" if not active else ""
    access.record_change(session, user=name, change="enabled" if active else "disabled", detail=detail, by=by)
    return ended


def reset_password(session: Session, *, name: str, password: str, by: str) -> None:
    """A new password; the sessions opened with the old one end."""
    _check_password(password)
    user = _existing(session, name)
    user.password_hash = HASHER.hash(password)
    session.add(user)
    ended = access.revoke_all(session, name)
    access.record_change(
        session, user=name, change="password reset", detail=f"{ended} open sessions ended", by=by
    )


def set_role(session: Session, *, name: str, role: str, by: str) -> None:
    """A new role, in force at the person's next request (the role is read per request)."""
    _check_role(role)
    user = _existing(session, name)
    if user.role == role:
        raise ValueError(f"{name!r} is already a {role}")
    before, user.role = user.role, role
    session.add(user)
    access.record_change(session, user=name, change="role changed", detail=f"{before} -> {role}", by=by)


def set_preferences(
    session: Session, *, name: str, language: str, timezone: str, languages: Sequence[str]
) -> None:
    """The page's language and time zone for this person ("" for the defaults)."""
    if language and language not in languages:
        raise ValueError(f"unknown language {language!r}; choose one of: {', '.join(languages)}")
    if timezone:
        parse_timezone(timezone)
    user = _existing(session, name)
    user.language, user.timezone = language, timezone.strip()
    session.add(user)


def _existing(session: Session, name: str) -> StaffUser:
    user = store.staff_user(session, name=name)
    if user is None:
        raise ValueError(f"no user named {name!r}")
    return user


def find(session: Session, name: str) -> StaffUser | None:
    return store.staff_user(session, name=name)


def _check_name(name: str) -> None:
    if not name or name != name.strip() or len(name) > NAME_LENGTH or not name.isprintable():
        raise ValueError(f"a user name is 1 to {NAME_LENGTH} printable characters, no spaces around it")
    if name.lower() in RESERVED_NAMES:
        raise ValueError(
            f"{name!r} is a word the claims view uses (owner=me, owner=none); choose another name"
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
