"""The queue of drafts waiting for a decision, and approving acknowledgements in bulk."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.claims import approval
from bot.stages.draft import KINDS
from bot.stages.extract import LANGUAGES
from bot.storage import finder
from bot.storage.tables import ReplyStatus, StaffUser, hundredths, utcnow
from bot.web import show
from bot.web.base import Site
from bot.web.forms import amount_filter, page_key, reply_number

log = logging.getLogger(__name__)
QUEUE_PAGE = 100


class QueuePages(Site):
    async def queue(self, request: Request) -> Response:
        params = request.query_params
        kind = params.get("kind", "") if params.get("kind", "") in KINDS else ""
        language = params.get("language", "") if params.get("language", "") in LANGUAGES else ""
        minimum, problem = amount_filter(params.get("min_amount", ""))
        everyone = params.get("view", "") == "all"
        after = page_key(params.get("after", ""))

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            now = utcnow()
            view = finder.ReplyFilter(kind=kind, language=language)
            if not everyone:
                view = approval.waiting_for(user, kind=kind, language=language)
            if minimum is not None:
                view = replace(view, min_minor=hundredths(minimum))
            page = finder.replies_page(session, view, after=after, size=QUEUE_PAGE)
            trouble = approval.queue(session, statuses=(ReplyStatus.FAILED, ReplyStatus.UNCERTAIN))
            return {
                "user": user,
                "rows": show.queue_rows(session, list(page.replies), now, self.settings.deadlines),
                "total": page.total,
                "next_after": page.next_after,
                "trouble": show.queue_rows(session, list(trouble), now, self.settings.deadlines),
            }

        context = await self.as_staff(request, load)
        filters = {
            "kind": kind,
            "language": language,
            "min_amount": params.get("min_amount", ""),
            "view": "all" if everyone else "",
        }
        later = None
        if context["next_after"] is not None:
            later = "/?" + urlencode(
                {**{k: v for k, v in filters.items() if v}, "after": context["next_after"]}
            )
        context.update(filters=filters, kinds=KINDS, languages=LANGUAGES, problem=problem, later=later)
        return self.page(request, "queue.html", context)

    async def bulk_approve(self, request: Request) -> Response:
        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            chosen = [reply_number(value) for value in form.getlist("reply")]
            if not chosen:
                return "Nothing approved: select the acknowledgements to approve first.", "/"
            done = approval.bulk_approve(session, self.settings, user, chosen)
            return f"{len(done)} acknowledgements approved: " + ", ".join(str(r.id) for r in done) + ".", "/"

        return await self.act(request, work)
