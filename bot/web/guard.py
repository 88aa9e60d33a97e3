"""Who is asking, and whether a form came from one of our own pages.

The session is a signed cookie (Starlette's ``SessionMiddleware``). It holds the person's name,
when they logged in, the CSRF token and one-shot messages; never a password, and never the
role: that is read from the database on every request, so a changed role or a deactivated
account counts at once.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import time

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request

from bot.config import Settings
from bot.storage import store
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


def sign_in(request: Request, name: str) -> None:
    """A fresh session for the person: nothing from before the login survives, not even the token."""
    request.session.clear()
    request.session.update({"user": name, "login_at": time.time(), "csrf": secrets.token_urlsafe(32)})


def signed_in_name(request: Request, settings: Settings) -> str | None:
    """The name in a session that has not outlived ``session_hours`` since the login itself."""
    name, at = request.session.get("user"), request.session.get("login_at")
    if not isinstance(name, str) or not isinstance(at, int | float):
        return None
    if time.time() - at > settings.web.session_hours * 3600:
        return None
    return name


def staff_user(session: Session, name: str | None) -> StaffUser:
    user = store.staff_user(session, name=name) if name else None
    if user is None or not user.active:
        raise SignedOut()
    return user


def flash(request: Request, text: str, level: str = "info") -> None:
    request.session["flash"] = [*request.session.get("flash", []), [level, text]]


def take_flashes(request: Request) -> list[list[str]]:
    return list(request.session.pop("flash", []))
