"""Complaint-handling clocks: by when a complaint must be acknowledged and answered.

Pure: no database, no settings object. ``deadlines`` takes the moment a complaint arrived,
the rules that apply, the broker's holidays and local time zone, and gives the two
deadlines as timezone-aware UTC datetimes; ``status`` says how a deadline stands at a moment.

How days are counted (the same for every rule set):

- A deadline falls at the **end of a local day** (23:59:59.999999 in the broker's zone),
  never at a time of day: "within 1 business day" of a complaint received at 23:30 on a
  Friday is the end of Monday, not 23:30 on Monday.
- The **day of receipt is day 0**, whatever time it arrived, in the broker's zone: a
  complaint that reached the server at 16:30 UTC on a Friday arrived on Saturday 00:30 in
  Hong Kong and is counted from Saturday.
- **Business days** skip Saturdays, Sundays and the configured holidays; N business days
  after receipt is the Nth business day strictly after the day of receipt (a complaint
  received on a Saturday is acknowledged by the end of Monday, one received on a Monday by
  the end of Tuesday).
- **Calendar days** and **weeks** (7 calendar days each) count every day, holidays
  included; a deadline on a weekend stays there (none of the rules below moves it).
- **Months** keep the day of the month, clamped to the last day of a shorter month:
  31 January + 2 months is 31 March, 31 December + 2 months is 28 (or 29) February.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

Unit = Literal["calendar_days", "business_days", "weeks", "months"]
Standing = Literal["ok", "due_soon", "overdue"]
UNITS: tuple[Unit, ...] = ("calendar_days", "business_days", "weeks", "months")


@dataclass(frozen=True)
class Period:
    """A length of time in one of ``UNITS``: ``Period(30, "calendar_days")``."""

    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}; use one of: {', '.join(UNITS)}")
        if self.amount < 0:
            raise ValueError("a period cannot be negative")

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"


@dataclass(frozen=True)
class Rules:
    """One regulator's complaint-handling clocks, and optionally the broker's own promise.

    ``acknowledge_business_days``: None when the rules set no acknowledgement time.
    ``resolve``: the longest time to a final response. ``promise``: what the broker told its
    clients (its notice, its replies), which may be shorter than the regulator's limit;
    ``Deadlines.promised_by`` follows it, and ``Deadlines.due_by`` is the earlier of the two.
    """

    name: str
    acknowledge_business_days: int | None
    resolve: Period
    promise: Period | None = None
    source: str = ""

    def promising(self, promise: Period | None) -> Rules:
        """The same rules with the broker's own promise added (or removed with None)."""
        return replace(self, promise=promise)


ASIC = Rules(
    "asic",
    acknowledge_business_days=1,
    resolve=Period(30, "calendar_days"),
    source="ASIC RG 271 (internal dispute resolution): acknowledge within 24 hours or 1 business "
    "day; final IDR response within 30 calendar days of receipt",
)
FCA = Rules(
    "fca",
    acknowledge_business_days=5,
    resolve=Period(8, "weeks"),
    source="FCA DISP 1.6.1R asks for a 'prompt' written acknowledgement and sets no number: "
    "5 business days is this bot's reading of 'prompt'. DISP 1.6.2R: final response by the end "
    "of eight weeks after receipt",
)
"""FCA DISP 1.6: final response within 8 weeks. The acknowledgement must be "prompt", which
DISP does not quantify; 5 business days is the reading used here (a broker may tighten it
with ``dataclasses.replace(FCA, acknowledge_business_days=1)``)."""
CYSEC = Rules(
    "cysec",
    acknowledge_business_days=5,
    resolve=Period(2, "months"),
    source="CySEC Directive DI144-2007-01 paragraph 13 and its 2015 circular: acknowledge within "
    "five days (read here as business days); outcome within 2 months of receipt (3 at most, "
    "with reasons, which these clocks do not model)",
)
BROKER = Rules(
    "broker",
    acknowledge_business_days=1,
    resolve=Period(14, "calendar_days"),
    source="the broker's outage notice: an answer in about two weeks (14 calendar days); "
    "acknowledged by the next business day",
)
"""The broker's own promise as the only clock: its notice said "about two weeks". Combine the
promise with a regulator's limits with ``FCA.promising(Period(14, "calendar_days"))``."""
PRESETS: dict[str, Rules] = {rules.name: rules for rules in (ASIC, FCA, CYSEC, BROKER)}


@dataclass(frozen=True)
class Deadlines:
    """UTC-aware end-of-local-day deadlines. ``acknowledge_by`` is None when the rules set none."""

    acknowledge_by: datetime | None
    resolve_by: datetime
    promised_by: datetime | None = None

    @property
    def due_by(self) -> datetime:
        """The earlier of the regulator's limit and the broker's own promise."""
        return min(self.resolve_by, self.promised_by) if self.promised_by else self.resolve_by


def is_business_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(day: date, count: int, holidays: Collection[date] = ()) -> date:
    """The ``count``-th business day strictly after ``day`` (``day`` itself when count is 0)."""
    if count < 0:
        raise ValueError("count cannot be negative")
    while count:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            count -= 1
    return day


def add_months(day: date, months: int) -> date:
    """Same day of the month ``months`` later, clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_period(day: date, period: Period, holidays: Collection[date] = ()) -> date:
    if period.unit == "business_days":
        return add_business_days(day, period.amount, holidays)
    if period.unit == "months":
        return add_months(day, period.amount)
    days = period.amount * (7 if period.unit == "weeks" else 1)
    return day + timedelta(days=days)


def end_of_day(day: date, tz: tzinfo) -> datetime:
    """The last instant of ``day`` in ``tz``, in UTC."""
    return datetime.combine(day, time.max, tzinfo=tz).astimezone(UTC)


def local_day(moment: datetime, tz: tzinfo) -> date:
    if moment.tzinfo is None:
        raise ValueError("naive datetime; give a timezone-aware one (the database gives UTC)")
    return moment.astimezone(tz).date()


def deadlines(
    received_at: datetime, rules: Rules, holidays: Collection[date] = (), tz: tzinfo = UTC
) -> Deadlines:
    """When a complaint received at ``received_at`` must be acknowledged and answered."""
    day = local_day(received_at, tz)
    holidays = frozenset(holidays)
    acknowledge = (
        None
        if rules.acknowledge_business_days is None
        else end_of_day(add_business_days(day, rules.acknowledge_business_days, holidays), tz)
    )
    resolve = end_of_day(add_period(day, rules.resolve, holidays), tz)
    promised = None if rules.promise is None else end_of_day(add_period(day, rules.promise, holidays), tz)
    return Deadlines(acknowledge, resolve, promised)


def status(deadline: datetime, now: datetime, warn_days: int = 2) -> Standing:
    """``overdue`` once ``now`` is past the deadline, ``due_soon`` within ``warn_days`` days of it
    (24-hour days, the deadline itself included), else ``ok``."""
    if deadline.tzinfo is None or now.tzinfo is None:
        raise ValueError("naive datetime; give timezone-aware ones")
    if now > deadline:
        return "overdue"
    if deadline - now <= timedelta(days=warn_days):
        return "due_soon"
    return "ok"
