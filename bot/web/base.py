"""What every page shares: the settings and engine, the page renderer, one transaction per
request on a worker thread, the signed-in person, and the pages shown for refusals and failures."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from bot.config import Settings, parse_timezone
from bot.storage import database
from bot.storage.tables import StaffUser
from bot.web import guard, language
from bot.web.forms import back, when
from bot.web.language import gettext

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
T = TypeVar("T")


class _Nobody:
    """What ``as_staff`` gets back when no live session names a person."""


_NOBODY = _Nobody()


class Site:
    """The settings and engine the pages were created with, and the plumbing they share."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        env = Environment(
            loader=FileSystemLoader(HERE / "pages"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        env.install_gettext_callables(language.gettext, language.ngettext, newstyle=True)  # type: ignore[attr-defined]
        env.filters["when"] = when
        self.templates = Jinja2Templates(env=env)

    def page(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        speaks, zone = self.reader(request)
        values = {
            "csrf": guard.csrf_token(request),
            "flashes": guard.take_flashes(request),
            "me": request.session.get("user"),
            "lang": speaks,
            "zone": zone,
            **context,
        }
        return self.templates.TemplateResponse(request, name, values, status_code=status)

    def reader(self, request: Request) -> tuple[str, tzinfo]:
        """The language and time zone of the person reading, as ``as_staff`` found them (their
        choice, else the browser's language and ``[deadlines] timezone``), now in force."""
        found = getattr(request.state, "reader", None)
        if found is None:
            browser = language.negotiate(request.headers.get("accept-language", ""))
            found = (browser, self.settings.deadlines.tz)
            request.state.reader = found
        language.use(found[0])
        return found

    def remember_reader(self, request: Request, user: StaffUser) -> None:
        speaks = user.language or language.negotiate(request.headers.get("accept-language", ""))
        zone = self.settings.deadlines.tz
        if user.timezone:
            try:
                zone = parse_timezone(user.timezone)
            except ValueError:
                log.warning("%s has an unknown time zone %r; using the default", user.name, user.timezone)
        request.state.reader = (speaks, zone)
        language.use(speaks)

    async def db(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction on a worker thread (SQLAlchemy is synchronous)."""

        def run() -> T:
            with database.session_scope(self.engine) as session:
                return work(session)

        return await run_in_threadpool(run)

    async def as_staff(self, request: Request, work: Callable[[Session, StaffUser], T]) -> T:
        """``work`` as the person whose live session the cookie names, in the same transaction.

        Nobody signed in is answered outside the transaction, so that ending a deactivated
        account's sessions is committed, not rolled back with the refusal.
        """
        given = guard.session_id(request)

        def run(session: Session) -> T | _Nobody:
            user = guard.signed_in(session, given, self.settings)
            if user is None:
                return _NOBODY
            self.remember_reader(request, user)
            return work(session, user)

        done = await self.db(run)
        if isinstance(done, _Nobody):
            raise guard.SignedOut()
        return done

    async def act(
        self, request: Request, work: Callable[[Session, StaffUser, FormData], tuple[str, str]]
    ) -> Response:
        """A POST: token first, then the person, then ``work``, whose message is shown after the redirect."""
        form = await guard.checked_form(request)
        message, target = await self.as_staff(request, lambda session, user: work(session, user, form))
        guard.flash(request, message)
        return RedirectResponse(target, status_code=303)

    async def refused(self, request: Request, exc: Exception) -> Response:
        self.reader(request)
        context = {"title": gettext("Not allowed"), "message": str(exc), "back": back(request)}
        return self.page(request, "problem.html", context, status=403)

    async def forged(self, request: Request, exc: Exception) -> Response:
        self.reader(request)
        message = gettext(
            "This form did not carry this page's security token (it may have expired, or come from "
            "another site). Nothing was changed: reload the page and try again."
        )
        context = {"title": gettext("Form refused"), "message": message, "back": back(request)}
        return self.page(request, "problem.html", context, status=403)

    async def signed_out(self, request: Request, exc: Exception) -> Response:
        guard.sign_out(request)
        return RedirectResponse(f"/login?next={quote(back(request))}", status_code=303)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        self.reader(request)
        titles = {404: gettext("Not found"), 405: gettext("Method not allowed"), 400: gettext("Bad request")}
        title = titles.get(exc.status_code, gettext("Error"))
        context = {"title": title, "message": exc.detail if exc.status_code == 400 else title, "back": "/"}
        return self.page(request, "problem.html", context, status=exc.status_code)

    async def template_problem(self, request: Request, exc: Exception) -> Response:
        log.error("a reply template failed: %s", exc)
        self.reader(request)
        message = gettext("The letter for this action cannot be drafted, so nothing was changed: %(problem)s")
        title = gettext("Reply template problem")
        context = {"title": title, "message": message % {"problem": exc}, "back": back(request)}
        return self.page(request, "problem.html", context, status=500)

    async def failed(self, request: Request, exc: Exception) -> Response:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.__class__.__name__)
        self.reader(request)
        message = gettext("Something went wrong on our side; nothing was changed. The error is logged.")
        context = {"title": gettext("Server error"), "message": message, "back": "/"}
        return self.page(request, "problem.html", context, status=500)
