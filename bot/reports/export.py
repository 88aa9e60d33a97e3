"""The complaints register as regulators' internal dispute resolution (IDR) reports ask for it.

``export_complaints`` writes one CSV row per claim received between two dates (inclusive, by
the local date of receipt), modelled on ASIC's IDR data dictionary: one row per complaint,
coded values, no free text. UTF-8, a header row, ISO 8601 dates, amounts as plain decimals
(``1179.00``, no thousands separators), written with the ``csv`` module.

Columns:

``complaint_id``
    The claim reference (``CLM-2019-000123``): unique, never reused.
``channel``
    How the complaint arrived: always ``email``.
``incident``
    The incident the claim belongs to (its configured name).
``received_date``
    Local date (the broker's zone) the claim was registered.
``status``
    ``Open`` or ``Closed`` (settled or rejected).
``closed_date``
    Local date it closed; empty while open.
``days_taken``
    Calendar days from ``received_date`` to ``days_taken_to``.
``days_taken_to``
    The date the count ends: the closed date for closed complaints, the report date
    (``as_of``, today by default) for open ones.
``response_due``
    Local date the final response is due under the rules given (``bot.claims.deadlines``; the
    earlier of the regulator's limit and the broker's promise).
``within_time``
    ``yes``: closed by ``response_due``; ``no``: closed late, or still open after it;
    empty: open and not yet due.
``product``
    ``Margin FX / CFD``.
``issue``
    ``Trading platform outage: abnormal prices / forced liquidation``.
``outcome``
    One of: ``Resolved in favour of complainant`` (settled), ``Not resolved in
    complainant's favour`` (rejected), ``Open: offer accepted`` (consented, not yet paid),
    ``Open: offer made`` (offer sent, no answer yet), ``Open: offer declined`` (refused,
    with a person), ``Open`` (anything earlier, or escalated to a person).
``orders``, ``eligible_orders``
    How many orders the claim is about, and how many of them the outage affected.
``compensation_amount``, ``compensation_currency``
    The sum of the remedies the client chose (agreed; paid once the status is settled);
    empty when none was chosen, and for rejected claims. Should a claim ever span two
    currencies, the amounts and currencies are listed in the same order, separated by ``;``.

No personal data: no names, email addresses, account or order numbers. Regulators' IDR
reporting is aggregate and asks for none of it; the reference leads back to the claim for
anyone entitled to look.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import TextIO

from sqlmodel import Session, select

from bot.claims.deadlines import Rules, deadlines, local_day
from bot.claims.lifecycle import CLOSED, State
from bot.storage.tables import Claim, ClaimOrder, utcnow

COLUMNS = (
    "complaint_id",
    "channel",
    "incident",
    "received_date",
    "status",
    "closed_date",
    "days_taken",
    "days_taken_to",
    "response_due",
    "within_time",
    "product",
    "issue",
    "outcome",
    "orders",
    "eligible_orders",
    "compensation_amount",
    "compensation_currency",
)
PRODUCT = "Margin FX / CFD"
ISSUE = "Trading platform outage: abnormal prices / forced liquidation"
OUTCOMES = {
    State.SETTLED: "Resolved in favour of complainant",
    State.REJECTED: "Not resolved in complainant's favour",
    State.CONSENTED: "Open: offer accepted",
    State.OFFER_SENT: "Open: offer made",
    State.REFUSED: "Open: offer declined",
}
OPEN = "Open"


def export_complaints(
    session: Session,
    start: date,
    end: date,
    out: TextIO,
    rules: Rules,
    *,
    tz: tzinfo = UTC,
    holidays: Collection[date] = (),
    as_of: date | None = None,
) -> int:
    """Write the header and one row per claim received from ``start`` to ``end`` (local dates,
    both included); return the number of rows. ``out`` should be opened with ``newline=""``."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    as_of = as_of or local_day(utcnow(), tz)
    since = datetime.combine(start, time.min, tzinfo=tz).astimezone(UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    claims = session.exec(
        select(Claim)
        .where(Claim.created_at >= since, Claim.created_at < until)
        .order_by(Claim.created_at, Claim.id)
    ).all()
    orders: dict[int, list[ClaimOrder]] = defaultdict(list)
    ids = [claim.id for claim in claims]
    for row in session.exec(
        select(ClaimOrder).where(ClaimOrder.claim_id.in_(ids)).order_by(ClaimOrder.id)
    ).all():  # type: ignore[attr-defined]
        orders[row.claim_id].append(row)
    holidays = frozenset(holidays)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for claim in claims:
        assert claim.id is not None
        writer.writerow(_row(claim, orders[claim.id], rules, tz, holidays, as_of))
    return len(claims)


def _row(
    claim: Claim, rows: list[ClaimOrder], rules: Rules, tz: tzinfo, holidays: frozenset[date], as_of: date
) -> list[str]:
    received = local_day(claim.created_at, tz)
    closed = claim.status in CLOSED
    closed_on = local_day(claim.closed_at, tz) if closed and claim.closed_at else None
    counted_to = closed_on or as_of
    due = deadlines(claim.created_at, rules, holidays, tz).due_by
    due_on = local_day(due, tz)
    if closed:
        within = "yes" if claim.closed_at is not None and claim.closed_at <= due else "no"
    else:
        within = "no" if as_of > due_on else ""
    amounts, currencies = _compensation(claim, rows)
    return [
        claim.reference or "",
        "email",
        claim.incident,
        received.isoformat(),
        "Closed" if closed else "Open",
        closed_on.isoformat() if closed_on else "",
        str((counted_to - received).days),
        counted_to.isoformat(),
        due_on.isoformat(),
        within,
        PRODUCT,
        ISSUE,
        OUTCOMES.get(State(claim.status), OPEN),
        str(len(rows)),
        str(sum(1 for row in rows if row.outcome == "eligible")),
        amounts,
        currencies,
    ]


def _compensation(claim: Claim, rows: list[ClaimOrder]) -> tuple[str, str]:
    if claim.status == State.REJECTED:
        return "", ""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        chosen = {"best_price": row.best_price_amount, "restore": row.restore_amount}.get(
            row.chosen_remedy or ""
        )
        if chosen is not None:
            totals[row.currency] += chosen
    currencies = sorted(totals)
    return ";".join(format(totals[c], "f") for c in currencies), ";".join(currencies)
