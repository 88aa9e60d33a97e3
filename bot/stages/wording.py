"""How a letter writes what its context holds, for the templates of ``bot.stages.draft``:
amounts, numbers, days and moments in the reader's language (with Babel), paragraphs wrapped
as Jinja's ``wordwrap`` wraps them, and the sandbox every template runs in.

A storm drafts tens of thousands of letters, each of which states the same lots, rates and
paragraphs as many others: what a letter repeats is worked out once (``lru_cache``), and each
shortcut gives exactly what the general path gives.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, get_timezone_name
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_name,
    get_currency_unit_pattern,
    parse_pattern,
)
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    pass_environment,
    select_autoescape,
)
from jinja2.filters import do_wordwrap
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

LOCALES = {"en": "en_US", "zh-Hans": "zh_Hans_CN", "zh-Hant": "zh_Hant_HK"}
# Parsed once: Babel parses a locale given by name on every call, most of a letter's cost.
_LOCALE = {language: Locale.parse(name) for language, name in LOCALES.items()}


@pass_context
def _money(context: Context, amount: Decimal, currency: str, exact: bool = False) -> str:
    """The amount with the currency named in the reader's language: ``1,179.00 US dollars``,
    ``1,179.00美元``. Named, not a symbol: "$" is ambiguous to clients of AUD, HKD or SGD accounts.
    ``exact``: a figure of a computation, with every digit it has (``-7,814.4日元``,
    ``72.605美元``), so that the terms a letter adds up are the ones the bot added."""
    if isinstance(amount, Decimal):
        # Keyed by the digits: Decimal("1.0") == Decimal("1.00"), but an exact figure shows both.
        return _named_amount(str(amount), currency, context["language"], exact)
    return format_currency(
        amount,
        currency,
        locale=_LOCALE[context["language"]],
        format_type="name",
        decimal_quantization=not exact,
    )


@lru_cache(maxsize=4096)
def _named_amount(digits: str, currency: str, language: str, exact: bool) -> str:
    """Babel's long currency name is its slowest format, and a letter repeats each amount in
    its text, its HTML and its English copy. Worked out as Babel does (CLDR's unit pattern and
    the currency's name for the amount's plural category, around the amount in the locale's
    decimal pattern), with the words kept per category: half the cost of ``format_currency``."""
    number, locale = Decimal(digits), _LOCALE[language]
    try:
        category = locale.plural_form(number)
    except (OverflowError, ValueError):
        return format_currency(
            number, currency, locale=locale, format_type="name", decimal_quantization=not exact
        )
    words = _CURRENCY_WORDS.get((currency, language, category))
    if words is None:
        words = _CURRENCY_WORDS[currency, language, category] = (
            get_currency_unit_pattern(currency, count=number, locale=locale),
            get_currency_name(currency, count=number, locale=locale),
        )
    amount = _DECIMAL_PATTERN[language].apply(
        number,
        locale,
        currency=currency,
        currency_digits=True,
        decimal_quantization=not exact,
        group_separator=True,
        numbering_system="latn",
    )
    return words[0].format(amount, words[1])


# (currency, language, plural category) -> the unit pattern and the currency's name.
_CURRENCY_WORDS: dict[tuple[str, str, str], tuple[str, str]] = {}
_DECIMAL_PATTERN = {
    language: parse_pattern(locale.decimal_formats[None]) for language, locale in _LOCALE.items()
}


@pass_context
def _number(context: Context, value: Decimal) -> str:
    if isinstance(value, Decimal):
        return _decimal_text(str(value), context["language"])
    return format_decimal(value, locale=_LOCALE[context["language"]], decimal_quantization=False)


@lru_cache(maxsize=4096)
def _decimal_text(digits: str, language: str) -> str:
    """A letter states the same lots, contract sizes and rates again and again."""
    return format_decimal(Decimal(digits), locale=_LOCALE[language], decimal_quantization=False)


@pass_environment
def _wordwrap(
    environment: Environment,
    s: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    """Jinja's ``wordwrap``, with the same result: a paragraph that letters repeat (the
    decision, the route to the ombudsman) is wrapped once, and a line that fits is not wrapped
    at all. TextWrapper was a sixth of a letter's cost."""
    if type(s) is not str:
        return do_wordwrap(environment, s, width, break_long_words, wrapstring, break_on_hyphens)
    joint = environment.newline_sequence if wrapstring is None else wrapstring
    return _wrapped(s, width, break_long_words, joint, break_on_hyphens)


@lru_cache(maxsize=4096)
def _wrapped(s: str, width: int, break_long_words: bool, joint: str, break_on_hyphens: bool) -> str:
    lines = []
    for line in s.splitlines():
        if line and len(line) <= width and not line[-1].isspace():
            # What TextWrapper gives a line that fits and ends in no space: the line.
            lines.append(line)
            continue
        pieces = _plain_pieces(line, width, break_on_hyphens)
        if pieces is not None:
            lines.append(joint.join(_filled(pieces, width)))
            continue
        wrapped = textwrap.wrap(
            line,
            width=width,
            expand_tabs=False,
            replace_whitespace=False,
            break_long_words=break_long_words,
            break_on_hyphens=break_on_hyphens,
        )
        lines.append(joint.join(wrapped))
    return joint.join(lines)


def _plain_pieces(line: str, width: int, break_on_hyphens: bool) -> list[str] | None:
    """The pieces of a line TextWrapper would only fill: words between single spaces and no
    other whitespace (it strips Unicode's too), cut where it cuts them (after a hyphen between
    letters, with ``break_on_hyphens``), none longer than ``width``; each piece after the first
    starts with the space before it, if any. None for any other line."""
    if not _SPACED_WORDS.fullmatch(line):
        return None
    if break_on_hyphens and "-" in line:
        pieces: list[str] = []
        spaced = False
        for chunk in _CHUNKS.split(line):
            if chunk == " ":
                spaced = True
            elif chunk:
                if len(chunk) > width:
                    return None
                pieces.append(" " + chunk if spaced else chunk)
                spaced = False
        return pieces
    words = line.split(" ")
    if any(len(word) > width for word in words):
        return None
    return [words[0], *(" " + word for word in words[1:])]


_SPACED_WORDS = re.compile(r"\S+(?: \S+)*")
# TextWrapper's own pattern for the chunks of a line it may break at hyphens.
_CHUNKS = textwrap.TextWrapper.wordsep_re


def _filled(pieces: list[str], width: int) -> list[str]:
    """TextWrapper's greedy fill: as many pieces as fit on each line, without the space a line
    would end or start with."""
    lines = []
    current = pieces[0]
    for piece in pieces[1:]:
        if len(current) + len(piece) <= width:
            current += piece
        else:
            lines.append(current)
            current = piece[1:] if piece[0] == " " else piece
    lines.append(current)
    return lines


@pass_context
def _date(context: Context, value: date | datetime) -> str:
    # Babel writes a moment's own day, in its zone: the day is the key.
    day = value.date() if isinstance(value, datetime) else value
    return _day_text(day, context["language"])


@lru_cache(maxsize=1024)
def _day_text(day: date, language: str) -> str:
    """A letter names the same few days (its deadline, the day the claim came) again and again."""
    return format_date(day, format="long", locale=_LOCALE[language])


def utc_offset(moment: datetime) -> str:
    """``UTC+08:00``: a moment's zone as an offset, the same in every language."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@pass_context
def _moment(context: Context, value: date | datetime, inline: bool = False) -> str:
    """A moment with its day, time and zone: ``July 27, 2019, 23:59 Hong Kong Standard Time
    (UTC+08:00)``, ``2019年7月27日 23:59（香港标准时间，UTC+08:00）``; a zone that is only an
    offset is named by it: ``2019年6月26日 20:42（UTC+08:00）``. ``inline``, for a moment inside
    brackets: no zone name and no brackets, ``2019年6月26日 20:42 UTC+08:00``. A bare date is its day."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        return _date(context, value)
    # The zone is part of the key: moments equal in UTC are written differently in two zones.
    return _moment_text(value, value.tzinfo, context["language"], inline)


@lru_cache(maxsize=4096)
def _moment_text(value: datetime, zone_key: object, language: str, inline: bool) -> str:
    locale = _LOCALE[language]
    day = _day_text(value.date(), language)
    utc = utc_offset(value)
    named = isinstance(value.tzinfo, ZoneInfo)
    zone = get_timezone_name(value, width="long", locale=locale) if named else ""
    if inline:
        return f"{day}, {value:%H:%M} {utc}" if language == "en" else f"{day} {value:%H:%M} {utc}"
    if language == "en":
        return f"{day}, {value:%H:%M} {zone} ({utc})" if zone else f"{day}, {value:%H:%M} ({utc})"
    return f"{day} {value:%H:%M}（{zone}，{utc}）" if zone else f"{day} {value:%H:%M}（{utc}）"


class _Sandbox(SandboxedEnvironment):
    """The sandbox, answering the two lookups letters make most without the general path's
    exception and checks, with the same result: a key of a plain dict (``order.ticket``: no
    attribute of a dict has that name) and a field of a dataclass holding data (``leg.used``:
    not a name the sandbox refuses). About a third of a letter's lookups each."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        kind = type(obj)
        if kind is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                return self.undefined(obj=obj, name=attribute)
        if attribute in _data_fields(kind):
            value = getattr(obj, attribute, _UNSET)
            if value is not _UNSET and not callable(value):
                return value
        return super().getattr(obj, attribute)


_DICT_ATTRIBUTES = frozenset(dir(dict))
_UNSET = object()


@lru_cache(maxsize=64)
def _data_fields(kind: type) -> frozenset[str]:
    if not dataclasses.is_dataclass(kind):
        return frozenset()
    return frozenset(f.name for f in dataclasses.fields(kind) if not f.name.startswith("_"))


def sandboxed(templates_dir: Path) -> SandboxedEnvironment:
    """The environment every template the bot renders runs in: sandboxed (templates are
    configuration, editable by staff), strict about missing values, escaping ``.html.j2``.
    A template is read once per process: the ones checked at start are the ones used, and no
    letter pays for a look at the file's time."""
    return _Sandbox(
        loader=FileSystemLoader(str(templates_dir)),
        auto_reload=False,
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


FILTERS = {
    "money": _money,
    "number": _number,
    "date": _date,
    "deadline": _moment,
    "moment": _moment,
    "wordwrap": _wordwrap,
}
