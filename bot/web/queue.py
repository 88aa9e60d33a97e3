"""The queue of drafts waiting for a decision, and approving acknowledgements in bulk: those
ticked, or all that match the view (with the count the person saw, and a second confirmation
above ``SECOND_CONFIRMATION``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.claims import approval
from bot.stages.draft import KINDS
from bot.stages.extract import LANGUAGES
from bot.storage import finder
from bot.storage.tables import ReplyStatus, StaffUser, utcnow
from bot.storage.types import hundredths
from bot.web import guard, show
from bot.web.base import Site
from bot.web.forms import amount_filter, field, page_key, reply_number, view_query
from bot.web.language import gettext, ngettext

log = logging.getLogger(__name__)
QUEUE_PAGE = 100
# A bulk approval of more than this many asks once more; one action approves at most BULK_LIMIT
# (about ten seconds' work on SQLite; the rest is the next action's).
SECOND_CONFIRMATION = 1000
BULK_LIMIT = 1000
# How many refusals a bulk approval names in its message.
REFUSALS_SHOWN = 20
# Replies the mail server refused or that were cut off mid-send: the first of them, and how many.
TROUBLE = finder.ReplyFilter(statuses=(ReplyStatus.FAILED.value, ReplyStatus.UNCERTAIN.value))
TROUBLE_SHOWN = 50
# The queue's views besides "waiting for me", by the statuses each holds.
VIEWS = {
    "all": (ReplyStatus.DRAFT.value, ReplyStatus.SECOND_APPROVAL.value),
    "second": (ReplyStatus.SECOND_APPROVAL.value,),
    "failed": (ReplyStatus.FAILED.value,),
    "uncertain": (ReplyStatus.UNCERTAIN.value,),
}


def reply_view(params: Mapping[str, str], user: StaffUser) -> tuple[finder.ReplyFilter, dict[str, str], str]:
    """The view a queue URL names (``view``: none for what this person may decide on now, or one
    of ``VIEWS``; ``kind``, ``language``, ``min_amount``): the filter, its parameters as they go
    in links, and what was wrong with them."""
    kind = params.get("kind", "") if params.get("kind", "") in KINDS else ""
    language = params.get("language", "") if params.get("language", "") in LANGUAGES else ""
    minimum, problem = amount_filter(params.get("min_amount", ""))
    shown = params.get("view", "") if params.get("view", "") in VIEWS else ""
    if shown:
        view = finder.ReplyFilter(statuses=VIEWS[shown], kind=kind, language=language)
    else:
        view = approval.waiting_for(user, kind=kind, language=language)
    if minimum is not None:
        view = replace(view, min_minor=hundredths(minimum))
    filters = {
        "view": shown,
        "kind": kind,
        "language": language,
        "min_amount": params.get("min_amount", "")[:40] if minimum is not None else "",
    }
    return view, filters, problem


def acknowledgements(view: finder.ReplyFilter) -> finder.ReplyFilter | None:
    """The part of a view a bulk approval may act on: its acknowledgements waiting for a first
    decision; None when the view holds another kind only."""
    if view.kind not in ("", "acknowledgement") or ReplyStatus.DRAFT.value not in view.statuses:
        return None
    return replace(view, kind="acknowledgement", statuses=(ReplyStatus.DRAFT.value,))


class QueuePages(Site):
    async def queue(self, request: Request) -> Response:
        after = page_key(request.query_params.get("after", ""))

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            now = utcnow()
            view, filters, problem = reply_view(request.query_params, user)
            page = finder.replies_page(session, view, after=after, size=QUEUE_PAGE)
            bulk = acknowledgements(view)
            trouble = finder.replies_page(session, TROUBLE, size=TROUBLE_SHOWN)
            by_status = finder.replies_by_status(session)
            return {
                "user": user,
                "rows": show.queue_rows(session, list(page.replies), now, self.settings.deadlines),
                "total": page.total,
                "next_after": page.next_after,
                "matching": finder.count_replies(session, bulk) if bulk else 0,
                "upto": (finder.newest_reply(session, bulk) or 0) if bulk else 0,
                "trouble": show.queue_rows(session, list(trouble.replies), now, self.settings.deadlines),
                "trouble_total": trouble.total,
                "view_counts": {
                    name: sum(by_status.get(status, 0) for status in statuses)
                    for name, statuses in VIEWS.items()
                },
                "filters": filters,
                "problem": problem,
            }

        context = await self.as_staff(request, load)
        filters = context["filters"]
        later = (
            None if context["next_after"] is None else "/?" + view_query(filters, after=context["next_after"])
        )
        context.update(
            kinds=KINDS,
            languages=LANGUAGES,
            later=later,
            here=view_query(filters),
            second_confirmation=SECOND_CONFIRMATION,
            bulk_limit=BULK_LIMIT,
        )
        return self.page(request, "queue.html", context)

    async def bulk_approve(self, request: Request) -> Response:
        form = await guard.checked_form(request)
        expected = page_key(field(form, "expected")) or 0
        matching = field(form, "scope") == "matching"
        if matching and expected > SECOND_CONFIRMATION and field(form, "confirm_again") != str(expected):
            query = urlencode(
                {"from": field(form, "from"), "upto": field(form, "upto"), "expected": expected}
            )
            return RedirectResponse(f"/bulk-approve/confirm?{query}", status_code=303)
        return await self.act(request, self._bulk)

    def _bulk(self, session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
        seen = dict(parse_qsl(field(form, "from")))
        back = "/?" + view_query(seen) if view_query(seen) else "/"
        if field(form, "scope") == "matching":
            chosen = _matching(session, user, form, seen)
        else:
            chosen = [reply_number(value) for value in form.getlist("reply")]
        if not chosen:
            return gettext("Nothing approved: select the acknowledgements to approve first."), back
        done, refused = approval.bulk_approve(session, self.settings, user, chosen)
        approved = sum(r.status == ReplyStatus.APPROVED for r in done)
        log.info("%s approved %d acknowledgements in bulk; %d refused", user.name, len(done), len(refused))
        message = ngettext(
            "%(n)d acknowledgement approved.", "%(n)d acknowledgements approved.", approved
        ) % {"n": approved}
        if len(done) > approved:
            waiting = len(done) - approved
            message += " " + ngettext(
                "%(n)d states money after an edit and waits for a manager's second approval.",
                "%(n)d state money after an edit and wait for a manager's second approval.",
                waiting,
            ) % {"n": waiting}
        if refused:
            named = "; ".join(f"#{i}: {why}" for i, why in refused[:REFUSALS_SHOWN])
            more = len(refused) - REFUSALS_SHOWN
            message += " " + ngettext("%(n)d refused", "%(n)d refused", len(refused)) % {"n": len(refused)}
            message += f" ({named}{f'; +{more}' if more > 0 else ''})."
        return message, back

    async def confirm_bulk(self, request: Request) -> Response:
        """The second confirmation: the count is the server's, never the link's."""
        params = request.query_params
        seen = dict(parse_qsl(params.get("from", "")))
        upto = page_key(params.get("upto", "")) or 0

        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            view, filters, _ = reply_view(seen, user)
            bulk = acknowledgements(view)
            expected = finder.count_replies(session, replace(bulk, max_id=upto)) if bulk else 0
            return {"user": user, "filters": filters, "expected": expected}

        context = await self.as_staff(request, load)
        context.update(here=view_query(seen), upto=upto, bulk_limit=BULK_LIMIT)
        return self.page(request, "bulk_confirm.html", context)


def _matching(session: Session, user: StaffUser, form: FormData, seen: dict[str, str]) -> list[int]:
    """The acknowledgements "approve all that match" acts on: the person's view, up to the newest
    they were shown, and no more than the count they confirmed (else nothing, and why)."""
    if field(form, "confirm") != "yes":
        raise approval.NotAllowed(gettext("Tick the box that confirms the count; nothing was approved."))
    view, _, _ = reply_view(seen, user)
    bulk = acknowledgements(view)
    if bulk is None:
        return []
    upto = page_key(field(form, "upto")) or 0
    expected = page_key(field(form, "expected")) or 0
    matching = finder.count_replies(session, replace(bulk, max_id=upto))
    if matching > expected:
        raise approval.NotAllowed(
            gettext(
                "%(now)d acknowledgements match now, more than the %(seen)d you confirmed; "
                "nothing was approved: look at the queue again."
            )
            % {"now": matching, "seen": expected}
        )
    return finder.reply_ids(session, bulk, upto=upto, limit=BULK_LIMIT)
