"""The claims view (by state, language, owner and account, newest or oldest first, a page at a
time, with counts per state) and the search every page carries: a reference, account, order or
deal number, email address or name lands on its claim, or lists the claims it names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.stages.extract import LANGUAGES
from bot.storage import finder
from bot.storage.tables import StaffUser, State
from bot.storage.types import hundredths
from bot.web.base import Site
from bot.web.forms import amount_filter, page_key, view_query

STATES = tuple(s.value for s in State)
_ACCOUNT_LENGTH = 20


def claim_view(params: Mapping[str, str], user: StaffUser) -> tuple[finder.ClaimFilter, dict[str, str]]:
    """The view a claims URL names (``state``, ``language``, ``owner``: ``me``, ``none`` or a
    name; ``account``; ``min_amount``: an offer stating at least that; ``sort=oldest``), for this
    person, and its parameters as links carry them."""
    state = params.get("state", "") if params.get("state", "") in STATES else ""
    language = params.get("language", "") if params.get("language", "") in LANGUAGES else ""
    owner_param = params.get("owner", "")[:120]
    owner = {"": None, "me": user.name, "none": ""}.get(owner_param, owner_param)
    account = params.get("account", "").strip()
    account = account if account.isdigit() and len(account) <= _ACCOUNT_LENGTH else ""
    oldest = params.get("sort", "") == "oldest"
    minimum, _ = amount_filter(params.get("min_amount", ""))
    view = finder.ClaimFilter(
        state=state,
        language=language,
        owner=owner,
        account=account,
        oldest_first=oldest,
        min_minor=None if minimum is None else hundredths(minimum),
    )
    filters = {
        "state": state,
        "language": language,
        "owner": owner_param,
        "account": account,
        "sort": "oldest" if oldest else "",
        "min_amount": params.get("min_amount", "")[:40] if minimum is not None else "",
    }
    return view, filters


class ViewPages(Site):
    async def claims_view(self, request: Request) -> Response:
        before = page_key(request.query_params.get("before", ""))

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            view, filters = claim_view(request.query_params, user)
            page = finder.claims_page(session, view, before=before)
            return {"user": user, "page": page, "counts": finder.counts_by_state(session), "filters": filters}

        context = await self.as_staff(request, load)
        filters, page = context["filters"], context["page"]
        later = None if page.next_key is None else "/claims?" + view_query(filters, before=page.next_key)
        context.update(states=STATES, languages=LANGUAGES, later=later, here=view_query(filters))
        return self.page(request, "claims.html", context)

    async def search(self, request: Request) -> Response:
        q = request.query_params.get("q", "")

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            return {"user": user, "found": list(finder.search(session, q))}

        context = await self.as_staff(request, load)
        found = context["found"]
        if len(found) == 1:
            return RedirectResponse(f"/claims/{found[0].id}", status_code=303)
        context.update(q=q)
        return self.page(request, "search.html", context)
