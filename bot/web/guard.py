"""Who is asking, and whether a form came from one of our own pages.

A login is a row in the database (``bot.storage.access.StaffSession``): the authority on who is
logged in, so a logout, "log out everywhere", a deactivated account or ``session_hours`` end it
at once in every web process. The signed cookie (Starlette's ``SessionMiddleware``, Secure,
HttpOnly, SameSite=Strict) carries that session's random id, the name to show, the CSRF token
and one-shot messages; never a password, and never the role: that is read from the database on
every request, so a changed role counts at once.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request

from bot.config import Settings
from bot.storage import access, store
from bot.storage.tables import StaffUser

log = logging.getLogger(__name__)
SESSION_COOKIE = "claimsbot_session"


class Forged(Exception):
    """A POST without the page's CSRF token: it did not come from a form we served."""


class SignedOut(Exception):
    """Nobody is logged in, the login expired or the account was deactivated."""


@functools.cache
def _process_secret() -> str:
    """One random secret per process, so the warning is logged once however many apps start."""
    log.warning("web_secret is not set: using a random one; every login ends when the process restarts")
    return secrets.token_urlsafe(32)


def session_secret(settings: Settings) -> str:
    secret = settings.web_secret.get_secret_value()
    if not secret:
        return _process_secret()
    if len(secret) < 32:
        log.warning("web_secret is shorter than 32 characters: a longer one is harder to guess")
    return secret


def csrf_token(request: Request) -> str:
    """The session's synchronizer token; a visitor who is not logged in gets one too, for the login form."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> FormData:
    form = await request.form()
    sent = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not expected:
        raise Forged()
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forged()
    return form


def session_id(request: Request) -> str | None:
    value = request.session.get("sid")
    return value if isinstance(value, str) and value else None


def sign_in(request: Request, name: str, new_session_id: str) -> None:
    """A fresh cookie for the new session: nothing from before the login survives, not even the token."""
    request.session.clear()
    request.session.update({"sid": new_session_id, "user": name, "csrf": secrets.token_urlsafe(32)})


def sign_out(request: Request) -> None:
    """Forget the login in the cookie (the session row is revoked by the caller, or already dead)."""
    request.session.pop("sid", None)
    request.session.pop("user", None)


def signed_in(session: Session, given: str | None, settings: Settings) -> StaffUser | None:
    """The active person whose live session ``given`` names; a deactivated account's sessions end here."""
    row = access.live_session(session, given, hours=settings.web.session_hours) if given else None
    if row is None:
        return None
    user = store.staff_user(session, name=row.user_name)
    if user is None or not user.active:
        ended = access.revoke_all(session, row.user_name)
        log.warning("%s is deactivated: %d sessions ended", row.user_name, ended)
        return None
    return user


def flash(request: Request, text: str, level: str = "info") -> None:
    request.session["flash"] = [*request.session.get("flash", []), [level, text]]


def take_flashes(request: Request) -> list[list[str]]:
    return list(request.session.pop("flash", []))
