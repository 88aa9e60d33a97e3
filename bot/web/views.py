"""The claims view (by state and language, a page at a time, with counts per state) and the
search every page carries: a reference, account, order or deal number, email address or name
lands on its claim, or lists the claims it names."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.stages.extract import LANGUAGES
from bot.storage import finder
from bot.storage.tables import StaffUser, State
from bot.web.base import Site
from bot.web.forms import page_key

STATES = tuple(s.value for s in State)


class ViewPages(Site):
    async def claims_view(self, request: Request) -> Response:
        params = request.query_params
        state = params.get("state", "") if params.get("state", "") in STATES else ""
        language = params.get("language", "") if params.get("language", "") in LANGUAGES else ""
        before = page_key(params.get("before", ""))

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            page = finder.claims_page(session, state=state, language=language, before=before)
            return {"user": user, "page": page, "counts": finder.counts_by_state(session)}

        context = await self.as_staff(request, load)
        filters = {"state": state, "language": language}
        page = context["page"]
        later = (
            None
            if page.next_before is None
            else "/claims?" + urlencode({**filters, "before": page.next_before})
        )
        context.update(filters=filters, states=STATES, languages=LANGUAGES, later=later)
        return self.page(request, "claims.html", context)

    async def search(self, request: Request) -> Response:
        query = request.query_params.get("q", "")

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            return {"user": user, "found": list(finder.search(session, query))}

        context = await self.as_staff(request, load)
        found = context["found"]
        if len(found) == 1:
            return RedirectResponse(f"/claims/{found[0].id}", status_code=303)
        context.update(q=query)
        return self.page(request, "search.html", context)
