"""Logging in and out, and the health check a load balancer asks.

A login is checked against the limits of ``bot.storage.access`` first: a name or an address with
too many recent failures, or a locked name, is refused before any password is looked at, so the
refusal costs no Argon2 hash and tells nothing about the password. Every failure and every
lockout is logged, with the name when it is a staff member's (an unknown "name" may be a
password typed in the wrong box) and never with the password.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from bot.claims import approval
from bot.reports import health
from bot.storage import access, store
from bot.storage.tables import StaffUser, utcnow
from bot.web import guard
from bot.web.base import Site
from bot.web.forms import field, local_path
from bot.web.language import N_, gettext

log = logging.getLogger(__name__)
WINDOW = f"{access.LOCKOUT_WINDOW.total_seconds() / 60:g} minutes"
WRONG = N_("Wrong name or password.")
REFUSED = {
    "account": N_("Too many failed logins for this name: wait a minute, then try again."),
    "address": N_("Too many failed logins from your address: wait a minute, then try again."),
    "locked": N_("This name is locked after repeated failed logins: ask a manager to unlock it."),
}


class SessionPages(Site):
    async def healthz(self, request: Request) -> Response:
        """The page's health (its database answers) for a load balancer; the worker's heartbeat
        is told too, but does not fail the page: staff can still approve with the worker down."""

        def ping() -> dict[str, object]:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return health.check(self.settings, self.engine, now=utcnow()).public()

        try:
            worker = await run_in_threadpool(ping)
        except Exception as exc:
            log.error("health check: the database does not answer: %s", exc.__class__.__name__)
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", "worker": worker})

    async def login_form(self, request: Request) -> Response:
        given = guard.session_id(request)
        if given:
            if await self.db(lambda session: guard.signed_in(session, given, self.settings)):
                return RedirectResponse("/", status_code=303)
            guard.sign_out(request)
        context = {"next": local_path(request.query_params.get("next")), "name": ""}
        return self.page(request, "login.html", context)

    async def login(self, request: Request) -> Response:
        form = await guard.checked_form(request)
        name, password = field(form, "name").strip(), field(form, "password")
        target = local_path(field(form, "next"))
        address = request.client.host if request.client else ""
        agent = request.headers.get("user-agent", "")
        earlier = guard.session_id(request)

        def attempt(session: Session) -> tuple[str, str, str]:
            """(name, new session id, "") after a good password; else ("", "", why it was refused)."""
            refused = access.refusal(session, account=name, address=address)
            if refused:
                log.warning(
                    "login refused unchecked for %s from %s: %s", _shown(session, name), address, refused
                )
                return "", "", refused
            user = approval.authenticate(session, name=name, password=password)
            if user is None:
                failures = access.record_failure(session, account=name, address=address)
                who = _shown(session, name)
                log.warning("login failed for %s from %s (%d failures in %s)", who, address, failures, WINDOW)
                if failures >= access.LOCKOUT_FAILURES:
                    log.warning(
                        "login locked for %s after %d failures: a manager can unlock it", who, failures
                    )
                return "", "", "wrong"
            if earlier:
                access.revoke(session, earlier)  # the id from before the login is never used again
            return (
                user.name,
                access.open_session(session, user=user.name, user_agent=agent, address=address),
                "",
            )

        found, new_id, refused = await self.db(attempt) if name and password else ("", "", "wrong")
        if not found:
            context = {"next": target, "name": name, "error": gettext(REFUSED.get(refused, WRONG))}
            return self.page(request, "login.html", context, status=401 if refused == "wrong" else 429)
        guard.sign_in(request, found, new_id)
        log.info("%s logged in from %s", found, address)
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        await guard.checked_form(request)
        given = guard.session_id(request)
        if given:
            await self.db(lambda session: access.revoke(session, given))
        request.session.clear()
        self.reader(request)
        guard.flash(request, gettext("You are logged out."))
        return RedirectResponse("/login", status_code=303)

    async def logout_everywhere(self, request: Request) -> Response:
        """End every session of the person, on every device: for a lost laptop or a shared screen."""
        await guard.checked_form(request)

        def end_all(session: Session, user: StaffUser) -> tuple[str, int]:
            return user.name, access.revoke_all(session, user.name)

        name, ended = await self.as_staff(request, end_all)
        log.info("%s logged out everywhere: %d sessions ended", name, ended)
        request.session.clear()
        self.reader(request)
        guard.flash(request, gettext("You are logged out everywhere: %(n)d sessions ended.") % {"n": ended})
        return RedirectResponse("/login", status_code=303)


def _shown(session: Session, name: str) -> str:
    """The name for the log if it is a staff member's; anything else may be a mistyped password."""
    return repr(name) if store.staff_user(session, name=name) is not None else "an unknown name"
