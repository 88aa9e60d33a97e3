"""The digest as the managers read it: ``chart_png`` draws the last fortnight, and
``compose_digest`` renders ``templates/digest.txt.j2`` and ``templates/digest.html.j2`` into one
message (plain text, and HTML with the chart inline)."""

from __future__ import annotations

import io
import secrets
from datetime import UTC, datetime, timedelta
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
from bot.stages.draft import sandboxed

CHART_ALT = "Claims received per day (bars) and open claims at the end of each day (line)"


def chart_png(digest: Digest) -> bytes:
    """A 600 x 250 pixel PNG: claims received per day as bars, the backlog as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 2.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    new = [d.new for d in digest.per_day]
    backlog = [d.backlog for d in digest.per_day]
    positions = list(range(len(new)))
    bars = axes.bar(positions, new, color="#4c78a8", label="received that day")
    other = axes.twinx()
    (line,) = other.plot(
        positions, backlog, color="#e45756", marker="o", markersize=3, label="open at end of day"
    )
    # Head room above the tallest bar and the line's peak, for the legend.
    axes.set_ylim(0, max(new, default=0) * 1.35 + 1)
    other.set_ylim(0, max(backlog, default=0) * 1.35 + 1)
    axes.set_ylabel("received", fontsize=8)
    other.set_ylabel("open", fontsize=8)
    for side in (axes, other):
        side.yaxis.get_major_locator().set_params(integer=True)
        side.tick_params(labelsize=7)
    axes.set_xticks(positions, [f"{d.day:%d %b}" for d in digest.per_day], rotation=45, ha="right")
    axes.legend(handles=[bars, line], loc="upper left", ncol=2, fontsize=7, frameon=False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def compose_digest(
    digest: Digest,
    *,
    from_address: str,
    to: list[str],
    message_id_domain: str,
    templates_dir: Path = DEFAULT_TEMPLATES,
    chart: bytes | None = None,
) -> EmailMessage:
    """The digest as one message: text, and HTML with the chart as an inline ``cid:`` image."""
    if not to:
        raise ValueError("a digest needs at least one recipient")
    chart = chart_png(digest) if chart is None else chart
    cid = f"<chart.{secrets.token_hex(8)}@{message_id_domain}>"
    context = _context(digest, cid[1:-1])
    local_day = digest.now.astimezone(digest.tz).date()
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = ", ".join(to)
    message["Subject"] = (
        f"Claims digest {local_day:%Y-%m-%d}: {digest.new_claims} new, "
        f"{digest.drafts_waiting} drafts waiting, {digest.overdue} overdue"
    )
    message["Date"] = format_datetime(digest.now.astimezone(UTC))
    message["Message-ID"] = make_msgid(idstring="digest", domain=message_id_domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(_render(templates_dir, "digest.txt.j2", context), charset="utf-8")
    message.add_alternative(
        _render(templates_dir, "digest.html.j2", context), subtype="html", charset="utf-8"
    )
    html = message.get_payload()[1]  # type: ignore[index]
    html.add_related(
        chart, maintype="image", subtype="png", cid=cid, disposition="inline", filename="claims-per-day.png"
    )
    return message


def _money(amount: Decimal, currency: str) -> str:
    """``1,234.50 USD``: thousands separators, the currency's own decimals, its ISO code."""
    return format_currency(amount, currency, format="#,##0.00 ¤¤", locale="en_US", currency_digits=True)


def _age(value: timedelta) -> str:
    hours = int(value.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


@pass_context
def _local(context: Context, moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the digest's time zone."""
    return moment.astimezone(context["d"].tz).strftime(pattern)


@lru_cache(maxsize=4)
def _environment(templates_dir: Path) -> SandboxedEnvironment:
    env = sandboxed(templates_dir)
    env.filters.update(money=_money, age=_age, local=_local)
    return env


def _render(templates_dir: Path, name: str, context: dict[str, Any]) -> str:
    return _environment(templates_dir.resolve()).get_template(name).render(**context)


def _context(digest: Digest, chart_cid: str) -> dict[str, Any]:
    zero = Decimal(0)
    amounts = [
        {
            "currency": currency,
            "offered": digest.offered.get(currency, zero),
            "consented": digest.consented.get(currency, zero),
            "settled": digest.settled.get(currency, zero),
        }
        for currency in digest.currencies
    ]
    return {
        "d": digest,
        "zone": str(digest.tz),
        "amounts": amounts,
        "chart_cid": chart_cid,
        "chart_alt": CHART_ALT,
    }
