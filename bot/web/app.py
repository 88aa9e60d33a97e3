"""The staff approval page: an ASGI app over ``bot.approval``, rendered on the server, no JavaScript.

Every page but ``/login`` and ``/healthz`` needs a logged-in person; every POST needs the
session's CSRF token and runs in its own transaction, so a refused action changes nothing. The
rules (who may approve what, which moves a claim may make) live in ``bot.approval`` and
``bot.lifecycle``; this module only turns their answers and refusals into pages.

The session cookie is not marked Secure, so that the page works on a plain-HTTP address inside
the broker's network: in production put it behind a TLS reverse proxy or a VPN, never directly
on the internet.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Engine, text
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import approval, store
from bot.config import Settings
from bot.draft import KINDS, TemplateProblem
from bot.extract import LANGUAGES
from bot.lifecycle import IllegalTransition
from bot.tables import Claim, Reply, ReplyStatus, StaffUser, utcnow
from bot.web import guard, show

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
T = TypeVar("T")
MAX_ID = 2**31 - 1
# Browsers drop tabs and newlines from URLs and read a backslash as a slash, so "/\t/evil.example"
# would leave the site: only plain path and query characters are allowed.
_LOCAL_PATH = re.compile(r"/[A-Za-z0-9/_.~%=&?+-]*")
HEADERS = {
    # The draft preview is an iframe with srcdoc: it inherits this policy, so no script runs and
    # no remote image loads even if a draft carried one.
    "content-security-policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
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


class Pages:
    """The endpoints, holding the settings and engine they were created with."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        env = Environment(
            loader=FileSystemLoader(HERE / "pages"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["when"] = _when
        self.templates = Jinja2Templates(env=env)

    # Plumbing shared by the endpoints.

    def page(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        values = {
            "csrf": guard.csrf_token(request),
            "flashes": guard.take_flashes(request),
            "me": request.session.get("user"),
            **context,
        }
        return self.templates.TemplateResponse(request, name, values, status_code=status)

    async def db(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction on a worker thread (SQLAlchemy is synchronous)."""

        def run() -> T:
            with store.session_scope(self.engine) as session:
                return work(session)

        return await run_in_threadpool(run)

    async def as_staff(self, request: Request, work: Callable[[Session, StaffUser], T]) -> T:
        name = guard.signed_in_name(request, self.settings)
        if name is None:
            raise guard.SignedOut()
        return await self.db(lambda session: work(session, guard.staff_user(session, name)))

    async def act(
        self, request: Request, work: Callable[[Session, StaffUser, FormData], tuple[str, str]]
    ) -> Response:
        """A POST: token first, then the person, then ``work``, whose message is shown after the redirect."""
        form = await guard.checked_form(request)
        message, target = await self.as_staff(request, lambda session, user: work(session, user, form))
        guard.flash(request, message)
        return RedirectResponse(target, status_code=303)

    # Pages.

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
        context = {"next": _local(request.query_params.get("next")), "name": ""}
        return self.page(request, "login.html", context)

    async def login(self, request: Request) -> Response:
        form = await guard.checked_form(request)
        name, password = _field(form, "name").strip(), _field(form, "password")
        target = _local(_field(form, "next"))

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

    async def queue(self, request: Request) -> Response:
        params = request.query_params
        kind = params.get("kind", "") if params.get("kind", "") in KINDS else ""
        language = params.get("language", "") if params.get("language", "") in LANGUAGES else ""
        minimum, problem = _amount(params.get("min_amount", ""))

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            now = utcnow()
            waiting = approval.queue(session, kind=kind, language=language, min_amount=minimum)
            trouble = approval.queue(session, statuses=(ReplyStatus.FAILED, ReplyStatus.UNCERTAIN))
            return {
                "user": user,
                "rows": show.queue_rows(session, waiting, now, self.settings.deadlines),
                "trouble": show.queue_rows(session, list(trouble), now, self.settings.deadlines),
            }

        context = await self.as_staff(request, load)
        filters = {"kind": kind, "language": language, "min_amount": params.get("min_amount", "")}
        context.update(filters=filters, kinds=KINDS, languages=LANGUAGES, problem=problem)
        return self.page(request, "queue.html", context)

    async def reply_page(self, request: Request) -> Response:
        reply_id = _path_id(request)

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            reply = _found(session.get(Reply, reply_id))
            claim = _found(session.get(Claim, reply.claim_id))
            return {
                **show.claim_context(session, claim, user, self.settings.deadlines),
                "user": user,
                "reply": reply,
                "open": reply.status in (ReplyStatus.DRAFT, ReplyStatus.SECOND_APPROVAL),
                "may_approve": approval.may_approve(user, reply),
                "preview": show.preview(reply),
                "amount": show.money(reply.amount, reply.currency),
            }

        return self.page(request, "reply.html", await self.as_staff(request, load))

    async def claim_page(self, request: Request) -> Response:
        claim_id = _path_id(request)

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            claim = _found(session.get(Claim, claim_id))
            return {**show.claim_context(session, claim, user, self.settings.deadlines), "user": user}

        return self.page(request, "claim.html", await self.as_staff(request, load))

    # Actions.

    async def approve(self, request: Request) -> Response:
        reply_id = _path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            _found(session.get(Reply, reply_id))
            text = form.get("text")
            reply = approval.approve(
                session, self.settings, user, reply_id, text=text if isinstance(text, str) else None
            )
            if reply.status == ReplyStatus.SECOND_APPROVAL:
                return (
                    f"Reply {reply_id}: first approval recorded; a manager (not you) gives the second.",
                    "/",
                )
            return f"Reply {reply_id} approved: it is sent at the next outbox run.", "/"

        return await self.act(request, work)

    async def reject(self, request: Request) -> Response:
        reply_id = _path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            _found(session.get(Reply, reply_id))
            approval.reject(session, user, reply_id, reason=_field(form, "reason"))
            return f"Reply {reply_id} rejected: it will not be sent.", "/"

        return await self.act(request, work)

    async def escalate_reply(self, request: Request) -> Response:
        reply_id = _path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            reply = _found(session.get(Reply, reply_id))
            claim = approval.escalate(session, user, reply.claim_id, reason=_field(form, "reason"))
            return f"Claim {claim.reference} escalated.", f"/replies/{reply_id}"

        return await self.act(request, work)

    async def bulk_approve(self, request: Request) -> Response:
        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            chosen = [_int(value) for value in form.getlist("reply")]
            if not chosen:
                return "Nothing approved: select the acknowledgements to approve first.", "/"
            done = approval.bulk_approve(session, self.settings, user, chosen)
            return f"{len(done)} acknowledgements approved: " + ", ".join(str(r.id) for r in done) + ".", "/"

        return await self.act(request, work)

    async def escalate_claim(self, request: Request) -> Response:
        claim_id = _path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            _found(session.get(Claim, claim_id))
            claim = approval.escalate(session, user, claim_id, reason=_field(form, "reason"))
            return f"Claim {claim.reference} escalated.", f"/claims/{claim_id}"

        return await self.act(request, work)

    async def reject_claim(self, request: Request) -> Response:
        claim_id = _path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            _found(session.get(Claim, claim_id))
            reason = _field(form, "reason")
            letter = approval.reject_claim(session, self.settings, user, claim_id, reason=reason)
            return "Claim rejected. " + _letter(letter), f"/claims/{claim_id}"

        return await self.act(request, work)

    async def settle(self, request: Request) -> Response:
        claim_id = _path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            _found(session.get(Claim, claim_id))
            letter = approval.settle(session, self.settings, user, claim_id, note=_field(form, "note"))
            return "Claim settled. " + _letter(letter), f"/claims/{claim_id}"

        return await self.act(request, work)

    async def final_response(self, request: Request) -> Response:
        claim_id = _path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            _found(session.get(Claim, claim_id))
            letter = approval.final_response(
                session,
                self.settings,
                user,
                claim_id,
                outcome=_field(form, "outcome"),
                reasons=_field(form, "reasons"),
            )
            return "Final response written. " + _letter(letter), f"/claims/{claim_id}"

        return await self.act(request, work)

    # Refusals and failures.

    async def refused(self, request: Request, exc: Exception) -> Response:
        context = {"title": "Not allowed", "message": str(exc), "back": _back(request)}
        return self.page(request, "problem.html", context, status=403)

    async def forged(self, request: Request, exc: Exception) -> Response:
        message = (
            "This form did not carry this page's security token (it may have expired, or come from "
            "another site). Nothing was changed: reload the page and try again."
        )
        context = {"title": "Form refused", "message": message, "back": _back(request)}
        return self.page(request, "problem.html", context, status=403)

    async def signed_out(self, request: Request, exc: Exception) -> Response:
        request.session.pop("user", None)
        request.session.pop("login_at", None)
        return RedirectResponse(f"/login?next={quote(_back(request))}", status_code=303)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {404: "Not found", 405: "Method not allowed", 400: "Bad request"}
        title = titles.get(exc.status_code, "Error")
        context = {"title": title, "message": exc.detail if exc.status_code == 400 else title, "back": "/"}
        return self.page(request, "problem.html", context, status=exc.status_code)

    async def template_problem(self, request: Request, exc: Exception) -> Response:
        log.error("a reply template failed: %s", exc)
        message = f"The letter for this action cannot be drafted, so nothing was changed: {exc}"
        context = {"title": "Reply template problem", "message": message, "back": _back(request)}
        return self.page(request, "problem.html", context, status=500)

    async def failed(self, request: Request, exc: Exception) -> Response:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.__class__.__name__)
        message = "Something went wrong on our side; nothing was changed. The error is logged."
        context = {"title": "Server error", "message": message, "back": "/"}
        return self.page(request, "problem.html", context, status=500)


def create_app(settings: Settings, engine: Engine) -> Starlette:
    pages = Pages(settings, engine)
    routes = [
        Route("/healthz", pages.healthz),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/", pages.queue),
        Route("/bulk-approve", pages.bulk_approve, methods=["POST"]),
        Route("/replies/{id:int}", pages.reply_page),
        Route("/replies/{id:int}/approve", pages.approve, methods=["POST"]),
        Route("/replies/{id:int}/reject", pages.reject, methods=["POST"]),
        Route("/replies/{id:int}/escalate", pages.escalate_reply, methods=["POST"]),
        Route("/claims/{id:int}", pages.claim_page),
        Route("/claims/{id:int}/escalate", pages.escalate_claim, methods=["POST"]),
        Route("/claims/{id:int}/reject", pages.reject_claim, methods=["POST"]),
        Route("/claims/{id:int}/settle", pages.settle, methods=["POST"]),
        Route("/claims/{id:int}/final-response", pages.final_response, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=guard.session_secret(settings),
            session_cookie=guard.SESSION_COOKIE,
            max_age=settings.web.session_hours * 3600,
            same_site="strict",
            https_only=False,
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


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise HTTPException(400, f"{str(value)[:40]!r} is not a reply number") from None
    if not 0 < number <= MAX_ID:
        raise HTTPException(400, f"{number} is not a reply number")
    return number


def _path_id(request: Request) -> int:
    number = int(request.path_params["id"])
    if not 0 < number <= MAX_ID:
        raise HTTPException(404)
    return number


def _found(row: T | None) -> T:
    if row is None:
        raise HTTPException(404)
    return row


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else ""


def _amount(value: str) -> tuple[Decimal | None, str]:
    if not value.strip():
        return None, ""
    try:
        amount = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        return None, f"The minimum amount {value[:40]!r} is not a number; it was ignored."
    return amount, ""


def _local(target: str | None) -> str:
    """Only a path on this site is a place to return to after login, never another site."""
    if not target or not _LOCAL_PATH.fullmatch(target) or target.startswith("//"):
        return "/"
    return target


def _back(request: Request) -> str:
    """The page a form was posted from: its action minus the verb, or the queue."""
    path = request.url.path
    if request.method == "GET":
        return f"{path}?{request.url.query}" if request.url.query else path
    if path == "/login":
        return path
    return path.rsplit("/", 1)[0] if path.count("/") >= 3 else "/"


def _letter(reply: Reply | None) -> str:
    if reply is None:
        return "No letter was drafted: this address had its day's share of replies; write by hand."
    return f"The letter to the client is drafted as reply {reply.id}, waiting for approval."
