"""Quarantined mail for staff: the list with each reason, the raw message shown as text (never
rendered), and releasing it into the pipeline once or discarding it, with who and why."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot import pipeline
from bot.claims import approval
from bot.storage import intake, store
from bot.storage.tables import InboundMessage, MessageStatus, StaffUser
from bot.web.base import Site
from bot.web.forms import field, found, path_id
from bot.web.language import gettext

# Enough of a raw message to judge it; the rest is said to be cut.
SHOWN_BYTES = 200_000


class QuarantinePages(Site):
    async def quarantine(self, request: Request) -> Response:
        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            return {"user": user, "held": list(store.quarantined(session))}

        return self.page(request, "quarantine.html", await self.as_staff(request, load))

    async def quarantined(self, request: Request) -> Response:
        message_id = path_id(request)

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            message = found(session.get(InboundMessage, message_id))
            raw = intake.stored_bytes(message)
            return {
                "user": user,
                "message": message,
                "raw": raw[:SHOWN_BYTES].decode("utf-8", "replace"),
                "cut": len(raw) > SHOWN_BYTES,
                "size": len(raw),
                "held": message.status == MessageStatus.QUARANTINED,
                "may_decide": approval.rank(user.role) >= approval.rank("supervisor"),
            }

        return self.page(request, "quarantined.html", await self.as_staff(request, load))

    async def release(self, request: Request) -> Response:
        message_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            message = self._held(session, user, message_id, "release a quarantined message")
            done = pipeline.release(session, self.settings, message, by=user.name)
            if done.status == MessageStatus.QUARANTINED:
                return (
                    gettext("Message #%(id)d is still unreadable: %(reason)s")
                    % {"id": message_id, "reason": done.reason},
                    f"/quarantine/{message_id}",
                )
            target = f"/claims/{done.claim_id}" if done.claim_id else f"/quarantine/{message_id}"
            went = gettext("Message #%(id)d went through the pipeline: %(status)s.")
            return went % {"id": message_id, "status": gettext(str(done.status))}, target

        return await self.act(request, work)

    async def discard(self, request: Request) -> Response:
        message_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            why = field(form, "reason")
            if not why:
                raise approval.NotAllowed("discarding a message needs the reason; nothing was changed")
            message = self._held(session, user, message_id, "discard a quarantined message")
            intake.discard(message, by=user.name, why=why)
            return gettext("Message #%(id)d discarded.") % {"id": message_id}, "/quarantine"

        return await self.act(request, work)

    def _held(self, session: Session, user: StaffUser, message_id: int, action: str) -> InboundMessage:
        approval.require(user, "supervisor", action)
        message = found(session.get(InboundMessage, message_id))
        if message.status != MessageStatus.QUARANTINED:
            raise approval.NotAllowed(
                f"message #{message_id} is {message.status}, not quarantined: nothing was changed"
            )
        return message
