"""Draft stage: render a reply of one kind in the client's language from ``templates/``.

Each kind has three templates per language: ``<kind>.<language>.subject.j2``,
``<kind>.<language>.txt.j2`` and ``<kind>.<language>.html.j2``. They run in a sandbox with
StrictUndefined and HTML autoescaping, and ``check_templates`` compares every variable a
template uses with what the bot provides for its kind (``VARIABLES``), so a template asking
for a value the bot does not give fails when the worker starts, not in a client's mailbox.
Chinese replies carry the English text below, as the broker's own notice did. Amounts and
dates are written for the language by ``bot.stages.wording``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

from bot.stages.extract import LANGUAGES
from bot.stages.wording import FILTERS, sandboxed

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


@lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> SandboxedEnvironment:
    env = sandboxed(templates_dir)
    env.filters.update(FILTERS)
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
