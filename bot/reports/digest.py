"""The managers' daily digest: what came in, what is waiting, what is late, in one email.

``gather`` reads the figures from the database; ``bot.reports.digest_letter`` draws the chart
and renders them into a message; ``bot.mail.digest_mail`` sends it.

What the figures mean:

- **new claims**: claims created in ``[since, now)`` (``since``: the previous digest's time;
  ``since_last`` gives it for a daily schedule).
- **by state**: every claim, open or closed, by lifecycle state (every state listed, zeros too).
- **offered**, per currency: for each eligible order of a claim whose offer went out (the
  offer was sent, or the claim is in a state only an offer leads to: offer_sent, consented,
  refused, settled), the larger of the remedies offered for it: the most the broker has put
  on the table. A claim rejected or escalated after its offer still counts.
- **consented**, per currency: the chosen remedy's amount for each order of claims in state
  consented: agreed with the client, not yet carried out.
- **settled**, per currency: the chosen remedy's amount for each order of settled claims.
- **deadlines**: open claims (any state but settled or rejected) whose resolution deadline
  (``bot.claims.deadlines``: the earlier of the rules' limit and the broker's promise, counted from
  the claim's creation, when the bot read the message) has passed or is ``warn_days`` days away or less.
- **quarantined**: messages held for a person, and the five most recent.
- **escalated**: claims waiting for a person's decision, with when and why they were handed over.
- **drafts waiting**: replies waiting for an approval (first or second); the oldest, with its age.
- **per day**: for the last ``days`` local days, the claims created that day and the backlog
  (claims open) at the end of it.

Money is summed in Python with ``Decimal``: SQLite keeps it as text, so SQL ``SUM`` would not
be exact. Days are local days in the broker's zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from bot.claims.deadlines import BROKER, Rules, Standing, deadlines, end_of_day, status
from bot.claims.lifecycle import CLOSED, State
from bot.storage.tables import (
    Claim,
    ClaimEvent,
    ClaimOrder,
    InboundMessage,
    MessageStatus,
    Reply,
    ReplyStatus,
)

OFFER_STATES = (State.OFFER_SENT, State.CONSENTED, State.REFUSED, State.SETTLED)
WAITING = (ReplyStatus.DRAFT, ReplyStatus.SECOND_APPROVAL)
NEWEST_QUARANTINED = 5


@dataclass(frozen=True)
class LateClaim:
    reference: str
    state: str
    received_at: datetime
    due_by: datetime
    standing: Standing


@dataclass(frozen=True)
class HeldMessage:
    received_at: datetime
    sender: str
    subject: str
    reason: str


@dataclass(frozen=True)
class EscalatedClaim:
    reference: str
    since: datetime | None
    reason: str


@dataclass(frozen=True)
class EscalationGroup:
    """Escalated claims handed over for one reason: how many, and the oldest few of them."""

    reason: str
    count: int
    oldest: list[EscalatedClaim]


# The digest lists at most this many claims under each escalation reason (the oldest first).
ESCALATED_SHOWN = 5


@dataclass(frozen=True)
class WaitingDraft:
    reply_id: int
    kind: str
    reference: str
    created_at: datetime
    age: timedelta


@dataclass(frozen=True)
class Day:
    day: date
    new: int
    backlog: int


@dataclass(frozen=True)
class Digest:
    since: datetime
    now: datetime
    tz: tzinfo
    rules: str
    new_claims: int
    by_state: dict[str, int]
    offered: dict[str, Decimal]
    consented: dict[str, Decimal]
    settled: dict[str, Decimal]
    late: list[LateClaim]
    quarantined: int
    newest_quarantined: list[HeldMessage]
    escalated: list[EscalatedClaim]
    drafts_waiting: int
    oldest_draft: WaitingDraft | None
    per_day: list[Day]
    warn_days: int

    @property
    def open_claims(self) -> int:
        return sum(count for state, count in self.by_state.items() if state not in CLOSED)

    @property
    def escalated_by_reason(self) -> list[EscalationGroup]:
        """The escalated claims by the reason they were handed over with, the largest group
        first, each with its ``ESCALATED_SHOWN`` oldest: a manager reads causes, not a list."""
        groups: dict[str, list[EscalatedClaim]] = {}
        for claim in self.escalated:
            groups.setdefault(" ".join(claim.reason.split())[:200] or "(no reason given)", []).append(claim)
        never = datetime.max.replace(tzinfo=UTC)
        return [
            EscalationGroup(
                reason,
                len(claims),
                sorted(claims, key=lambda c: (c.since or never, c.reference))[:ESCALATED_SHOWN],
            )
            for reason, claims in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
        ]

    @property
    def overdue(self) -> int:
        return sum(1 for claim in self.late if claim.standing == "overdue")

    @property
    def due_soon(self) -> int:
        return sum(1 for claim in self.late if claim.standing == "due_soon")

    @property
    def currencies(self) -> list[str]:
        return sorted({*self.offered, *self.consented, *self.settled})


def since_last(now: datetime, at: tuple[int, int], tz: tzinfo) -> datetime:
    """The scheduled time one day before the latest scheduled time at or before ``now``: where a
    daily digest sent at ``at`` (hour, minute, local) starts counting."""
    local = now.astimezone(tz)
    latest = datetime.combine(local.date(), time(*at), tzinfo=tz)
    if latest > local:
        latest = datetime.combine(local.date() - timedelta(days=1), time(*at), tzinfo=tz)
    previous = datetime.combine(latest.date() - timedelta(days=1), time(*at), tzinfo=tz)
    return previous.astimezone(UTC)


def gather(
    session: Session,
    *,
    since: datetime,
    now: datetime,
    rules: Rules = BROKER,
    holidays: Collection[date] = (),
    tz: tzinfo = UTC,
    warn_days: int = 2,
    days: int = 14,
) -> Digest:
    """The digest's figures at ``now``; new claims counted from ``since``. ``rules``, ``holidays``,
    ``tz`` and ``warn_days`` set the deadline clocks (``[deadlines]`` in the settings)."""
    counts = dict(session.exec(select(Claim.status, func.count()).group_by(Claim.status)).all())
    new = session.exec(
        select(func.count()).select_from(Claim).where(Claim.created_at >= since, Claim.created_at < now)
    ).one()
    offered, consented, settled = _amounts(session)
    quarantine = InboundMessage.status == MessageStatus.QUARANTINED
    held = session.exec(
        select(InboundMessage)
        .where(quarantine)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(NEWEST_QUARANTINED)
    ).all()
    return Digest(
        since=since,
        now=now,
        tz=tz,
        rules=rules.name,
        new_claims=int(new),
        by_state={state.value: int(counts.get(state.value, 0)) for state in State},
        offered=offered,
        consented=consented,
        settled=settled,
        late=_late(session, now=now, rules=rules, holidays=holidays, tz=tz, warn_days=warn_days),
        quarantined=int(
            session.exec(select(func.count()).select_from(InboundMessage).where(quarantine)).one()
        ),
        newest_quarantined=[HeldMessage(m.received_at, m.sender, m.subject, m.reason) for m in held],
        escalated=_escalated(session),
        drafts_waiting=int(
            session.exec(select(func.count()).select_from(Reply).where(Reply.status.in_(WAITING))).one()  # type: ignore[attr-defined]
        ),
        oldest_draft=_oldest_draft(session, now=now),
        per_day=_per_day(session, now=now, tz=tz, days=days),
        warn_days=warn_days,
    )


def _amounts(session: Session) -> tuple[dict[str, Decimal], dict[str, Decimal], dict[str, Decimal]]:
    offered: dict[str, Decimal] = defaultdict(Decimal)
    consented: dict[str, Decimal] = defaultdict(Decimal)
    settled: dict[str, Decimal] = defaultdict(Decimal)
    rows = session.exec(
        select(Claim.status, Claim.offered_at, ClaimOrder)
        .join(ClaimOrder, ClaimOrder.claim_id == Claim.id)
        .where(ClaimOrder.outcome == "eligible", ClaimOrder.currency != "")
        .order_by(ClaimOrder.id)
    ).all()
    for state, offered_at, row in rows:
        remedies = {"best_price": row.best_price_amount, "restore": row.restore_amount}
        amounts = [amount for amount in remedies.values() if amount is not None]
        if amounts and (offered_at is not None or state in OFFER_STATES):
            offered[row.currency] += max(amounts)
        chosen = remedies.get(row.chosen_remedy or "")
        if chosen is not None and state == State.CONSENTED:
            consented[row.currency] += chosen
        if chosen is not None and state == State.SETTLED:
            settled[row.currency] += chosen
    return dict(offered), dict(consented), dict(settled)


def _late(
    session: Session, *, now: datetime, rules: Rules, holidays: Collection[date], tz: tzinfo, warn_days: int
) -> list[LateClaim]:
    open_claims = session.exec(
        select(Claim.reference, Claim.status, Claim.created_at).where(Claim.status.not_in(CLOSED))  # type: ignore[attr-defined]
    ).all()
    late = []
    holidays = frozenset(holidays)
    for reference, state, created_at in open_claims:
        due = deadlines(created_at, rules, holidays, tz).due_by
        standing = status(due, now, warn_days)
        if standing != "ok":
            late.append(LateClaim(reference or "", str(state), created_at, due, standing))
    return sorted(late, key=lambda claim: (claim.due_by, claim.reference))


def _escalated(session: Session) -> list[EscalatedClaim]:
    claims = session.exec(
        select(Claim.id, Claim.reference).where(Claim.status == State.ESCALATED).order_by(Claim.id)
    ).all()
    moves = session.exec(
        select(ClaimEvent)
        .where(ClaimEvent.claim_id.in_([claim_id for claim_id, _ in claims]))  # type: ignore[attr-defined]
        .where(ClaimEvent.to_state == State.ESCALATED)
        .order_by(ClaimEvent.id)
    ).all()
    last = {event.claim_id: event for event in moves}
    return [
        EscalatedClaim(
            reference or "",
            last[claim_id].at if claim_id in last else None,
            last[claim_id].detail if claim_id in last else "",
        )
        for claim_id, reference in claims
    ]


def _oldest_draft(session: Session, *, now: datetime) -> WaitingDraft | None:
    found = session.exec(
        select(Reply, Claim.reference)
        .join(Claim, Claim.id == Reply.claim_id)
        .where(Reply.status.in_(WAITING))  # type: ignore[attr-defined]
        .order_by(Reply.created_at, Reply.id)
        .limit(1)
    ).first()
    if found is None:
        return None
    reply, reference = found
    assert reply.id is not None
    return WaitingDraft(reply.id, reply.kind, reference or "", reply.created_at, now - reply.created_at)


def _per_day(session: Session, *, now: datetime, tz: tzinfo, days: int) -> list[Day]:
    """Claims created per local day and open at each day's end (or at ``now`` for today)."""
    claims = session.exec(
        select(Claim.created_at, Claim.closed_at, Claim.status).where(Claim.created_at < now)
    ).all()
    # ``moves.move`` always sets closed_at; a closed claim without it counts as closed from the start.
    spans = [(created, closed or (created if state in CLOSED else None)) for created, closed, state in claims]
    today = now.astimezone(tz).date()
    result = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        end = min(end_of_day(day, tz), now)
        new = sum(1 for created, _ in spans if created.astimezone(tz).date() == day)
        backlog = sum(1 for created, closed in spans if created <= end and (closed is None or closed > end))
        result.append(Day(day, new, backlog))
    return result
