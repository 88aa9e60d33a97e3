from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.claims.deadlines import (
    ASIC,
    BROKER,
    CYSEC,
    FCA,
    PRESETS,
    Period,
    Rules,
    add_months,
    deadlines,
    is_business_day,
    status,
)
from bot.config import DeadlineSettings

HK = ZoneInfo("Asia/Hong_Kong")
# Hong Kong's Easter holidays in 2024, and Ching Ming.
EASTER_2024 = frozenset({date(2024, 3, 29), date(2024, 3, 30), date(2024, 4, 1), date(2024, 4, 4)})


def hk(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HK)


def end_of(year: int, month: int, day: int, tz: tzinfo = HK) -> datetime:
    return datetime.combine(date(year, month, day), time.max, tzinfo=tz).astimezone(UTC)


def test_the_presets_say_what_each_regulator_asks() -> None:
    assert set(PRESETS) == {"asic", "fca", "cysec", "broker"}
    assert (ASIC.acknowledge_business_days, ASIC.resolve) == (1, Period(30, "calendar_days"))
    assert (FCA.acknowledge_business_days, FCA.resolve) == (5, Period(8, "weeks"))
    assert (CYSEC.acknowledge_business_days, CYSEC.resolve) == (5, Period(2, "months"))
    assert (BROKER.acknowledge_business_days, BROKER.resolve) == (1, Period(14, "calendar_days"))
    assert "prompt" in (FCA.source or "")


def test_a_claim_received_late_on_friday_is_acknowledged_by_the_end_of_monday() -> None:
    friday_night = hk(2024, 3, 15, 23, 30)
    due = deadlines(friday_night, ASIC, (), HK)
    assert due.acknowledge_by == end_of(2024, 3, 18)
    assert due.acknowledge_by == datetime(2024, 3, 18, 15, 59, 59, 999999, tzinfo=UTC)
    assert due.acknowledge_by.tzinfo is UTC


def test_days_are_counted_in_the_brokers_zone_not_utc() -> None:
    # 17:00 UTC on Sunday is 01:00 on Monday in Hong Kong: counted from Monday, due Tuesday.
    sunday_utc = datetime(2024, 3, 17, 17, 0, tzinfo=UTC)
    assert deadlines(sunday_utc, ASIC, (), HK).acknowledge_by == end_of(2024, 3, 19)
    assert deadlines(sunday_utc, ASIC, (), UTC).acknowledge_by == end_of(2024, 3, 18, UTC)


def test_a_weekend_claim_is_acknowledged_by_the_first_business_day() -> None:
    assert deadlines(hk(2024, 3, 16), ASIC, (), HK).acknowledge_by == end_of(2024, 3, 18)
    assert deadlines(hk(2024, 3, 17), ASIC, (), HK).acknowledge_by == end_of(2024, 3, 18)


def test_holidays_are_not_business_days() -> None:
    maundy_thursday = hk(2024, 3, 28, 10)
    assert deadlines(maundy_thursday, ASIC, (), HK).acknowledge_by == end_of(2024, 3, 29)
    assert deadlines(maundy_thursday, ASIC, EASTER_2024, HK).acknowledge_by == end_of(2024, 4, 2)
    # Five business days over Easter and Ching Ming: 2, 3, 5, 8 and 9 April.
    assert deadlines(maundy_thursday, CYSEC, EASTER_2024, HK).acknowledge_by == end_of(2024, 4, 9)


def test_calendar_day_limits_ignore_weekends_and_holidays() -> None:
    assert deadlines(hk(2024, 3, 15), BROKER, EASTER_2024, HK).resolve_by == end_of(2024, 3, 29)
    assert deadlines(hk(2024, 3, 15), ASIC, EASTER_2024, HK).resolve_by == end_of(2024, 4, 14)


def test_eight_weeks_is_fifty_six_days() -> None:
    assert deadlines(hk(2024, 3, 15), FCA, (), HK).resolve_by == end_of(2024, 5, 10)


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (date(2024, 1, 31), date(2024, 3, 31)),
        (date(2023, 12, 31), date(2024, 2, 29)),
        (date(2022, 12, 31), date(2023, 2, 28)),
        (date(2024, 8, 31), date(2024, 10, 31)),
        (date(2024, 7, 31), date(2024, 9, 30)),
        (date(2024, 11, 15), date(2025, 1, 15)),
    ],
)
def test_two_months_keep_the_day_or_end_the_shorter_month(received: date, expected: date) -> None:
    assert add_months(received, 2) == expected
    moment = datetime.combine(received, time(9, 0), tzinfo=HK)
    assert deadlines(moment, CYSEC, (), HK).resolve_by == end_of(expected.year, expected.month, expected.day)


def test_the_end_of_day_follows_daylight_saving_time() -> None:
    london = ZoneInfo("Europe/London")
    # The clocks went forward on 31 March 2024: midnight there is 23:00 UTC the day before.
    one_day = Rules("one", acknowledge_business_days=None, resolve=Period(1, "calendar_days"))
    due = deadlines(datetime(2024, 3, 30, 12, 0, tzinfo=london), one_day, (), london)
    assert due.acknowledge_by is None
    assert due.resolve_by == datetime(2024, 3, 31, 22, 59, 59, 999999, tzinfo=UTC)


def test_the_brokers_promise_comes_first_when_it_is_shorter() -> None:
    promised = FCA.promising(Period(14, "calendar_days"))
    due = deadlines(hk(2024, 3, 15), promised, (), HK)
    assert (due.resolve_by, due.promised_by) == (end_of(2024, 5, 10), end_of(2024, 3, 29))
    assert due.due_by == end_of(2024, 3, 29)
    assert deadlines(hk(2024, 3, 15), FCA, (), HK).due_by == end_of(2024, 5, 10)


def test_status_says_ok_due_soon_or_overdue() -> None:
    deadline = end_of(2024, 3, 29)
    assert status(deadline, deadline - timedelta(days=3)) == "ok"
    assert status(deadline, deadline - timedelta(days=2)) == "due_soon"
    assert status(deadline, deadline) == "due_soon"
    assert status(deadline, deadline + timedelta(microseconds=1)) == "overdue"
    assert status(deadline, deadline - timedelta(days=3), warn_days=5) == "due_soon"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        deadlines(datetime(2024, 3, 15, 12, 0), ASIC, (), HK)
    with pytest.raises(ValueError, match="naive"):
        status(end_of(2024, 3, 29), datetime(2024, 3, 15))


def test_an_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown unit"):
        Period(3, "fortnights")  # type: ignore[arg-type]


ZONES = st.sampled_from(
    [
        HK,
        UTC,
        ZoneInfo("Europe/London"),
        ZoneInfo("America/New_York"),
        ZoneInfo("Australia/Sydney"),
        ZoneInfo("Asia/Nicosia"),
        timezone(timedelta(hours=-3, minutes=-30)),
    ]
)
MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)
RULES = st.builds(
    Rules,
    name=st.just("any"),
    acknowledge_business_days=st.integers(0, 15),
    resolve=st.builds(
        Period,
        amount=st.integers(0, 70),
        unit=st.sampled_from(["calendar_days", "business_days", "weeks", "months"]),
    ),
)


@st.composite
def holidays_near(draw: st.DrawFn, around: date) -> frozenset[date]:
    offsets = draw(st.frozensets(st.integers(-3, 40), max_size=12))
    return frozenset(around + timedelta(days=offset) for offset in offsets)


@given(received=MOMENTS, tz=ZONES, rules=RULES, data=st.data())
def test_every_deadline_is_the_end_of_a_local_day_in_utc(
    received: datetime, tz: tzinfo, rules: Rules, data: st.DataObject
) -> None:
    holidays = data.draw(holidays_near(received.astimezone(tz).date()))
    due = deadlines(received, rules, holidays, tz)
    for moment in (due.acknowledge_by, due.resolve_by):
        assert moment is not None and moment.tzinfo is UTC
        assert moment.astimezone(tz).time() == time.max
        assert moment >= received


@given(received=MOMENTS, tz=ZONES, count=st.integers(1, 15), data=st.data())
def test_acknowledgement_falls_on_the_nth_business_day_after_receipt(
    received: datetime, tz: tzinfo, count: int, data: st.DataObject
) -> None:
    day = received.astimezone(tz).date()
    holidays = data.draw(holidays_near(day))
    rules = Rules("n", acknowledge_business_days=count, resolve=Period(0, "calendar_days"))
    due = deadlines(received, rules, holidays, tz).acknowledge_by
    assert due is not None
    due_day = due.astimezone(tz).date()
    assert is_business_day(due_day, holidays)
    between = [day + timedelta(days=i) for i in range(1, (due_day - day).days + 1)]
    assert sum(is_business_day(d, holidays) for d in between) == count


@given(received=MOMENTS, tz=ZONES, amount=st.integers(0, 400))
def test_calendar_days_and_weeks_count_every_day(received: datetime, tz: tzinfo, amount: int) -> None:
    day = received.astimezone(tz).date()
    for unit, per in (("calendar_days", 1), ("weeks", 7)):
        rules = Rules("n", acknowledge_business_days=None, resolve=Period(amount, unit))  # type: ignore[arg-type]
        due = deadlines(received, rules, (), tz).resolve_by
        assert (due.astimezone(tz).date() - day).days == amount * per


@given(day=st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 1, 1)), months=st.integers(0, 36))
def test_months_keep_the_day_of_the_month_unless_the_month_is_shorter(day: date, months: int) -> None:
    later = add_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    if later.day != day.day:
        assert later.day < day.day and (later + timedelta(days=1)).day == 1


@given(first=MOMENTS, later_by=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=90)), tz=ZONES)
def test_a_later_complaint_never_gets_an_earlier_deadline(
    first: datetime, later_by: timedelta, tz: tzinfo
) -> None:
    second = first + later_by
    assume(second.year < 2091)
    for rules in PRESETS.values():
        a, b = deadlines(first, rules, EASTER_2024, tz), deadlines(second, rules, EASTER_2024, tz)
        assert a.resolve_by <= b.resolve_by
        assert a.acknowledge_by is not None and b.acknowledge_by is not None
        assert a.acknowledge_by <= b.acknowledge_by


@given(deadline=MOMENTS, now=MOMENTS, warn_days=st.integers(0, 10))
def test_status_agrees_with_the_clock(deadline: datetime, now: datetime, warn_days: int) -> None:
    standing = status(deadline, now, warn_days)
    assert (standing == "overdue") == (now > deadline)
    assert (standing == "ok") == (now < deadline - timedelta(days=warn_days))


def test_the_deadline_settings_choose_a_preset_and_add_the_brokers_promise() -> None:
    settings = DeadlineSettings.model_validate(
        {"preset": "fca", "promise_days": 14, "holidays": "2024-03-29, 2024-04-01", "timezone": "+08:00"}
    )
    assert settings.rules.resolve == Period(8, "weeks")
    assert settings.rules.promise == Period(14, "calendar_days")
    assert settings.holidays == [date(2024, 3, 29), date(2024, 4, 1)]
    due = deadlines(hk(2024, 3, 15), settings.rules, settings.holidays, settings.tz)
    assert due.due_by == end_of(2024, 3, 29)
    assert DeadlineSettings().rules is BROKER and DeadlineSettings().tz == HK
    with pytest.raises(ValidationError, match="unknown preset 'sec'"):
        DeadlineSettings(preset="sec")
    with pytest.raises(ValidationError, match="unknown time zone"):
        DeadlineSettings(timezone="Hong Kong")
