"""One claim as a case file, and the moves staff make on it. The page knows the claims view it
was opened from (its query string): j and k walk that view, and after a move that closes the
claim the page goes on to the next claim of the view, not back to the top."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.claims import approval, casework
from bot.storage import finder
from bot.storage.tables import Claim, StaffUser
from bot.web import casefile
from bot.web.base import Site
from bot.web.forms import field, found, item_link, letter_note, local_path, path_id, view_query
from bot.web.language import gettext
from bot.web.views import claim_view

log = logging.getLogger(__name__)


class ClaimPages(Site):
    async def claim_page(self, request: Request) -> Response:
        claim_id = path_id(request)

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            claim = found(session.get(Claim, claim_id))
            view, filters = claim_view(request.query_params, user)
            earlier, later = finder.claim_neighbours(session, view, claim_id)
            here = view_query(filters)
            return {
                **casefile.claim_context(session, claim, user, self.settings),
                "user": user,
                "here": here,
                "previous": item_link("claims", earlier, here),
                "next": item_link("claims", later, here),
                "queue": "/claims?" + here if here else "/claims",
            }

        return self.page(request, "claim.html", await self.as_staff(request, load))

    async def escalate_claim(self, request: Request) -> Response:
        claim_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Claim, claim_id))
            claim = approval.escalate(session, user, claim_id, reason=field(form, "reason"))
            message = gettext("Claim %(reference)s escalated.") % {"reference": claim.reference}
            return message, _then(session, user, form, claim_id)

        return await self.act(request, work)

    async def reject_claim(self, request: Request) -> Response:
        claim_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Claim, claim_id))
            _confirmed(form, "rejecting a claim")
            reason = field(form, "reason")
            letter = approval.reject_claim(session, self.settings, user, claim_id, reason=reason)
            return gettext("Claim rejected.") + " " + letter_note(letter), _then(
                session, user, form, claim_id
            )

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
            message = gettext("Claim settled.") + " " + letter_note(letter)
            return message, _then(session, user, form, claim_id)

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
            message = gettext("Final response written.") + " " + letter_note(letter)
            return message, _then(session, user, form, claim_id)

        return await self.act(request, work)

    async def assign(self, request: Request) -> Response:
        claim_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Claim, claim_id))
            claim = casework.assign(session, user, claim_id, to=field(form, "to"))
            if claim.owner:
                message = gettext("%(reference)s is now %(name)s's.") % {
                    "reference": claim.reference,
                    "name": claim.owner,
                }
            else:
                message = gettext("%(reference)s has no owner now.") % {"reference": claim.reference}
            return message, _back(form, claim_id)

        return await self.act(request, work)

    async def add_note(self, request: Request) -> Response:
        claim_id = path_id(request)

        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            found(session.get(Claim, claim_id))
            casework.note(session, user, claim_id, text=field(form, "text"))
            return gettext("Note added (staff only)."), _back(form, claim_id)

        return await self.act(request, work)


def _then(session: Session, user: StaffUser, form: FormData, claim_id: int) -> str:
    """After a move: the next claim of the view the page was opened from (the form's ``from``),
    or this claim again when it was opened from no view."""
    seen = field(form, "from")
    if not seen:
        return f"/claims/{claim_id}"
    view, filters = claim_view(dict(parse_qsl(seen)), user)
    _, later = finder.claim_neighbours(session, view, claim_id)
    here = view_query(filters)
    return item_link("claims", later, here) or ("/claims?" + here if here else "/claims")


def _back(form: FormData, claim_id: int) -> str:
    back = local_path(field(form, "back"))
    return back if back != "/" else f"/claims/{claim_id}"


def _confirmed(form: FormData, action: str) -> None:
    """A destructive action is done only with its box ticked (the page requires it too)."""
    if form.get("confirm") != "yes":
        raise approval.NotAllowed(f"{action} needs its confirmation box ticked; nothing was changed")
