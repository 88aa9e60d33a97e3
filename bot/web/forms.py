"""Reading what a request carries (form fields, ids, filters, where to go back to) safely, and the
small texts the pages show about it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TypeVar
from urllib.parse import urlencode

from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from bot.storage.tables import Reply
from bot.web.language import gettext

T = TypeVar("T")
MAX_ID = 2**31 - 1
# No claim is worth a trillion: a larger "minimum amount" is a typo (or a probe), not a filter.
MAX_AMOUNT = Decimal(10) ** 12
# Browsers drop tabs and newlines from URLs and read a backslash as a slash, so "/\t/evil.example"
# would leave the site: only plain path and query characters are allowed.
_LOCAL_PATH = re.compile(r"/[A-Za-z0-9/_.~%=&?+-]*")


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def reply_number(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise HTTPException(400, f"{str(value)[:40]!r} is not a reply number") from None
    if not 0 < number <= MAX_ID:
        raise HTTPException(400, f"{number} is not a reply number")
    return number


def path_id(request: Request) -> int:
    number = int(request.path_params["id"])
    if not 0 < number <= MAX_ID:
        raise HTTPException(404)
    return number


def page_key(value: str) -> int | None:
    """The id a paged view goes on from (``after``, ``before``), or None for the first page."""
    return int(value) if value.isdigit() and len(value) <= 10 and 0 < int(value) <= MAX_ID else None


def view_query(filters: Mapping[str, str], **more: object) -> str:
    """The query string of a view (its non-empty parameters), with ``more`` added."""
    return urlencode({**{k: v for k, v in filters.items() if v}, **{k: v for k, v in more.items() if v}})


def item_link(folder: str, item_id: int | None, query: str) -> str | None:
    """A reply's or claim's page (``/replies/7``) that keeps the view it was opened from."""
    if item_id is None:
        return None
    return f"/{folder}/{item_id}?{query}" if query else f"/{folder}/{item_id}"


def found(row: T | None) -> T:
    if row is None:
        raise HTTPException(404)
    return row


@pass_context
def when(context: Context, value: datetime | None) -> str:
    """A stored (UTC) time in the reader's zone (the page's ``zone``), with the zone's name."""
    if not value:
        return ""
    zone = context.get("zone") or UTC
    local = value.astimezone(zone)
    name = local.tzname() or ""
    if not name or (name.startswith("UTC") and len(name) > 3):
        name = local.strftime("%z")
        name = f"UTC{name[:3]}:{name[3:]}" if name not in ("+0000", "") else "UTC"
    return f"{local:%Y-%m-%d %H:%M} {name}"


def amount_filter(value: str) -> tuple[Decimal | None, str]:
    if not value.strip():
        return None, ""
    try:
        amount = Decimal(value.strip()[:40].replace(",", ""))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        return None, gettext("The minimum amount %(value)r is not a number; it was ignored.") % {
            "value": value[:40]
        }
    return amount, ""


def local_path(target: str | None) -> str:
    """Only a path on this site is a place to return to after login, never another site."""
    if not target or not _LOCAL_PATH.fullmatch(target) or target.startswith("//"):
        return "/"
    return target


def back(request: Request) -> str:
    """The page a form was posted from: its action minus the verb, or the queue."""
    path = request.url.path
    if request.method == "GET":
        return f"{path}?{request.url.query}" if request.url.query else path
    if path == "/login":
        return path
    return path.rsplit("/", 1)[0] if path.count("/") >= 3 else "/"


def letter_note(reply: Reply | None) -> str:
    if reply is None:
        return gettext("No letter was drafted: this address had its day's share of replies; write by hand.")
    return gettext("The letter to the client is drafted as reply %(id)s, waiting for approval.") % {
        "id": reply.id
    }
