"""The managers' daily digest: where the money is, what is waiting and for how long, what is late.

``gather`` reads the figures from the database (``bot.reports.digest_figures`` computes the
larger ones); ``bot.reports.digest_letter`` draws the chart and renders them into a message;
``bot.mail.digest_mail`` sends it.

What the figures mean (the **period** is ``[since, now)``; ``since``: the previous digest's time,
``since_last`` gives it for a daily schedule):

- **new claims**: claims created in the period.
- **resolved**: claims closed in the period: in state settled or rejected (``lifecycle.CLOSED``)
  with ``closed_at`` in the period, counted per state.
- **by state**: every claim, open or closed, by lifecycle state (every state listed, zeros too).
- **exposure**, per currency, in four columns, each over the orders with outcome eligible and a
  currency (an order with neither remedy's amount counts nowhere):

  - **assessed, not yet offered**: for each such order of an open claim (not settled or
    rejected) whose offer has not gone out (no ``offered_at``, and not in a state only an offer
    leads to: offer_sent, consented, refused, settled), the larger of its remedies: what the
    offers being prepared will put on the table.
  - **offered**: for each such order of a claim whose offer went out (``offered_at`` set, or one
    of those states), the larger of the remedies offered for it: the most the broker has put on
    the table. A claim rejected or escalated after its offer still counts; consented and
    settled claims count here too.
  - **consented**: the chosen remedy's amount for each order with a remedy chosen, of a claim
    neither settled nor rejected (in state consented, or escalated since): agreed with the
    client, not yet carried out.
  - **settled**: the chosen remedy's amount for each order of settled claims.

- **time to first response**: from a claim's ``created_at`` (when the bot read the message) to the
  ``sent_at`` of its first reply with status sent and ``sent_at`` before ``now``, over every claim
  that has such a reply, whenever created (not only the period's).
- **time to resolution**: from ``created_at`` to ``closed_at``, over every claim closed before
  ``now``, whenever closed.
- Both are given as the number of claims measured, the **median** and the **90th percentile**,
  by the nearest-rank definition (``digest_figures.nearest_rank``: of ``n`` times sorted, the
  ``ceil(p / 100 * n)``-th, so the median of an even count is the lower middle one; exact, no
  interpolation). The letter shows them truncated: to the hour from a day up, else to the minute.
- **backlog by age**: open claims (not settled or rejected) by their age in business days: the
  business days (not Saturday, Sunday or a ``[deadlines] holidays`` day) strictly after the
  local day of receipt, up to and including today, in the broker's zone; ``bot.claims.deadlines``
  counts business days so. A claim received today is 0 days old; one received on Friday or over
  the weekend is 1 day old on Monday. Buckets, in whole business days: under 1 ``[0, 1)``,
  1-2 ``[1, 3)``, 3-6 ``[3, 7)``, 7-13 ``[7, 14)``, 14 or more ``[14, ∞)``. The chart shows them.
- **approvals**, per person: the approval events in the claims' history (``claim_event``) in the
  period: ``reply_first_approval``, a large offer's first approval (**first of two**), and
  ``reply_approved``, the approval that released a reply for sending: the **second of two** when
  the reply (the one the event's detail names, "reply <id> ...") has a first approver
  (``reply.first_approved_by``), else a **single** approval. The event's actor is the person.
  Approving is counted, whatever became of the reply afterwards; rejections are not.
- **deadlines**: open claims whose resolution deadline (``bot.claims.deadlines``: the earlier of
  the rules' limit and the broker's promise, counted from the claim's creation) has passed
  (**overdue**) or is ``warn_days`` days away or less (**due soon**): both counted in full, and
  the ``LATE_SHOWN`` due earliest of each listed.
- **quarantined**: messages held for a person: how many, the oldest (with how long it has been
  held) and the ``NEWEST_QUARANTINED`` most recent.
- **escalated**: claims waiting for a person's decision, by the reason they were handed over
  with, each reason with its count and its ``ESCALATED_SHOWN`` oldest.
- **drafts waiting**: replies waiting for an approval (first or second); the oldest, with its age.
- **per day**: for the last ``days`` local days, the claims created that day and the backlog
  (claims open) at the end of it.

Money is summed in Python with ``Decimal``: SQLite keeps it as text, so SQL ``SUM`` would not
be exact. Times are aware UTC; days are local days in the broker's zone (``tz``, from
``[deadlines] timezone``); the letter shows times in ``[digest] timezone``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from bot.claims.deadlines import BROKER, Rules, Standing, deadlines, end_of_day, local_day, status
from bot.claims.lifecycle import CLOSED, State
from bot.reports import digest_figures as figures
from bot.reports.digest_figures import AgeBucket, PersonApprovals, Spread
from bot.storage.tables import Claim, ClaimEvent, InboundMessage, MessageStatus, Reply, ReplyStatus

OFFER_STATES = figures.OFFER_STATES
WAITING = (ReplyStatus.DRAFT, ReplyStatus.SECOND_APPROVAL)
NEWEST_QUARANTINED = 5
# The digest lists at most this many overdue claims, and as many due soon (the earliest due first).
LATE_SHOWN = 10


@dataclass(frozen=True)
class LateClaim:
    reference: str
    state: str
    received_at: datetime
    due_by: datetime
    standing: Standing
    claim_id: int | None = None


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
    claim_id: int | None = None


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
    claim_id: int | None = None


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
    assessed: dict[str, Decimal]
    resolved: dict[str, int]
    first_response: Spread
    resolution: Spread
    backlog_by_age: list[AgeBucket]
    approvals: list[PersonApprovals]
    oldest_quarantined: HeldMessage | None

    @property
    def open_claims(self) -> int:
        return sum(count for state, count in self.by_state.items() if state not in CLOSED)

    @property
    def escalated_by_reason(self) -> list[EscalationGroup]:
        """The escalated claims by the reason they were handed over with, the largest group
        first, each with its ``ESCALATED_SHOWN`` oldest: a manager reads causes, not a list."""
        groups: dict[str, list[EscalatedClaim]] = {}
        for claim in self.escalated:
            groups.setdefault(one_line(claim.reason, 200) or "(no reason given)", []).append(claim)
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
    def overdue_shown(self) -> list[LateClaim]:
        """The ``LATE_SHOWN`` overdue claims due earliest: the count says how many there are."""
        return [claim for claim in self.late if claim.standing == "overdue"][:LATE_SHOWN]

    @property
    def due_soon_shown(self) -> list[LateClaim]:
        return [claim for claim in self.late if claim.standing == "due_soon"][:LATE_SHOWN]

    @property
    def resolved_count(self) -> int:
        return sum(self.resolved.values())

    @property
    def currencies(self) -> list[str]:
        return sorted({*self.assessed, *self.offered, *self.consented, *self.settled})


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
    """The digest's figures at ``now`` for the period from ``since``. ``rules``, ``holidays``, ``tz``
    and ``warn_days`` set the deadline clocks and the business days (``[deadlines]`` in the settings)."""
    counts = dict(session.exec(select(Claim.status, func.count()).group_by(Claim.status)).all())
    new = session.exec(
        select(func.count()).select_from(Claim).where(Claim.created_at >= since, Claim.created_at < now)
    ).one()
    money = figures.exposure(session)
    quarantine = InboundMessage.status == MessageStatus.QUARANTINED
    held = session.exec(
        select(InboundMessage)
        .where(quarantine)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(NEWEST_QUARANTINED)
    ).all()
    oldest_held = session.exec(
        select(InboundMessage)
        .where(quarantine)
        .order_by(InboundMessage.received_at, InboundMessage.id)  # type: ignore[arg-type]
        .limit(1)
    ).first()
    return Digest(
        since=since,
        now=now,
        tz=tz,
        rules=rules.name,
        new_claims=int(new),
        by_state={state.value: int(counts.get(state.value, 0)) for state in State},
        offered=money.offered,
        consented=money.consented,
        settled=money.settled,
        late=_late(session, now=now, rules=rules, holidays=holidays, tz=tz, warn_days=warn_days),
        quarantined=int(
            session.exec(select(func.count()).select_from(InboundMessage).where(quarantine)).one()
        ),
        newest_quarantined=[_held(message) for message in held],
        escalated=_escalated(session),
        drafts_waiting=int(
            session.exec(select(func.count()).select_from(Reply).where(Reply.status.in_(WAITING))).one()  # type: ignore[attr-defined]
        ),
        oldest_draft=_oldest_draft(session, now=now),
        per_day=_per_day(session, now=now, tz=tz, days=days),
        warn_days=warn_days,
        assessed=money.assessed,
        resolved=figures.resolved(session, since=since, now=now),
        first_response=figures.first_response(session, now=now),
        resolution=figures.resolution(session, now=now),
        backlog_by_age=figures.backlog_by_age(session, now=now, tz=tz, holidays=holidays),
        approvals=figures.approvals(session, since=since, now=now),
        oldest_quarantined=_held(oldest_held) if oldest_held else None,
    )


def _held(message: InboundMessage) -> HeldMessage:
    return HeldMessage(
        message.received_at,
        one_line(message.sender),
        one_line(message.subject),
        one_line(message.reason, 200),
    )


# Control and bidirectional formatting characters: a stored subject could draw a fake line of
# figures, or turn the text after it around.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def one_line(text: str, limit: int = 120) -> str:
    """Stored text (a sender's subject, a reason) as one printable line of at most ``limit``
    characters, so that no message can lay out the digest."""
    line = " ".join(_UNPRINTABLE.sub(" ", text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _late(
    session: Session, *, now: datetime, rules: Rules, holidays: Collection[date], tz: tzinfo, warn_days: int
) -> list[LateClaim]:
    open_claims = session.exec(
        select(Claim.id, Claim.reference, Claim.status, Claim.created_at).where(Claim.status.not_in(CLOSED))  # type: ignore[attr-defined]
    ).all()
    late = []
    holidays = frozenset(holidays)
    # A deadline depends only on the local day of receipt: computed once per day, not per claim.
    due_on: dict[date, datetime] = {}
    for claim_id, reference, state, created_at in open_claims:
        day = local_day(created_at, tz)
        if day not in due_on:
            due_on[day] = deadlines(created_at, rules, holidays, tz).due_by
        due = due_on[day]
        standing = status(due, now, warn_days)
        if standing != "ok":
            late.append(LateClaim(reference or "", str(state), created_at, due, standing, claim_id))
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
            claim_id,
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
    return WaitingDraft(
        reply.id, reply.kind, reference or "", reply.created_at, now - reply.created_at, reply.claim_id
    )


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
