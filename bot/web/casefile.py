"""The claim as a case file: its orders with their times against the incident window, the
replies, the history, who owns it, the internal notes, and the moves its state allows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.claims import approval, staff
from bot.claims.lifecycle import CLOSED, can_move
from bot.config import IncidentSettings, Settings
from bot.stages.match import window_standing
from bot.storage import casework, store
from bot.storage.tables import Claim, Reply, StaffUser, State, TradeOrder
from bot.web.show import MessageView, acknowledged_at, claim_deadlines, message_view, money


@dataclass(frozen=True)
class ReplyLink:
    id: int
    kind: str
    status: str
    amount: str
    subject: str = ""
    at: datetime | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Entry:
    """One step of the conversation, a client's email (``mail``) or our reply (``reply``)."""

    at: datetime
    kind: str
    mail: MessageView | None = None
    reply: ReplyLink | None = None


@dataclass(frozen=True)
class OrderView:
    ticket: str
    account: str
    claimed_as: str
    outcome: str
    category: int | None
    symbol: str
    remedy_1: str
    remedy_2: str
    chosen: str
    explanation: list[str]
    # From the trade records, when the order is in them: its times, and why the outage did or
    # did not touch it (``bot.stages.match.window_standing``).
    opened: datetime | None = None
    closed: datetime | None = None
    close_reason: str = ""
    standing: str = ""


def order_views(session: Session, claim_id: int, incident: IncidentSettings | None) -> list[OrderView]:
    rows = store.claim_orders(session, claim_id=claim_id)
    tickets = [row.ticket for row in rows]
    records = {
        o.ticket: o
        for o in session.exec(select(TradeOrder).where(TradeOrder.ticket.in_(tickets))).all()  # type: ignore[attr-defined]
    }
    views = []
    for row in rows:
        record = records.get(row.ticket)
        views.append(
            OrderView(
                ticket=row.ticket,
                account=row.login,
                claimed_as=row.claimed_as,
                outcome=row.outcome,
                category=row.category,
                symbol=row.symbol,
                remedy_1=money(row.best_price_amount, row.currency),
                remedy_2=money(row.restore_amount, row.currency),
                chosen=row.chosen_remedy or "",
                explanation=row.explanation.splitlines(),
                opened=record.open_time if record else None,
                closed=record.close_time if record else None,
                close_reason=record.close_reason if record else "",
                standing=window_standing(record, incident) if record and incident else "",
            )
        )
    return views


def incident_of(claim: Claim, settings: Settings) -> IncidentSettings | None:
    return next((i for i in settings.incidents if i.name == claim.incident), None)


def claim_context(
    session: Session, claim: Claim, user: StaffUser, settings: Settings, now: datetime | None = None
) -> dict[str, object]:
    """Everything about a claim both the reply page and the claim page show."""
    assert claim.id is not None
    moment = now or datetime.now(UTC)
    sent = acknowledged_at(session, {claim.id})
    messages = sorted(store.claim_messages(session, claim_id=claim.id), key=lambda m: m.id or 0, reverse=True)
    replies = session.exec(select(Reply).where(Reply.claim_id == claim.id).order_by(Reply.id)).all()  # type: ignore[arg-type]
    incident = incident_of(claim, settings)
    mails = [message_view(m) for m in messages]
    links = [
        ReplyLink(
            r.id or 0, r.kind, str(r.status), money(r.amount, r.currency), r.subject, r.created_at, r.sent_at
        )
        for r in replies
    ]
    timeline = sorted(
        [Entry(m.received_at, "mail", mail=m) for m in mails]
        + [Entry(r.at or moment, "reply", reply=r) for r in links],
        key=lambda e: e.at,
    )
    return {
        "claim": claim,
        "due": claim_deadlines(claim, moment, settings.deadlines, sent.get(claim.id)),
        "incident": incident,
        "orders": order_views(session, claim.id, incident),
        "accounts": store.claim_accounts(session, claim_id=claim.id),
        "history": store.history(session, claim_id=claim.id),
        "notes": casework.notes(session, claim_id=claim.id),
        "messages": mails,
        "claim_replies": links,
        "timeline": timeline,
        "can": actions_allowed(claim.status),
        # Whom a supervisor may hand the claim to.
        "people": [p.name for p in staff.users(session) if p.active]
        if approval.rank(user.role) >= approval.rank("supervisor")
        else [],
        "rank": approval.rank(user.role),
        "supervisor": approval.rank("supervisor"),
        "manager": approval.rank("manager"),
    }


def actions_allowed(state: str) -> dict[str, bool]:
    """The moves a claim in this state may make, so that the page offers no other."""
    return {
        "escalate": can_move(state, State.ESCALATED),
        "reject": can_move(state, State.REJECTED),
        "settle": can_move(state, State.SETTLED),
        "final_response": State(state) not in CLOSED,
    }
