"""The digest as the managers read it: ``compose_digest`` renders ``templates/digest.txt.j2`` and
``templates/digest.html.j2`` (English, with a Chinese summary line) or ``digest.zh-Hans.*.j2`` /
``digest.zh-Hant.*.j2`` (wholly Chinese) into one message: plain text, and HTML with the chart
(``bot.reports.digest_chart``) inline. With ``[web] base_url`` set, every claim reference links
to the claim's page (the text part prints the address after it)."""

from __future__ import annotations

import secrets
import unicodedata
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_currency
from jinja2 import pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from bot.config import DEFAULT_TEMPLATES
from bot.reports.digest import Digest
from bot.reports.digest_chart import chart_png
from bot.reports.digest_words import ENGLISH, Words, words_for
from bot.stages.wording import sandboxed, utc_offset

__all__ = ["CLAIM_PATH", "chart_png", "compose_digest", "template_names"]

# The approval page's route for one claim (``bot.web.app``: ``/claims/{id}``).
CLAIM_PATH = "/claims/{id}"


def template_names(language: str) -> tuple[str, str]:
    """The text and HTML templates for ``language``: English keeps the names operators copied."""
    words_for(language)
    suffix = "" if language == "en" else f".{language}"
    return f"digest{suffix}.txt.j2", f"digest{suffix}.html.j2"


def compose_digest(
    digest: Digest,
    *,
    from_address: str,
    to: list[str],
    message_id_domain: str,
    templates_dir: Path = DEFAULT_TEMPLATES,
    chart: bytes | None = None,
    language: str = "en",
    base_url: str = "",
    zone: tzinfo | None = None,
) -> EmailMessage:
    """The digest as one message: text, and HTML with the chart as an inline ``cid:`` image.

    ``language``: ``[digest] language``; ``base_url``: ``[web] base_url`` ("" for no links);
    ``zone``: where times are shown (``[digest] timezone``; the figures' own zone by default)."""
    if not to:
        raise ValueError("a digest needs at least one recipient")
    words = words_for(language)
    text_name, html_name = template_names(language)
    chart = chart_png(digest, language) if chart is None else chart
    cid = f"<chart.{secrets.token_hex(8)}@{message_id_domain}>"
    shown_in = zone or digest.tz
    context = _context(digest, words, cid[1:-1], base_url.rstrip("/"), shown_in)
    local_day = digest.now.astimezone(shown_in).date()
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = ", ".join(to)
    message["Subject"] = words.subject.format(
        day=f"{local_day:%Y-%m-%d}",
        new=digest.new_claims,
        waiting=digest.drafts_waiting,
        overdue=digest.overdue,
    )
    message["Date"] = format_datetime(digest.now.astimezone(UTC))
    message["Message-ID"] = make_msgid(idstring="digest", domain=message_id_domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(_render(templates_dir, text_name, context), charset="utf-8")
    message.add_alternative(_render(templates_dir, html_name, context), subtype="html", charset="utf-8")
    html = message.get_payload()[1]  # type: ignore[index]
    html.add_related(
        chart, maintype="image", subtype="png", cid=cid, disposition="inline", filename="backlog-by-age.png"
    )
    return message


def _money(amount: Decimal, currency: str) -> str:
    """``1,234.50 USD``: thousands separators, at least the currency's own decimals (more where
    the exact sum has them: ``7,814.5 JPY``), its ISO code."""
    return format_currency(
        amount,
        currency,
        format="#,##0.00 ¤¤",
        locale="en_US",
        currency_digits=True,
        decimal_quantization=False,
    )


def _number(value: int) -> str:
    return f"{value:,}"


def _width(text: str) -> int:
    """Columns a monospaced reader gives ``text``: two for each wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(value: object, width: int) -> str:
    """Left-aligned in ``width`` columns, counting Chinese characters as two: text tables line up."""
    text = str(value)
    return text + " " * max(0, width - _width(text))


def _right(value: object, width: int) -> str:
    text = str(value)
    return " " * max(0, width - _width(text)) + text


@pass_context
def _age(context: Context, value: timedelta | None) -> str:
    return "" if value is None else context["words"].duration(value)


@pass_context
def _local(context: Context, moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the digest's time zone."""
    return moment.astimezone(context["zone_tz"]).strftime(pattern)


@pass_context
def _long_date(context: Context, moment: datetime) -> str:
    return context["words"].date(moment.astimezone(context["zone_tz"]))


@pass_context
def _state(context: Context, value: str) -> str:
    return context["words"].state(value)


@pass_context
def _kind(context: Context, value: str) -> str:
    return context["words"].kind(value)


@pass_context
def _reason(context: Context, value: str) -> str:
    """An escalation's reason as written, but the digest's own "(no reason given)" in its language."""
    return context["words"].no_reason if value == ENGLISH.no_reason else value


@pass_context
def _claim_url(context: Context, claim_id: int | None) -> str:
    """The claim's page, or "" without ``[web] base_url`` (or without a claim)."""
    base = context["base_url"]
    return f"{base}{CLAIM_PATH.format(id=claim_id)}" if base and claim_id is not None else ""


@lru_cache(maxsize=4)
def _environment(templates_dir: Path) -> SandboxedEnvironment:
    env = sandboxed(templates_dir)
    env.filters.update(
        money=_money,
        number=_number,
        pad=_pad,
        right=_right,
        age=_age,
        local=_local,
        long_date=_long_date,
        state=_state,
        kind=_kind,
        reason=_reason,
        claim_url=_claim_url,
    )
    return env


def _render(templates_dir: Path, name: str, context: dict[str, Any]) -> str:
    return _environment(templates_dir.resolve()).get_template(name).render(**context)


def _context(digest: Digest, words: Words, chart_cid: str, base_url: str, zone: tzinfo) -> dict[str, Any]:
    zero = Decimal(0)
    amounts = [
        {
            "currency": currency,
            "assessed": digest.assessed.get(currency, zero),
            "offered": digest.offered.get(currency, zero),
            "consented": digest.consented.get(currency, zero),
            "settled": digest.settled.get(currency, zero),
        }
        for currency in digest.currencies
    ]
    backlog = [
        {
            "label": words.buckets[index],
            "interval": f"[{bucket.low}, {'∞' if bucket.high is None else bucket.high})",
            "count": bucket.count,
        }
        for index, bucket in enumerate(digest.backlog_by_age)
    ]

    def named(tz: tzinfo) -> str:
        """A zone by its name in English; by its offset in Chinese, with no English place name."""
        return str(tz) if words.language == "en" else utc_offset(digest.now.astimezone(tz))

    return {
        "d": digest,
        "words": words,
        "zone": named(zone),
        "zone_tz": zone,
        # Business days are counted in the deadlines' zone, which may not be the one times are shown in.
        "days_zone": named(digest.tz),
        "rules": words.rules_name(digest.rules),
        "no_reason": words.no_reason,
        "amounts": amounts,
        "backlog": backlog,
        "backlog_total": sum(bucket.count for bucket in digest.backlog_by_age),
        "base_url": base_url,
        "chart_cid": chart_cid,
        "chart_alt": words.chart_alt(digest.backlog_by_age),
    }
