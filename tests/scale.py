"""Claims at incident scale, stored as the pipeline stores them, for the page's benchmark
(``bench/web.py``) and the browser tests that need hundreds of drafts: each claim has its
account, two orders, the client's message, an acknowledgement and an offer waiting as drafts,
and its history. Inserted in batches, not through the pipeline, so that 10,000 take seconds."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert

from bot.storage import database
from bot.storage.tables import (
    Claim,
    ClaimAccount,
    ClaimEvent,
    ClaimOrder,
    InboundMessage,
    Reply,
    hundredths,
    utcnow,
)

STATES = ["acknowledged", "assessed", "assessed", "assessed", "escalated", "offer_sent", "needs_information"]
MAIL = (
    "From: Client {n} <client{n}@example.com>\r\nTo: complaint@broker.example\r\n"
    "Subject: claim for account {login}\r\nMessage-ID: <bench-{n}@example.com>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    "My account {login}: orders {a} and {b} were opened at abnormal prices during the outage.\r\n"
    "Please execute them at the most favourable price.\r\n\r\nClient {n}\r\n"
)
LETTER = "Dear Client,\n\n" + "Thank you for your claim about the quote-server outage. " * 20


def fill(engine: Engine, claims: int, *, first: int = 1) -> None:
    """``claims`` claims numbered from ``first``, each with an acknowledgement and an offer waiting."""
    now = utcnow()
    batch = 2_000
    last = first + claims - 1
    for start in range(first, last + 1, batch):
        numbers = range(start, min(last, start + batch - 1) + 1)
        rows = {name: [] for name in ("claim", "account", "order", "message", "reply", "event")}  # type: ignore[var-annotated]
        for n in numbers:
            login, a, b = f"{80_000_000 + n}", f"{50_000_000 + 2 * n}", f"{50_000_001 + 2 * n}"
            at = now - timedelta(minutes=last - n)
            rows["claim"].append(
                {
                    "id": n,
                    "reference": f"CLM-2026-{n:06d}",
                    "incident": "quote-server outage",
                    "status": STATES[n % len(STATES)],
                    "sender": f"client{n}@example.com",
                    "claimant_name": f"Client {n}",
                    "account_login": login,
                    "sender_verified": True,
                    "language": ("en", "zh-Hans", "zh-Hant")[n % 3],
                    "request": "best_price",
                    "created_at": at,
                    "pending_consent": "",
                    "pending_consent_letter": "",
                }
            )
            rows["account"].append({"claim_id": n, "login": login, "by_email": False})
            for ticket in (a, b):
                rows["order"].append(
                    {
                        "claim_id": n,
                        "ticket": ticket,
                        "login": login,
                        "claimed_as": ticket,
                        "outcome": "eligible",
                        "category": 1,
                        "symbol": "EURUSD",
                        "currency": "USD",
                        "best_price_amount": Decimal("316.00"),
                        "explanation": "best_price: entry re-priced; difference 316.00 USD",
                    }
                )
            raw = MAIL.format(n=n, login=login, a=a, b=b).encode()
            rows["message"].append(
                {
                    "message_id": f"<bench-{n}@example.com>",
                    "content_hash": hashlib.sha256(raw).hexdigest(),
                    "raw": raw,
                    "raw_path": "",
                    "folder": "INBOX",
                    "uidvalidity": 1,
                    "uid": n,
                    "received_at": at,
                    "sender": f"client{n}@example.com",
                    "subject": f"claim for account {login}",
                    "status": "claim",
                    "reason": "new complaint",
                    "claim_id": n,
                    "archived": True,
                    "evidence": "",
                }
            )
            for kind, amount in (("acknowledgement", None), ("offer", Decimal("632.00"))):
                rows["reply"].append(
                    {
                        "claim_id": n,
                        "kind": kind,
                        "language": "en",
                        "to_address": f"client{n}@example.com",
                        "subject": f"Your claim CLM-2026-{n:06d}",
                        "body_text": LETTER,
                        "body_html": f"<p>{LETTER}</p>",
                        "amount": amount,
                        "amount_minor": None if amount is None else hundredths(amount),
                        "currency": "USD" if amount else "",
                        "message_id": f"<reply-{kind}-{n}@broker.example>",
                        "in_reply_to": "",
                        "references": "",
                        "status": "draft",
                        "created_at": at,
                        "drafted_by": "bot",
                        "first_approved_by": "",
                        "edited_by": "",
                        "note": "",
                        "attempts": 0,
                        "decided_by": "",
                        "failure": "",
                    }
                )
            for event in ("received", "reply_drafted", "reply_drafted"):
                rows["event"].append(
                    {"claim_id": n, "at": at, "actor": "bot", "event": event, "detail": f"bench {n}"}
                )
        with database.session_scope(engine) as session:
            for table, name in (
                (Claim, "claim"),
                (ClaimAccount, "account"),
                (ClaimOrder, "order"),
                (InboundMessage, "message"),
                (Reply, "reply"),
                (ClaimEvent, "event"),
            ):
                session.execute(insert(table), rows[name])  # type: ignore[arg-type]
