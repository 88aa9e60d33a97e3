"""The staff approval page: an ASGI app over ``bot.claims.approval``, rendered on the server, no JavaScript.

Every page but ``/login`` and ``/healthz`` needs a logged-in person; every POST needs the
session's CSRF token and runs in its own transaction, so a refused action changes nothing. The
rules (who may approve what, which moves a claim may make) live in ``bot.claims.approval`` and
``bot.claims.lifecycle``; this module only turns their answers and refusals into pages.

The session cookie is marked Secure, so a browser sends it only over HTTPS: serve the page
behind TLS (a reverse proxy that terminates it, or uvicorn with a certificate). Only the demo,
on plain http://127.0.0.1, turns it off (``secure=False``): not every client sends a Secure
cookie back over plain HTTP, even on loopback. The cookie only names a session; whether it still
counts is decided by the session table on every request (``bot.web.guard``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.claims import approval
from bot.claims.lifecycle import IllegalTransition
from bot.config import Settings
from bot.stages.draft import TemplateProblem
from bot.web import guard
from bot.web.claim import ClaimPages
from bot.web.logins import LoginPages
from bot.web.people import PeoplePages
from bot.web.quarantine import QuarantinePages
from bot.web.queue import QueuePages
from bot.web.reply import ReplyPages
from bot.web.session import SessionPages
from bot.web.views import ViewPages

HERE = Path(__file__).parent
requests_log = logging.getLogger("claimsbot.web.requests")
HEADERS = {
    # The draft preview is an iframe with srcdoc and an empty sandbox: no script runs in it and
    # no remote image loads even if a draft carried one. The page's own script is one file from
    # /static (the keyboard shortcuts); no inline script runs anywhere.
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Adds ``HEADERS`` to every response: pages hold clients' mail and must not be cached or framed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestLog:
    """One line per request at the default level: method, path, status, milliseconds. The query
    string is left out (a search names clients' emails and accounts); so is who asked (the
    session table records logins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            took = (time.perf_counter() - started) * 1000
            requests_log.info("%s %s %d %.0f ms", scope["method"], scope["path"][:200], status, took)


class Pages(
    SessionPages, QueuePages, ReplyPages, ClaimPages, ViewPages, QuarantinePages, LoginPages, PeoplePages
):
    """Every endpoint, one class per page in its own module (``bot.web.session``, ``queue``,
    ``reply``, ``claim``, ``views``, ``quarantine``, ``logins``, ``people``), all over the same
    ``bot.web.base.Site``."""


class IdConvertor(Convertor[int]):
    """A row id in a path: at most ten digits, so that a path of thousands cannot reach ``int``."""

    regex = "[0-9]{1,10}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


def create_app(settings: Settings, engine: Engine, *, secure: bool = True) -> Starlette:
    """The page; ``secure=False`` drops the cookie's Secure flag, for the demo on 127.0.0.1 only."""
    pages = Pages(settings, engine)
    routes = [
        Route("/healthz", pages.healthz),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/logout-everywhere", pages.logout_everywhere, methods=["POST"]),
        Route("/logins", pages.logins),
        Route("/logins/unlock", pages.unlock, methods=["POST"]),
        Route("/keys", pages.keys),
        Route("/me", pages.me, methods=["GET"]),
        Route("/me", pages.save_me, methods=["POST"]),
        Route("/users", pages.users, methods=["GET"]),
        Route("/users", pages.change_user, methods=["POST"]),
        Route("/", pages.queue),
        Route("/bulk-approve", pages.bulk_approve, methods=["POST"]),
        Route("/bulk-approve/confirm", pages.confirm_bulk, methods=["GET"]),
        Route("/replies/{id:id}", pages.reply_page),
        Route("/replies/{id:id}/approve", pages.approve, methods=["POST"]),
        Route("/replies/{id:id}/reject", pages.reject, methods=["POST"]),
        Route("/replies/{id:id}/escalate", pages.escalate_reply, methods=["POST"]),
        Route("/claims", pages.claims_view),
        Route("/quarantine", pages.quarantine),
        Route("/quarantine/{id:id}", pages.quarantined),
        Route("/quarantine/{id:id}/release", pages.release, methods=["POST"]),
        Route("/quarantine/{id:id}/discard", pages.discard, methods=["POST"]),
        Route("/search", pages.search),
        Route("/claims/{id:id}", pages.claim_page),
        Route("/claims/{id:id}/escalate", pages.escalate_claim, methods=["POST"]),
        Route("/claims/{id:id}/reject", pages.reject_claim, methods=["POST"]),
        Route("/claims/{id:id}/settle", pages.settle, methods=["POST"]),
        Route("/claims/{id:id}/final-response", pages.final_response, methods=["POST"]),
        Route("/claims/{id:id}/assign", pages.assign, methods=["POST"]),
        Route("/claims/{id:id}/notes", pages.add_note, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(RequestLog),
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=guard.session_secret(settings),
            session_cookie=guard.SESSION_COOKIE,
            max_age=settings.web.session_hours * 3600,
            same_site="strict",
            https_only=secure,
        ),
    ]
    handlers = {
        approval.NotAllowed: pages.refused,
        IllegalTransition: pages.refused,
        guard.Forged: pages.forged,
        guard.SignedOut: pages.signed_out,
        HTTPException: pages.http_error,
        TemplateProblem: pages.template_problem,
        Exception: pages.failed,
    }
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)  # type: ignore[arg-type]
