"""What the approval page shows: plain shapes built from the tables, never the table rows themselves.

Client text reaches a page only through ``highlight``, which escapes every character it did not
put there itself; the page templates never mark client text safe.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from html import escape as html_escape

from markupsafe import Markup, escape
from sqlmodel import Session, select

from bot.claims import replies
from bot.claims.deadlines import deadlines, status
from bot.claims.lifecycle import CLOSED
from bot.config import DeadlineSettings, Settings
from bot.stages.draft import TemplateProblem
from bot.stages.parse import Unreadable, parse
from bot.storage.intake import stored_bytes
from bot.storage.tables import Claim, InboundMessage, Reply, ReplyStatus
from bot.web.language import gettext

# A message shown beyond this many characters is cut: staff read complaints, not attachments.
MAX_SHOWN = 100_000
_FULLWIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}


@dataclass(frozen=True)
class Due:
    """One deadline of a claim: when (UTC), and ``ok``, ``due_soon``, ``overdue``, or ``met``
    (the acknowledgement went out in time; the claim closed)."""

    by: datetime | None
    standing: str

    @property
    def label(self) -> str:
        return self.standing.replace("_", " ")


@dataclass(frozen=True)
class ClaimDeadlines:
    acknowledge: Due
    resolve: Due


@dataclass(frozen=True)
class QueueRow:
    id: int
    claim_id: int
    reference: str
    kind: str
    language: str
    to_address: str
    amount: str
    age: str
    status: str
    first_approved_by: str
    failure: str
    bulk: bool
    due: ClaimDeadlines | None = None


@dataclass(frozen=True)
class Mark:
    number: str
    kind: str
    evidence: str


@dataclass(frozen=True)
class MessageView:
    id: int
    received_at: datetime
    sender: str
    subject: Markup
    status: str
    reason: str
    text: Markup
    marks: list[Mark] = field(default_factory=list)
    problem: str = ""
    cut: bool = False


def money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    return f"{amount:,} {currency}".strip()


def age(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return gettext("%(n)d min") % {"n": minutes}
    if minutes < 48 * 60:
        return gettext("%(n)d h") % {"n": minutes // 60}
    return gettext("%(n)d d") % {"n": minutes // (24 * 60)}


def claim_deadlines(
    claim: Claim, now: datetime, settings: DeadlineSettings, acknowledged_at: datetime | None
) -> ClaimDeadlines:
    """The claim's two clocks (``bot.claims.deadlines``, set by ``[deadlines]``) and how each
    stands at ``now``."""
    clocks = deadlines(claim.created_at, settings.rules, frozenset(settings.holidays), settings.tz)
    ack_by = clocks.acknowledge_by
    if ack_by is None:
        acknowledge = Due(None, "ok")
    elif acknowledged_at is not None and acknowledged_at <= ack_by:
        acknowledge = Due(ack_by, "met")
    else:
        acknowledge = Due(ack_by, status(ack_by, acknowledged_at or now, settings.warn_days))
    if claim.status in CLOSED:
        closed = claim.closed_at
        resolve = Due(clocks.due_by, "met" if closed is None or closed <= clocks.due_by else "overdue")
    else:
        resolve = Due(clocks.due_by, status(clocks.due_by, now, settings.warn_days))
    return ClaimDeadlines(acknowledge, resolve)


def acknowledged_at(session: Session, claim_ids: set[int]) -> dict[int, datetime]:
    """When each claim's first acknowledgement was sent: an offer drafted as the claim was
    registered is its acknowledgement too (it says when the claim was received)."""
    rows = session.exec(
        select(Reply.claim_id, Reply.sent_at).where(
            Reply.claim_id.in_(claim_ids),  # type: ignore[attr-defined]
            Reply.kind.in_(("acknowledgement", "offer")),  # type: ignore[attr-defined]
            Reply.status == ReplyStatus.SENT,
        )
    ).all()
    sent: dict[int, datetime] = {}
    for claim_id, at in rows:
        if at is not None and (claim_id not in sent or at < sent[claim_id]):
            sent[claim_id] = at
    return sent


def queue_rows(
    session: Session, replies: list[Reply], now: datetime, deadline_settings: DeadlineSettings | None = None
) -> list[QueueRow]:
    claim_ids = {r.claim_id for r in replies}
    claims = {
        c.id: c
        for c in session.exec(select(Claim).where(Claim.id.in_(claim_ids))).all()  # type: ignore[union-attr]
    }
    clock = deadline_settings or DeadlineSettings()
    sent = acknowledged_at(session, claim_ids)
    due = {cid: claim_deadlines(c, now, clock, sent.get(cid)) for cid, c in claims.items() if cid is not None}
    return [
        QueueRow(
            id=r.id or 0,
            claim_id=r.claim_id,
            reference=(claims[r.claim_id].reference or "") if r.claim_id in claims else "",
            kind=r.kind,
            language=r.language,
            to_address=r.to_address,
            amount=money(r.amount, r.currency),
            age=age(r.created_at, now),
            status=str(r.status),
            first_approved_by=r.first_approved_by,
            failure=r.failure,
            bulk=r.kind == "acknowledgement",
            due=due.get(r.claim_id),
        )
        for r in replies
    ]


def highlight(text: str, marks: list[Mark]) -> Markup:
    """``text`` escaped, with every mark's number (ASCII or full-width digits) wrapped in ``<mark>``."""
    if not marks:
        return escape(text)
    by_number = {m.number: m for m in marks}
    alternatives = [
        "".join(f"[{d}{_FULLWIDTH[d]}]" if d in _FULLWIDTH else re.escape(d) for d in number)
        for number in sorted(by_number, key=len, reverse=True)
    ]
    pattern = re.compile(r"(?<![0-9\uff10-\uff19])(?:" + "|".join(alternatives) + r")(?![0-9\uff10-\uff19])")
    pieces: list[Markup] = []
    position = 0
    for found in pattern.finditer(text):
        mark = by_number[unicodedata.normalize("NFKC", found.group(0))]
        pieces.append(escape(text[position : found.start()]))
        pieces.append(
            Markup('<mark class="{}" title="{}">{}</mark>').format(
                mark.kind, f"{mark.kind}: {mark.evidence}", found.group(0)
            )
        )
        position = found.end()
    pieces.append(escape(text[position:]))
    return Markup("").join(pieces)


def marks_of(message: InboundMessage) -> list[Mark]:
    """The numbers the extract stage was sure of, as the pipeline stored them with the message
    (the page never reads a message again: a hostile one could be slow to read)."""
    try:
        stored = json.loads(message.evidence) if message.evidence else []
    except ValueError:
        return []
    return [Mark(e["number"], e["kind"], e["evidence"]) for e in stored]


def message_view(message: InboundMessage) -> MessageView:
    """The client's email as the bot read it, with the numbers it took from it marked."""
    common = {
        "id": message.id or 0,
        "received_at": message.received_at,
        "sender": message.sender,
        "status": str(message.status),
        "reason": message.reason,
    }
    try:
        parsed = parse(stored_bytes(message))
    except (Unreadable, OSError) as exc:
        return MessageView(
            **common, subject=escape(message.subject), text=Markup(""), problem=f"cannot be shown: {exc}"
        )
    marks = marks_of(message)
    text = parsed.text
    return MessageView(
        **common,
        subject=highlight(parsed.subject, marks),
        text=highlight(text[:MAX_SHOWN], marks),
        marks=marks,
        cut=len(text) > MAX_SHOWN,
    )


def preview(reply: Reply, settings: Settings) -> str:
    """The HTML part as a whole document, for a sandboxed ``srcdoc`` (escaped there as an
    attribute); drafted now if it was not yet, from the context the text was drafted from."""
    try:
        body = replies.html_of(reply, settings)
    except TemplateProblem as exc:
        body = f"<p><strong>{html_escape(str(exc))}</strong></p>"
    return (
        f'<!DOCTYPE html><html lang="{html_escape(reply.language)}"><head><meta charset="utf-8">'
        f"<title>{html_escape(reply.subject)}</title></head>"
        f'<body style="font-family: sans-serif; line-height: 1.5">{body}</body></html>'
    )


def edit_diff(reply: Reply) -> list[tuple[str, str]]:
    """What an edit changed in the draft, line by line (``-`` drafted, ``+`` edited, `` `` kept
    around a change), for the second approver to read; empty when the draft was not edited."""
    if not reply.drafted_text or reply.drafted_text == reply.body_text:
        return []
    lines = difflib.unified_diff(
        reply.drafted_text.splitlines(), reply.body_text.splitlines(), lineterm="", n=1
    )
    return [(line[0], line[1:]) for line in lines if not line.startswith(("---", "+++", "@@"))]
