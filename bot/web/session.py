"""Logging in and out, and the health check a load balancer asks."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from bot.claims import approval
from bot.web import guard
from bot.web.base import Site
from bot.web.forms import field, local_path

log = logging.getLogger(__name__)


class SessionPages(Site):
    async def healthz(self, request: Request) -> Response:
        def ping() -> None:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except Exception as exc:
            log.error("health check: the database does not answer: %s", exc.__class__.__name__)
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    async def login_form(self, request: Request) -> Response:
        if guard.signed_in_name(request, self.settings):
            return RedirectResponse("/", status_code=303)
        context = {"next": local_path(request.query_params.get("next")), "name": ""}
        return self.page(request, "login.html", context)

    async def login(self, request: Request) -> Response:
        form = await guard.checked_form(request)
        name, password = field(form, "name").strip(), field(form, "password")
        target = local_path(field(form, "next"))

        def check(session: Session) -> str | None:
            user = approval.authenticate(session, name=name, password=password)
            return user.name if user else None

        found = await self.db(check) if name and password else None
        if found is None:
            log.info("login refused for %r", name[:120])
            context = {"next": target, "name": name, "error": "Wrong name or password."}
            return self.page(request, "login.html", context, status=401)
        guard.sign_in(request, found)
        log.info("%s logged in", found)
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        await guard.checked_form(request)
        request.session.clear()
        guard.flash(request, "You are logged out.")
        return RedirectResponse("/login", status_code=303)
