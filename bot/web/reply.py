"""One drafted reply beside the client's email: approve (with edits), reject, escalate. The page
knows the queue view it was opened from (its query string), and after a decision goes on to
the next reply of that view, not back to the top of the queue."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.claims import approval
from bot.storage import finder
from bot.storage.tables import Claim, Reply, ReplyStatus, StaffUser
from bot.web import casefile, show
from bot.web.base import Site
from bot.web.forms import field, found, item_link, path_id, view_query
from bot.web.language import gettext
from bot.web.queue import reply_view

log = logging.getLogger(__name__)


class ReplyPages(Site):
    async def reply_page(self, request: Request) -> Response:
        reply_id = path_id(request)

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            reply = found(session.get(Reply, reply_id))
            claim = found(session.get(Claim, reply.claim_id))
            view, filters, _ = reply_view(request.query_params, user)
            earlier, later = finder.reply_neighbours(session, view, reply_id)
            here = view_query(filters)
            return {
                **casefile.claim_context(session, claim, user, self.settings),
                "user": user,
                "reply": reply,
                "open": reply.status in (ReplyStatus.DRAFT, ReplyStatus.SECOND_APPROVAL),
                "may_approve": approval.may_approve(user, reply),
                "preview": show.preview(reply, self.settings),
                "amount": show.money(reply.amount, reply.currency),
                "diff": show.edit_diff(reply),
                "here": here,
                "previous": item_link("replies", earlier, here),
                "next": item_link("replies", later, here),
                "queue": "/?" + here if here else "/",
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
                message = gettext(
                    "Reply %(id)d: first approval recorded; a manager (not you) gives the second."
                )
            else:
                message = gettext("Reply %(id)d approved: it is sent at the next outbox run.")
            return message % {"id": reply_id}, _then(session, user, form, reply_id)

        return await self.act(request, work)

    async def reject(self, request: Request) -> Response:
        reply_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Reply, reply_id))
            approval.reject(session, user, reply_id, reason=field(form, "reason"))
            message = gettext("Reply %(id)d rejected: it will not be sent.") % {"id": reply_id}
            return message, _then(session, user, form, reply_id)

        return await self.act(request, work)

    async def escalate_reply(self, request: Request) -> Response:
        reply_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            reply = found(session.get(Reply, reply_id))
            claim = approval.escalate(session, user, reply.claim_id, reason=field(form, "reason"))
            message = gettext("Claim %(reference)s escalated.") % {"reference": claim.reference}
            seen = view_query(dict(parse_qsl(field(form, "from"))))
            return message, item_link("replies", reply_id, seen) or "/"

        return await self.act(request, work)


def _then(session: Session, user: StaffUser, form: FormData, reply_id: int) -> str:
    """Where a decision on ``reply_id`` leads: the next reply of the view it was opened from
    (the form's ``from``), or that view's queue when there is none."""
    view, filters, _ = reply_view(dict(parse_qsl(field(form, "from"))), user)
    _, later = finder.reply_neighbours(session, view, reply_id)
    here = view_query(filters)
    return item_link("replies", later, here) or ("/?" + here if here else "/")
