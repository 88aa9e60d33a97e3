"""One claim with its orders and history, and the moves staff make on it."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.claims import approval
from bot.storage.tables import Claim, StaffUser
from bot.web import show
from bot.web.base import Site
from bot.web.forms import field, found, letter_note, path_id

log = logging.getLogger(__name__)


class ClaimPages(Site):
    async def claim_page(self, request: Request) -> Response:
        claim_id = path_id(request)

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            claim = found(session.get(Claim, claim_id))
            return {**show.claim_context(session, claim, user, self.settings.deadlines), "user": user}

        return self.page(request, "claim.html", await self.as_staff(request, load))

    async def escalate_claim(self, request: Request) -> Response:
        claim_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Claim, claim_id))
            claim = approval.escalate(session, user, claim_id, reason=field(form, "reason"))
            return f"Claim {claim.reference} escalated.", f"/claims/{claim_id}"

        return await self.act(request, work)

    async def reject_claim(self, request: Request) -> Response:
        claim_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Claim, claim_id))
            _confirmed(form, "rejecting a claim")
            reason = field(form, "reason")
            letter = approval.reject_claim(session, self.settings, user, claim_id, reason=reason)
            return "Claim rejected. " + letter_note(letter), f"/claims/{claim_id}"

        return await self.act(request, work)

    async def settle(self, request: Request) -> Response:
        claim_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Claim, claim_id))
            _confirmed(form, "settling a claim")
            if not field(form, "note"):
                raise approval.NotAllowed(
                    "settling a claim needs the note that tells the client what was done"
                )
            letter = approval.settle(session, self.settings, user, claim_id, note=field(form, "note"))
            return "Claim settled. " + letter_note(letter), f"/claims/{claim_id}"

        return await self.act(request, work)

    async def final_response(self, request: Request) -> Response:
        claim_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Claim, claim_id))
            letter = approval.final_response(
                session,
                self.settings,
                user,
                claim_id,
                outcome=field(form, "outcome"),
                reasons=field(form, "reasons"),
            )
            return "Final response written. " + letter_note(letter), f"/claims/{claim_id}"

        return await self.act(request, work)


def _confirmed(form: FormData, action: str) -> None:
    """A destructive action is done only with its box ticked (the page requires it too)."""
    if form.get("confirm") != "yes":
        raise approval.NotAllowed(f"{action} needs its confirmation box ticked; nothing was changed")
