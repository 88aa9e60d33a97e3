"""The letters' wording: each shortcut gives what Jinja's general path gives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.filters import do_wordwrap

from bot.config import DEFAULT_TEMPLATES
from bot.stages.draft import _environment
from bot.stages.wording import LOCALES, _date, _moment, _named_amount, _wordwrap

_SPACES = " \t\u3000\u00a0"
_PIECES = ["a", "bb", "-", "--", "7", "客", "x" * 30, *_SPACES]


@given(
    st.lists(
        st.lists(st.sampled_from(_PIECES), max_size=40).map("".join),
        max_size=4,
    ).map("\n".join),
    st.integers(min_value=1, max_value=40),
    st.booleans(),
    st.sampled_from([None, "\n    ", ""]),
    st.booleans(),
)
def test_wordwrap_gives_what_jinjas_gives(
    text: str, width: int, break_long_words: bool, wrapstring: str | None, break_on_hyphens: bool
) -> None:
    env = _environment(DEFAULT_TEMPLATES.resolve())
    args = (width, break_long_words, wrapstring, break_on_hyphens)
    assert _wordwrap(env, text, *args) == do_wordwrap(env, text, *args)


# Amounts of up to 18 digits before the point: beyond the 28 digits of Python's decimal context,
# Babel's own quantize fails (1E+26 with two places), and no claim comes near.
_AMOUNTS = {"min_value": Decimal("-1E18"), "max_value": Decimal("1E18"), "allow_nan": False}


@given(
    st.one_of(
        st.integers(0, 8).flatmap(lambda places: st.decimals(**_AMOUNTS, places=places)),
        st.sampled_from(["0", "1", "1.00", "-1", "0.5", "-0.00", "1E+3", "1179", "-7814.4"]).map(Decimal),
        st.decimals(**_AMOUNTS),
    ),
    st.sampled_from(["USD", "JPY", "EUR", "HKD", "AUD", "SGD", "GBP", "CNY", "KWD", "XAU", "ZZZ"]),
    st.sampled_from(sorted(LOCALES)),
    st.booleans(),
)
def test_amounts_are_named_as_babels_format_currency_names_them(
    amount: Decimal, currency: str, language: str, exact: bool
) -> None:
    expected = format_currency(
        amount, currency, locale=LOCALES[language], format_type="name", decimal_quantization=not exact
    )
    assert _named_amount(str(amount), currency, language, exact) == expected


@dataclass
class _Leg:
    used: Decimal
    _hidden: str = "secret"
    label: object = None


def test_the_sandbox_reads_keys_and_fields_as_before_and_still_refuses_the_private() -> None:
    env = _environment(DEFAULT_TEMPLATES.resolve())

    def render(source: str, **values: object) -> str:
        return env.from_string(source).render(**values)

    assert render("{{ o.ticket }} {{ o['ticket'] }}", o={"ticket": "123"}) == "123 123"
    # A dict's own attribute is still the attribute, as in Jinja: not a key of the same name.
    assert render("{{ o.items is callable }}", o={"items": "mine"}) == "True"
    assert render("{{ leg.used }}", leg=_Leg(Decimal("1.25"))) == "1.25"
    assert render("{{ leg.label.upper() }}", leg=_Leg(Decimal(1), label="abc")) == "ABC"
    with pytest.raises(UndefinedError):
        render("{{ o.missing }}", o={"ticket": "123"})
    with pytest.raises(SecurityError):
        render("{{ leg._hidden }}", leg=_Leg(Decimal(1)))
    with pytest.raises(SecurityError):
        render("{{ leg.label.__class__ }}", leg=_Leg(Decimal(1), label="x"))


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([ZoneInfo("Asia/Hong_Kong"), ZoneInfo("America/New_York"), UTC]),
    ),
    st.sampled_from(sorted(LOCALES)),
)
def test_days_are_named_as_babels_format_date_names_them_in_the_moments_own_zone(
    moment: datetime, language: str
) -> None:
    context = {"language": language}
    locale = LOCALES[language]
    # The same instant in another zone may fall on another day: each is named by its own.
    for value in (moment, moment.astimezone(ZoneInfo("Pacific/Kiritimati")), moment.date()):
        assert _date(context, value) == format_date(value, format="long", locale=locale)
    assert _moment(context, moment).startswith(format_date(moment, format="long", locale=locale))
