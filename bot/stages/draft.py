"""Draft stage: render a reply of one kind in the client's language from ``templates/``.

Each kind has three templates per language: ``<kind>.<language>.subject.j2``,
``<kind>.<language>.txt.j2`` and ``<kind>.<language>.html.j2``. They run in a sandbox with
StrictUndefined and HTML autoescaping, and ``check_templates`` compares every variable a
template uses with what the bot provides for its kind (``VARIABLES``), so a template asking
for a value the bot does not give fails when the worker starts, not in a client's mailbox.
Chinese replies carry the English text below, as the broker's own notice did. Amounts and
dates are formatted for the language with Babel.
"""

from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, get_timezone_name
from babel.numbers import format_currency, format_decimal
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    meta,
    pass_context,
    pass_environment,
    select_autoescape,
)
from jinja2.filters import do_wordwrap
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from bot.stages.extract import LANGUAGES

# "letters": who signs ([letters] settings: broker_name, sign_off, contact, each per language).
COMMON = frozenset({"reference", "name", "language", "answer_within_days", "letters"})

VARIABLES: dict[str, frozenset[str]] = {
    # The claim is registered; says when to expect an answer.
    # "account" is the first of "accounts" (a claim may cover several of the client's).
    "acknowledgement": COMMON | {"received_on", "account", "accounts", "tickets"},
    # Says exactly what is missing: "account", "orders" and/or tickets the records do not know.
    "needs_information": COMMON | {"missing", "unknown_tickets"},
    # The sender is not the account's registered address: reveals nothing about any account.
    "unverified_sender": COMMON,
    # Per order: what happened, the remedies with amounts and how they were computed (each
    # remedy's "workings", a ``bot.stages.assess.Workings`` with times in the letter's zone).
    # It acknowledges the claim too ("received_on"): when the offer is ready as the claim is
    # registered, it is the only letter.
    "offer": COMMON
    | {
        "received_on",
        "account",
        "accounts",
        "incident_window",
        "orders",
        "ineligible",
        "listed_by_bot",
        "consent_deadline",
        "complaint_rules",
        "totals",
    },
    "consent_received": COMMON | {"chosen"},
    "settled": COMMON | {"chosen", "note"},
    "rejected": COMMON | {"reason", "complaint_rules"},
    "reminder": COMMON | {"offered_on", "consent_deadline"},
    "final_response": COMMON | {"outcome", "reasons", "complaint_rules"},
    # Any other message on an open claim: it is filed and a person will read it.
    "followup_received": COMMON,
    # A reply that answers the offer but proves nothing (not a reply to it, or not authenticated):
    # to the registered address, asking the client to confirm by replying. choice: 1, 2,
    # "refused", or "" for agreement naming no option.
    "consent_confirmation": COMMON | {"choice", "received_on"},
    # A deadline will be missed: says why and when the client will hear from us.
    "delay": COMMON | {"new_date", "reason", "complaint_rules"},
}
KINDS = tuple(VARIABLES)


def option_totals(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the client receives in all, per currency: choosing option 1 for every order, and
    (when any order has one) option 2 wherever it is offered, the other option elsewhere. The
    letter states them at the top, so no client adds up the orders themselves."""
    numbers = sorted({r["number"] for order in orders for r in order["remedies"]})
    totals = []
    for number in numbers:
        amounts: dict[str, Decimal] = {}
        for order in orders:
            picked = next((r for r in order["remedies"] if r["number"] == number), None)
            picked = picked or next(iter(sorted(order["remedies"], key=lambda r: r["number"])), None)
            if picked is not None:
                amounts[order["currency"]] = amounts.get(order["currency"], Decimal(0)) + picked["amount"]
        totals.append({"number": number, "amounts": sorted(amounts.items())})
    return totals


# Kinds that state money: only a supervisor may approve them.
MONEY_KINDS = frozenset({"offer", "consent_received", "settled"})
PARTS = ("subject", "txt", "html")
SEPARATOR = "\n\n" + "-" * 60 + "\nEnglish version\n" + "-" * 60 + "\n\n"
HTML_SEPARATOR = '\n<hr>\n<p lang="en"><em>English version</em></p>\n'
LOCALES = {"en": "en_US", "zh-Hans": "zh_Hans_CN", "zh-Hant": "zh_Hant_HK"}
# Parsed once: Babel parses a locale given by name on every call, most of a letter's cost.
_LOCALE = {language: Locale.parse(name) for language, name in LOCALES.items()}
# How a letter addresses a client whose name the bot does not know, in each language.
DEFAULT_NAMES = {"en": "client", "zh-Hans": "客户", "zh-Hant": "客戶"}


class PerLanguage(dict[str, str]):
    """A context value written once per reply language (a configured text): each half of a
    letter reads it in its own language, so the English copy stays English."""


class TemplateProblem(Exception):
    """A reply template is missing or cannot be rendered; the message names the file."""


@dataclass(frozen=True)
class DraftedReply:
    kind: str
    language: str
    subject: str
    body: str
    html: str


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
    its text, its HTML and its English copy."""
    return format_currency(
        Decimal(digits),
        currency,
        locale=_LOCALE[language],
        format_type="name",
        decimal_quantization=not exact,
    )


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


@pass_context
def _date(context: Context, value: date | datetime) -> str:
    return format_date(value, format="long", locale=_LOCALE[context["language"]])


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
    day = format_date(value, format="long", locale=locale)
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


@lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> SandboxedEnvironment:
    env = sandboxed(templates_dir)
    env.filters.update(
        money=_money, number=_number, date=_date, deadline=_moment, moment=_moment, wordwrap=_wordwrap
    )
    return env


@lru_cache(maxsize=512)
def _template(templates_dir: Path, name: str) -> Template:
    return _environment(templates_dir.resolve()).get_template(name)


def check_templates(templates_dir: Path) -> None:
    """Fail at start-up, naming the file, if a template is missing, broken or asks for a value
    the bot does not provide for its kind. Parts that letters include (``_*.j2``) may use only
    what every kind is given."""
    env = _environment(templates_dir.resolve())
    parts = [(path, COMMON, "every letter") for path in sorted(templates_dir.glob("_*.j2"))]
    for kind, provided in VARIABLES.items():
        for language in LANGUAGES:
            for part in PARTS:
                path = templates_dir / f"{kind}.{language}.{part}.j2"
                if not path.is_file():
                    raise TemplateProblem(f"{path}: template missing (templates_dir = {templates_dir})")
                parts.append((path, provided, f"{kind} replies"))
    for path, provided, what in parts:
        try:
            used = meta.find_undeclared_variables(env.parse(path.read_text(encoding="utf-8")))
        except TemplateError as exc:
            raise TemplateProblem(f"{path}: {exc.__class__.__name__}: {exc}") from exc
        unknown = used - provided
        if unknown:
            raise TemplateProblem(
                f"{path}: uses {', '.join(sorted(unknown))}, which the bot does not provide for "
                f"{what} (it provides: {', '.join(sorted(provided))})"
            )


def draft(
    kind: str, language: str, context: dict[str, Any], *, templates_dir: Path, html: bool = True
) -> DraftedReply:
    """The reply's subject, text and (unless ``html`` is False: drafted later, by ``draft_html``
    from the same context, when a person previews or approves it) its HTML part."""
    language = draftable(kind, language, context)
    values = _in_language(context, language)
    subject = _render(templates_dir, f"{kind}.{language}.subject.j2", values)
    text = _render(templates_dir, f"{kind}.{language}.txt.j2", values).strip() + "\n"
    if language != "en":
        text += SEPARATOR + _render(templates_dir, f"{kind}.en.txt.j2", _english(context)).strip() + "\n"
    reference = context.get("reference")
    if reference and reference not in subject:
        raise TemplateProblem(f"{kind}.{language}.subject.j2 must contain the claim reference")
    body_html = draft_html(kind, language, context, templates_dir=templates_dir) if html else ""
    return DraftedReply(kind, language, " ".join(subject.split()), text, body_html)


def draftable(kind: str, language: str, context: dict[str, Any]) -> str:
    """The language a reply of this kind will be drafted in; TemplateProblem if it cannot be
    drafted from this context (asked before its text is rendered, wherever that happens)."""
    if kind not in VARIABLES:
        raise TemplateProblem(f"unknown reply kind {kind!r}")
    missing = VARIABLES[kind] - {"language"} - context.keys()
    if missing:
        raise TemplateProblem(f"{kind} reply drafted without {', '.join(sorted(missing))}")
    return language if language in LANGUAGES else "en"


def draft_html(kind: str, language: str, context: dict[str, Any], *, templates_dir: Path) -> str:
    """The HTML part of a reply, the English copy below a Chinese one as in its text."""
    language = language if language in LANGUAGES else "en"
    html = (
        _render(templates_dir, f"{kind}.{language}.html.j2", _in_language(context, language)).strip() + "\n"
    )
    if language != "en":
        html += (
            HTML_SEPARATOR + _render(templates_dir, f"{kind}.en.html.j2", _english(context)).strip() + "\n"
        )
    return html


def _english(context: dict[str, Any]) -> dict[str, Any]:
    english = _in_language(context, "en")
    if context.get("name") in DEFAULT_NAMES.values():
        # "Dear 客户" is no English: the English copy says "Dear client".
        english["name"] = DEFAULT_NAMES["en"]
    return english


def _in_language(context: dict[str, Any], language: str) -> dict[str, Any]:
    chosen = {k: v.get(language, v.get("en", "")) for k, v in context.items() if isinstance(v, PerLanguage)}
    return {**context, **chosen, "language": language}


def _render(templates_dir: Path, name: str, context: dict[str, Any]) -> str:
    try:
        return _template(templates_dir, name).render(**context)
    except TemplateError as exc:
        raise TemplateProblem(f"{templates_dir / name}: {exc.__class__.__name__}: {exc}") from exc
