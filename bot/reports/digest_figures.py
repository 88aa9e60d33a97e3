"""The digest's figures that take more than a count: the money per currency at each step, what
closed in the period, how long claims wait (median and 90th percentile), the backlog by age in
business days, and who approved what. ``bot.reports.digest`` gathers them into its ``Digest``;
what each one means, exactly, is in that module's docstring.

Every figure is read with plain column queries and finished in Python: money with ``Decimal``
(SQLite keeps it as text), times as aware UTC datetimes, so the result is the same on SQLite
and PostgreSQL and exact at the tens of thousands of claims of an incident.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import Session, select

from bot.claims.deadlines import is_business_day, local_day
from bot.claims.lifecycle import CLOSED, State
from bot.storage.tables import Claim, ClaimEvent, ClaimOrder, Reply, ReplyStatus

# States only an offer that went out leads to: a claim in one counts as offered even without offered_at.
OFFER_STATES = (State.OFFER_SENT, State.CONSENTED, State.REFUSED, State.SETTLED)
# The backlog's buckets by their lower bound in business days; each runs to the next bound
# (excluded), the last has none: [0, 1), [1, 3), [3, 7), [7, 14), [14, ∞).
AGE_BOUNDS = (0, 1, 3, 7, 14)
# The claim events that record an approval (``bot.claims.approval.approve``; ``store.decide_reply``
# writes ``reply_approved`` too): the final one, and the first of a large offer's two.
APPROVED, FIRST_APPROVAL = "reply_approved", "reply_first_approval"
# Both write "reply <id> ..." as the event's detail: how an event names its reply.
_REPLY_ID = re.compile(r"reply (\d+)\b")
_CHUNK = 500

T = TypeVar("T")


@dataclass(frozen=True)
class Exposure:
    """Per currency, the money at each step; a claim's orders count in one step or none, except
    that ``offered`` includes what was then consented to or settled (the most put on the table)."""

    assessed: dict[str, Decimal]
    offered: dict[str, Decimal]
    consented: dict[str, Decimal]
    settled: dict[str, Decimal]


@dataclass(frozen=True)
class Spread:
    """How long something took over a population: its size, median and 90th percentile (nearest
    rank, so each is one of the measured times; None when nothing was measured)."""

    count: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class AgeBucket:
    """Open claims whose age in business days is in ``[low, high)`` (``high`` None: no bound)."""

    low: int
    high: int | None
    count: int


@dataclass(frozen=True)
class PersonApprovals:
    """What one person approved in the period: ``single``, replies that needed one approval;
    ``first``, first approvals of large offers; ``second``, their second approvals."""

    person: str
    single: int
    first: int
    second: int

    @property
    def total(self) -> int:
        return self.single + self.first + self.second


def nearest_rank(values: Sequence[T], percent: int) -> T:
    """The ``percent``-th percentile by the nearest-rank definition: the ``ceil(percent / 100 * n)``-th
    smallest of the ``n`` values, counted from 1. No interpolation: it is always one of the values,
    exactly (the median of an even count is the lower of the two middle values)."""
    if not values:
        raise ValueError("no values: a percentile needs at least one")
    if not 0 < percent <= 100:
        raise ValueError("percent must be in (0, 100]")
    rank = -(-percent * len(values) // 100)  # ceil in integers: no float rounding
    return sorted(values)[rank - 1]  # type: ignore[type-var]


def spread(durations: Sequence[timedelta]) -> Spread:
    if not durations:
        return Spread(0, None, None)
    return Spread(len(durations), nearest_rank(durations, 50), nearest_rank(durations, 90))


def exposure(session: Session) -> Exposure:
    """The four money columns from one pass over the eligible orders (see the digest's docstring)."""
    steps: dict[str, dict[str, Decimal]] = {
        name: defaultdict(Decimal) for name in ("assessed", "offered", "consented", "settled")
    }
    rows = session.exec(
        select(
            Claim.status,
            Claim.offered_at,
            ClaimOrder.currency,
            ClaimOrder.best_price_amount,
            ClaimOrder.restore_amount,
            ClaimOrder.chosen_remedy,
        )
        .join(ClaimOrder, ClaimOrder.claim_id == Claim.id)  # type: ignore[arg-type]
        .where(ClaimOrder.outcome == "eligible", ClaimOrder.currency != "")
        .order_by(ClaimOrder.id)  # type: ignore[arg-type]
    ).all()
    for state, offered_at, currency, best, restore, chosen_remedy in rows:
        remedies = {"best_price": best, "restore": restore}
        amounts = [amount for amount in remedies.values() if amount is not None]
        if amounts and (offered_at is not None or state in OFFER_STATES):
            steps["offered"][currency] += max(amounts)
        elif amounts and state not in CLOSED:
            steps["assessed"][currency] += max(amounts)
        chosen = remedies.get(chosen_remedy or "")
        if chosen is not None and state == State.SETTLED:
            steps["settled"][currency] += chosen
        elif chosen is not None and state != State.REJECTED:
            # Agreed with the client and not carried out, wherever the claim went since (an
            # escalation after consent still owes the client the chosen remedy).
            steps["consented"][currency] += chosen
    return Exposure(**{name: dict(amounts) for name, amounts in steps.items()})


def resolved(session: Session, *, since: datetime, now: datetime) -> dict[str, int]:
    """Claims closed in ``[since, now)``, settled and rejected."""
    counts = dict(
        session.exec(
            select(Claim.status, func.count())
            .where(Claim.status.in_(CLOSED))  # type: ignore[attr-defined]
            .where(Claim.closed_at >= since, Claim.closed_at < now)  # type: ignore[operator]
            .group_by(Claim.status)
        ).all()
    )
    return {state.value: int(counts.get(state.value, 0)) for state in (State.SETTLED, State.REJECTED)}


def first_response(session: Session, *, now: datetime) -> Spread:
    """From each claim's creation to its first reply sent before ``now``, over claims that have one."""
    first: dict[int, tuple[datetime, datetime]] = {}
    rows = session.exec(
        select(Reply.claim_id, Claim.created_at, Reply.sent_at)
        .join(Claim, Claim.id == Reply.claim_id)  # type: ignore[arg-type]
        .where(Reply.status == ReplyStatus.SENT, Reply.sent_at.is_not(None), Reply.sent_at < now)  # type: ignore[union-attr, operator]
    ).all()
    for claim_id, created_at, sent_at in rows:
        if claim_id not in first or sent_at < first[claim_id][1]:
            first[claim_id] = (created_at, sent_at)
    return spread([sent - created for created, sent in first.values()])


def resolution(session: Session, *, now: datetime) -> Spread:
    """From each closed claim's creation to its closing, over claims closed before ``now``."""
    rows = session.exec(
        select(Claim.created_at, Claim.closed_at)
        .where(Claim.status.in_(CLOSED))  # type: ignore[attr-defined]
        .where(Claim.closed_at.is_not(None), Claim.closed_at < now)  # type: ignore[union-attr, operator]
    ).all()
    return spread([closed - created for created, closed in rows])


def business_days_after(day: date, today: date, holidays: Collection[date]) -> int:
    """Business days in ``(day, today]``: ``bot.claims.deadlines`` counts them so (the day of receipt is
    day 0; N business days after it is the Nth business day strictly after it). 0 when ``day >= today``."""
    count, current = 0, day
    while current < today:
        current += timedelta(days=1)
        count += is_business_day(current, holidays)
    return count


def backlog_by_age(
    session: Session, *, now: datetime, tz: tzinfo, holidays: Collection[date]
) -> list[AgeBucket]:
    """Open claims by business days since their local day of receipt, in ``AGE_BOUNDS`` buckets."""
    holidays = frozenset(holidays)
    today = local_day(now, tz)
    ages: dict[date, int] = {}
    counts = [0] * len(AGE_BOUNDS)
    for created_at in session.exec(select(Claim.created_at).where(Claim.status.not_in(CLOSED))).all():  # type: ignore[attr-defined]
        day = local_day(created_at, tz)
        if day not in ages:
            ages[day] = business_days_after(day, today, holidays)
        counts[bisect_right(AGE_BOUNDS, ages[day]) - 1] += 1
    highs: list[int | None] = [*AGE_BOUNDS[1:], None]
    return [AgeBucket(low, high, count) for low, high, count in zip(AGE_BOUNDS, highs, counts, strict=True)]


def approvals(session: Session, *, since: datetime, now: datetime) -> list[PersonApprovals]:
    """Approvals recorded in the claims' history in ``[since, now)``, per person, most first.

    A ``reply_approved`` event is a second approval when its reply has a first approver (only a
    large offer's first approval sets ``first_approved_by``), otherwise a single one."""
    events = session.exec(
        select(ClaimEvent.actor, ClaimEvent.event, ClaimEvent.detail)
        .where(ClaimEvent.event.in_((APPROVED, FIRST_APPROVAL)))  # type: ignore[attr-defined]
        .where(ClaimEvent.at >= since, ClaimEvent.at < now)  # type: ignore[operator]
    ).all()
    named = [_REPLY_ID.match(detail) for _, event, detail in events if event == APPROVED]
    ids = sorted({int(match.group(1)) for match in named if match})
    two_step: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        two_step.update(
            session.exec(
                select(Reply.id).where(Reply.id.in_(chunk), Reply.first_approved_by != "")  # type: ignore[union-attr]
            ).all()  # type: ignore[arg-type]
        )
    people: dict[str, dict[str, int]] = defaultdict(lambda: {"single": 0, "first": 0, "second": 0})
    for actor, event, detail in events:
        match = _REPLY_ID.match(detail)
        if event == FIRST_APPROVAL:
            people[actor]["first"] += 1
        elif match and int(match.group(1)) in two_step:
            people[actor]["second"] += 1
        else:
            people[actor]["single"] += 1
    rows = [PersonApprovals(person, **counts) for person, counts in people.items()]
    return sorted(rows, key=lambda row: (-row.total, row.person))
