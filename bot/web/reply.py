"""One drafted reply beside the client's email: approve (with edits), reject, escalate."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.claims import approval
from bot.storage.tables import Claim, Reply, ReplyStatus, StaffUser
from bot.web import show
from bot.web.base import Site
from bot.web.forms import field, found, path_id

log = logging.getLogger(__name__)


class ReplyPages(Site):
    async def reply_page(self, request: Request) -> Response:
        reply_id = path_id(request)

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            reply = found(session.get(Reply, reply_id))
            claim = found(session.get(Claim, reply.claim_id))
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

    async def approve(self, request: Request) -> Response:
        reply_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Reply, reply_id))
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
        reply_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Reply, reply_id))
            approval.reject(session, user, reply_id, reason=field(form, "reason"))
            return f"Reply {reply_id} rejected: it will not be sent.", "/"

        return await self.act(request, work)

    async def escalate_reply(self, request: Request) -> Response:
        reply_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            reply = found(session.get(Reply, reply_id))
            claim = approval.escalate(session, user, reply.claim_id, reason=field(form, "reason"))
            return f"Claim {claim.reference} escalated.", f"/replies/{reply_id}"

        return await self.act(request, work)
