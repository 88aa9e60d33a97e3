"""What each kind of reply says about a claim, from what the store holds, and the outbox row for it.

The pipeline and the staff's actions draft replies the same way: a context built here from
the stored claim (so a re-drafted offer shows exactly what was assessed), rendered by
``bot.stages.draft``, kept as a ``Reply`` in ``draft`` until a person approves it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from bot.claims.deadlines import end_of_day, local_day
from bot.claims.drafting import DraftedElsewhere
from bot.config import IncidentSettings, Settings
from bot.stages import letter_context
from bot.stages.assess import Workings
from bot.stages.draft import (
    DEFAULT_NAMES,
    MONEY_KINDS,
    draft,
    draft_html,
    draftable,
    option_totals,
)
from bot.stages.parse import msg_ids
from bot.stages.records import OrderRecord
from bot.stages.wording import utc_offset
from bot.storage import ids, store, trade_book
from bot.storage.tables import Claim, ClaimOrder, Reply, ReplyStatus, utcnow

REMEDY_NUMBER = {"best_price": 1, "restore": 2}


def common(claim: Claim, settings: Settings) -> dict[str, Any]:
    return {
        "reference": claim.reference,
        "name": claim.claimant_name or DEFAULT_NAMES.get(claim.language, DEFAULT_NAMES["en"]),
        "answer_within_days": settings.claims.answer_within_days,
        "letters": settings.letters.model_dump(),
    }


def _workings(stored: str, tz: tzinfo) -> dict[str, Workings]:
    """Each remedy's stored workings, its moments in the letter's zone ({} before revision 0007)."""
    figures = json.loads(stored) if stored else {}
    return _in_zone({kind: Workings.from_dict(data) for kind, data in figures.items()}, tz)


def _in_zone(figures: Mapping[str, Workings], tz: tzinfo) -> dict[str, Workings]:
    found = {}
    for kind, workings in figures.items():
        legs = tuple(replace(leg, at=leg.at.astimezone(tz) if leg.at else None) for leg in workings.legs)
        conversion = workings.conversion
        if conversion is not None and conversion.time is not None:
            conversion = replace(conversion, time=conversion.time.astimezone(tz))
        found[kind] = replace(workings, legs=legs, conversion=conversion)
    return found


def rules(settings: Settings) -> dict[str, Any]:
    return {"external_route": dict(settings.complaint_rules.external_route)}


def acknowledgement(
    claim: Claim, settings: Settings, rows: list[ClaimOrder], accounts: list[str]
) -> dict[str, Any]:
    return {
        **common(claim, settings),
        "received_on": local_day(claim.created_at, settings.deadlines.tz),
        "account": claim.account_login or "",
        "accounts": accounts,
        "tickets": [r.ticket for r in rows],
    }


def offer(
    session: Session,
    claim: Claim,
    settings: Settings,
    book: trade_book.TradeBook | None = None,
    *,
    written: tuple[list[ClaimOrder], list[str]] | None = None,
    figures: Mapping[str, Mapping[str, Workings]] | None = None,
) -> dict[str, Any]:
    """Per eligible order: what happened and each remedy with its amount and how it was computed
    (``book``: the trade records already open in this session, with what they have read;
    ``written``: the claim's order rows and accounts, when they were just written and are known;
    ``figures``: the workings just stored in those rows, by ticket and remedy)."""
    assert claim.id is not None
    rows, accounts = written or (
        list(store.claim_orders(session, claim_id=claim.id)),
        store.claim_accounts(session, claim_id=claim.id),
    )
    book = book or trade_book.TradeBook(session)
    incident = next((i for i in settings.incidents if i.name == claim.incident), settings.incidents[0])
    # The letter's times are the incident's, in the zone its notice gave them.
    zone = incident.start.tzinfo or UTC
    records = {row.ticket: book.order(row.ticket) for row in rows}
    orders, ineligible = offered_orders(rows, records, zone, figures=figures)
    tz = settings.deadlines.tz
    if claim.consent_deadline is None:
        # The date the letter states is the deadline enforced: the end of that day, locally.
        day = local_day(utcnow() + timedelta(days=settings.claims.consent_days), tz)
        claim.consent_deadline = end_of_day(day, tz)
    deadline = claim.consent_deadline.astimezone(tz)
    return {
        **common(claim, settings),
        "received_on": local_day(claim.created_at, settings.deadlines.tz),
        "account": claim.account_login or "",
        "accounts": accounts,
        "incident_window": incident_window(incident),
        "orders": orders,
        "ineligible": ineligible,
        "listed_by_bot": all(r.claimed_as == "" for r in rows) and bool(rows),
        "consent_deadline": deadline,
        "complaint_rules": rules(settings),
        "totals": option_totals(orders),
    }


def incident_window(incident: IncidentSettings) -> str:
    """The outage as the broker's notice gave it: ``2019-06-26 18:58 to 2019-06-27 05:30 (UTC+08:00)``."""
    return f"{incident.start:%Y-%m-%d %H:%M} to {incident.end:%Y-%m-%d %H:%M} ({utc_offset(incident.start)})"


def offered_orders(
    rows: list[ClaimOrder],
    records: Mapping[str, OrderRecord | None],
    zone: tzinfo,
    *,
    figures: Mapping[str, Mapping[str, Workings]] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The offer's orders, from the claim's stored rows and the orders' trade records: each
    eligible one with its remedies and their workings (moments in ``zone``), and the others
    with the reason they are not included. ``figures``: the rows' workings as computed, when
    at hand: what reading back the JSON stored in each row gives, without reading it back."""
    orders, ineligible = [], []
    for row in rows:
        order = records.get(row.ticket)
        if row.outcome != "eligible" or order is None or row.currency == "":
            # Another client's order reads as one we cannot find: the letter must not tell
            # whether a number exists in someone else's account.
            reason = "unknown_order" if row.outcome == "not_your_order" else row.outcome
            ineligible.append({"ticket": row.claimed_as or row.ticket, "reason": reason})
            continue
        how = dict(line.split(": ", 1) for line in row.explanation.splitlines() if ": " in line)
        known = figures.get(row.ticket) if figures is not None else None
        workings = _in_zone(known, zone) if known is not None else _workings(row.workings, zone)
        remedies = []
        if row.best_price_amount is not None:
            remedies.append(
                {
                    "number": 1,
                    "kind": "best_price",
                    "amount": row.best_price_amount,
                    "price": row.best_price,
                    "explanation": how.get("best_price", ""),
                    "workings": workings.get("best_price"),
                }
            )
        if row.restore_amount is not None:
            remedies.append(
                {
                    "number": 2,
                    "kind": "restore",
                    "amount": row.restore_amount,
                    "price": row.adjusted_open_price,
                    "explanation": how.get("restore", ""),
                    "workings": workings.get("restore"),
                }
            )
        orders.append(
            {
                "ticket": row.ticket,
                "account": order.login,
                "symbol": row.symbol,
                "side": order.side,
                "lots": order.lots,
                "opened_at": order.open_time.astimezone(zone),
                "open_price": order.open_price,
                "category": row.category,
                "currency": row.currency,
                "remedies": remedies,
            }
        )
    return orders, ineligible


def chosen(session: Session, claim: Claim) -> list[dict[str, Any]]:
    assert claim.id is not None
    picked = []
    for row in store.claim_orders(session, claim_id=claim.id):
        if row.chosen_remedy is None:
            continue
        amount = row.best_price_amount if row.chosen_remedy == "best_price" else row.restore_amount
        picked.append(
            {
                "ticket": row.ticket,
                "symbol": row.symbol,
                "remedy": row.chosen_remedy,
                "amount": amount,
                "currency": row.currency,
            }
        )
    return picked


def stated_amount(kind: str, context: dict[str, Any]) -> tuple[Decimal | None, str]:
    """The most a reply commits the broker to, which decides who may approve it."""
    if kind not in MONEY_KINDS:
        return None, ""
    if kind == "offer":
        amounts = [
            (max(r["amount"] for r in order["remedies"]), order["currency"])
            for order in context["orders"]
            if order["remedies"]
        ]
    else:
        amounts = [(c["amount"], c["currency"]) for c in context["chosen"] if c["amount"] is not None]
    if not amounts:
        return Decimal(0), ""
    return sum((a for a, _ in amounts), Decimal(0)), amounts[0][1]


def _held_for_a_person(session: Session, settings: Settings, address: str) -> str:
    """Why no more letters go to ``address`` without a person ("" when they may): a day's share,
    or, for a sender whose auto-responder answers every letter, the share of all time."""
    tally = session.info.get(Tally.KEY) or Tally(session, [], keep=False)
    recent, ever = tally.counts(session, address)
    limits = settings.claims
    if recent >= limits.max_replies_per_sender_per_day:
        return f"{recent} replies to this sender in 24 hours"
    return f"{ever} replies to this sender in all" if ever >= limits.max_replies_per_sender else ""


class Tally:
    """Replies drafted to each address in the last day and ever, counted for a batch of messages
    in one query and then kept as the batch drafts (kept in ``session.info`` for its transaction).
    The day is the one before the batch began: a batch lasts seconds."""

    KEY = "claimsbot.reply_tally"

    def __init__(self, session: Session, addresses: list[str], *, keep: bool = True) -> None:
        self._since = utcnow() - timedelta(days=1)
        self._counts: dict[str, list[int]] = {}
        self._counts.update(store.replies_to_each(session, addresses=addresses, since=self._since))
        for address in addresses:
            self._counts.setdefault(address, [0, 0])
        if keep:
            session.info[self.KEY] = self

    def counts(self, session: Session, address: str) -> tuple[int, int]:
        if address not in self._counts:
            self._counts.update(store.replies_to_each(session, addresses=[address], since=self._since))
            self._counts.setdefault(address, [0, 0])
        recent, ever = self._counts[address]
        return recent, ever

    def drafted(self, address: str) -> None:
        if address in self._counts:
            self._counts[address][0] += 1
            self._counts[address][1] += 1

    @classmethod
    def close(cls, session: Session) -> None:
        session.info.pop(cls.KEY, None)


def html_of(reply: Reply, settings: Settings) -> str:
    """The reply's HTML part: as stored, or drafted now from the context its text was drafted
    from ("" for a reply that has neither, which then goes as text alone)."""
    if reply.body_html or not reply.context:
        return reply.body_html
    context = letter_context.decode(reply.context)
    return draft_html(reply.kind, reply.language, context, templates_dir=settings.templates_dir)


def new_message_id(domain: str) -> str:
    """128 random bits: a reply to one of our letters proves the writer saw it, so the id must
    not be guessable (``make_msgid`` has a clock, a process id and 64 random bits)."""
    return f"<{secrets.token_hex(16)}@{domain}>"


def queue(
    session: Session,
    settings: Settings,
    claim: Claim,
    kind: str,
    context: dict[str, Any],
    *,
    actor: str = "bot",
    to: str | None = None,
    thread: list[str] | None = None,
) -> Reply | None:
    """Draft a reply into the approval queue, unless this address already had the day's share
    of replies (the last guard against a loop with an auto-responder). ``thread``: the
    Message-IDs of the claim's messages, oldest first, when the caller has them."""
    assert claim.id is not None
    if not claim.sender_verified and kind != "unverified_sender":
        # Nothing about an account goes to an address that is not its registered email.
        store.record_event(
            session,
            claim_id=claim.id,
            actor=actor,
            event="reply_withheld",
            detail=f"{kind}: the sender is not verified; write to the registered email by hand",
        )
        return None
    address = to or claim.sender
    held = _held_for_a_person(session, settings, address)
    if held:
        store.record_event(
            session,
            claim_id=claim.id,
            actor=actor,
            event="reply_suppressed",
            detail=f"{kind}: {held}; a person must answer",
        )
        return None
    encoded = letter_context.encode(context)
    elsewhere = DraftedElsewhere.of(session)
    if elsewhere is None:
        drafted = draft(kind, claim.language, context, templates_dir=settings.templates_dir, html=False)
        language, subject, body = drafted.language, drafted.subject, drafted.body
    else:
        language, subject, body = draftable(kind, claim.language, context), "", ""
    if thread is None:
        thread = [
            i for m in store.claim_messages(session, claim_id=claim.id) for i in msg_ids(m.message_id or "")
        ]
    amount, currency = stated_amount(kind, context)
    taken = ids.of(session)
    reply = Reply(
        id=taken.next(Reply) if taken is not None else None,
        claim_id=claim.id,
        kind=kind,
        language=language,
        to_address=address,
        subject=subject,
        body_text=body,
        context=encoded,
        amount=amount,
        currency=currency,
        message_id=new_message_id(settings.smtp.message_id_domain),
        in_reply_to=thread[-1] if thread else "",
        references=" ".join(dict.fromkeys(thread)),
        status=ReplyStatus.DRAFT,
        created_at=utcnow(),
        drafted_by=actor,
    )
    session.add(reply)
    if elsewhere is not None:
        elsewhere.add(reply, (kind, claim.language, encoded))
    if reply.id is None:
        session.flush()
    tally = session.info.get(Tally.KEY)
    if tally is not None:
        tally.drafted(address)
    store.record_event(
        session, claim_id=claim.id, actor=actor, event="reply_drafted", detail=f"{kind} {reply.id}"
    )
    return reply
