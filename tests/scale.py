"""Claims at incident scale, stored as the pipeline stores them, for the page's benchmark
(``bench/web.py``) and the browser tests that need hundreds of drafts: each claim has its
account, two orders, the client's message, an acknowledgement and an offer waiting as drafts,
and its history. Inserted in batches, not through the pipeline, so that 10,000 take seconds.

``plan_digest`` and ``fill_digest`` store claims in every state for the digest's tests, built by
rules from which each figure of the digest can be worked out (see the comment above them)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
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


# The digest's figures at incident scale (``tests/reports/test_digest_figures.py``): claims whose
# every figure follows from the rules below, so that a test knows the answers without a query.
#
# Claim n (1..N) is in state DIGEST_CYCLE[n % 10]. The closed ones (settled, rejected), ranked
# j = 1, 2, ... in n order, close (j % 50 + 1) hours before now, j * 61 minutes after they were
# created. The open ones, ranked i = 1, 2, ..., are (i % 20) business days old: received on the
# business day that many business days before today, or (when i % 3 == 0 and the age is at least
# 1) on the calendar day before the next newer business day, which may be a weekend or a holiday;
# at minute (i * 37) % 480 of that local day (00:00 to 07:59, the day before in UTC). Every claim
# but a received one has one reply sent, k seconds after its creation for the k-th such claim,
# and an offer sent a minute later when its offer went out; every claim has an older draft, never
# sent. Approvals: see ``_approvals``.
DIGEST_CYCLE = (
    "settled",
    "rejected",
    "consented",
    "offer_sent",
    "refused",
    "assessed",
    "escalated",
    "needs_information",
    "acknowledged",
    "received",
)
DIGEST_CURRENCIES = ("USD", "HKD", "JPY")
DIGEST_STAFF = ("amy", "ben", "chen", "dora")
DIGEST_REASONS = ("client disputes the trade records", "needs a manager's view", "")
OFFERED_STATES = frozenset({"settled", "consented", "offer_sent", "refused"})
ASSESSED_STATES = OFFERED_STATES | {"rejected", "assessed", "escalated"}


@dataclass(frozen=True)
class PlannedOrder:
    ticket: str
    outcome: str
    currency: str
    best: Decimal
    restore: Decimal | None
    chosen: str | None

    @property
    def larger(self) -> Decimal:
        return max(self.best, self.restore) if self.restore is not None else self.best

    @property
    def chosen_amount(self) -> Decimal | None:
        return {"best_price": self.best, "restore": self.restore}.get(self.chosen or "")


@dataclass(frozen=True)
class PlannedClaim:
    n: int
    state: str
    created_at: datetime
    closed_at: datetime | None
    offered_at: datetime | None
    orders: tuple[PlannedOrder, ...]
    # The first reply sent; None for a claim still in received.
    first_sent: datetime | None
    # Business days old (open claims only).
    age: int | None

    @property
    def reference(self) -> str:
        return f"CLM-2024-{self.n:06d}"


def business_days_back(today: date, count: int, holidays: Collection[date]) -> date:
    """The business day ``count`` business days before ``today`` (a business day itself)."""
    day = today
    while count:
        day -= timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            count -= 1
    return day


def plan_digest(claims: int, *, now: datetime, tz: tzinfo, holidays: Collection[date]) -> list[PlannedClaim]:
    """The claims ``fill_digest`` stores, by the rules above; ``now`` must fall on a business day."""
    today = now.astimezone(tz).date()
    plans, closed, opened, replied = [], 0, 0, 0
    for n in range(1, claims + 1):
        state = DIGEST_CYCLE[n % 10]
        age = None
        if state in ("settled", "rejected"):
            closed += 1
            closed_at: datetime | None = now - timedelta(hours=closed % 50 + 1)
            created_at = closed_at - timedelta(minutes=61 * closed)  # type: ignore[operator]
        else:
            opened += 1
            closed_at, age = None, opened % 20
            day = business_days_back(today, age, holidays)
            if age and opened % 3 == 0:
                day = business_days_back(today, age - 1, holidays) - timedelta(days=1)
            minute = (opened * 37) % 480
            created_at = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).astimezone(UTC)
        offered = state in OFFERED_STATES or (
            state in ("rejected", "escalated") and (n // 10) % 2 == (0 if state == "rejected" else 1)
        )
        first_sent = None
        if state != "received":
            replied += 1
            first_sent = created_at + timedelta(seconds=replied)
        currency = DIGEST_CURRENCIES[n % 3]
        unit, delta = (Decimal(1000), Decimal(125)) if currency == "JPY" else (Decimal(10), Decimal("1.25"))
        orders = []
        if state in ASSESSED_STATES:
            for k in (0, 1):
                best = unit * n + k + (0 if currency == "JPY" else Decimal(n % 100) / 100)
                restore = None if (n + k) % 4 == 0 else best + (n % 7 - 3) * delta
                chosen = None
                if state in ("consented", "settled"):
                    chosen = "restore" if restore is not None and (n + k) % 2 == 0 else "best_price"
                orders.append(
                    PlannedOrder(f"{60_000_000 + 3 * n + k}", "eligible", currency, best, restore, chosen)
                )
            # Not eligible: counts nowhere, whatever its amounts.
            orders.append(
                PlannedOrder(f"{60_000_002 + 3 * n}", "already_claimed", currency, unit * 3, unit * 4, None)
            )
        plans.append(
            PlannedClaim(
                n=n,
                state=state,
                created_at=created_at,
                closed_at=closed_at,
                offered_at=created_at + timedelta(minutes=20) if offered else None,
                orders=tuple(orders),
                first_sent=first_sent,
                age=age,
            )
        )
    return plans


def is_large_offer(plan: PlannedClaim) -> bool:
    """An offer that needed two approvals (and is approved, waiting for the outbox: not sent)."""
    return plan.n % 20 == 3


def approval_events(plan: PlannedClaim, now: datetime) -> list[tuple[str, str, datetime, int]]:
    """(person, event, when, reply id) of the approvals recorded for ``plan``'s claim.

    The acknowledgement (reply 3n) is approved by DIGEST_STAFF[n % 4] n * 5 minutes before now; an
    offer (reply 3n + 1) by DIGEST_STAFF[(n + 3) % 4] 3 minutes before that, or, when large, first
    by DIGEST_STAFF[(n + 1) % 4] 2 minutes before and then by DIGEST_STAFF[(n + 2) % 4] 1 minute before."""
    n, base = plan.n, now - timedelta(minutes=5 * plan.n)
    if plan.first_sent is None:
        return []
    events = [(DIGEST_STAFF[n % 4], "reply_approved", base, 3 * n)]
    if plan.offered_at is not None and is_large_offer(plan):
        events.append(
            (DIGEST_STAFF[(n + 1) % 4], "reply_first_approval", base - timedelta(minutes=2), 3 * n + 1)
        )
        events.append((DIGEST_STAFF[(n + 2) % 4], "reply_approved", base - timedelta(minutes=1), 3 * n + 1))
    elif plan.offered_at is not None:
        events.append((DIGEST_STAFF[(n + 3) % 4], "reply_approved", base - timedelta(minutes=3), 3 * n + 1))
    return events


def fill_digest(engine: Engine, plans: list[PlannedClaim], *, now: datetime, quarantined: int = 30) -> None:
    """Store ``plans`` (claims, orders, replies, history) and ``quarantined`` held messages, the
    q-th received q hours before ``now``."""
    rows: dict[str, list[dict[str, object]]] = {
        name: [] for name in ("claim", "order", "reply", "event", "message")
    }
    for plan in plans:
        n = plan.n
        rows["claim"].append(
            {
                "id": n,
                "reference": plan.reference,
                "incident": "quote-server outage",
                "status": plan.state,
                "sender": f"client{n}@example.com",
                "claimant_name": f"Client {n}",
                "account_login": f"{80_000_000 + n}",
                "sender_verified": True,
                "language": ("en", "zh-Hans", "zh-Hant")[n % 3],
                "request": "best_price",
                "created_at": plan.created_at,
                "closed_at": plan.closed_at,
                "offered_at": plan.offered_at,
                "pending_consent": "",
                "pending_consent_letter": "",
            }
        )
        for order in plan.orders:
            rows["order"].append(
                {
                    "claim_id": n,
                    "ticket": order.ticket,
                    "login": f"{80_000_000 + n}",
                    "claimed_as": order.ticket,
                    "outcome": order.outcome,
                    "symbol": "EURUSD",
                    "currency": order.currency,
                    "best_price_amount": order.best,
                    "restore_amount": order.restore,
                    "chosen_remedy": order.chosen,
                    "explanation": "",
                }
            )
        events = approval_events(plan, now)
        first_approver = {reply: who for who, event, _, reply in events if event == "reply_first_approval"}
        replies = [(3 * n + 2, "acknowledgement", "draft", plan.created_at + timedelta(seconds=1), None)]
        if plan.first_sent is not None:
            replies.append((3 * n, "acknowledgement", "sent", plan.created_at, plan.first_sent))
        if plan.first_sent is not None and plan.offered_at is not None:
            large = is_large_offer(plan)
            sent = None if large else plan.first_sent + timedelta(minutes=1)
            replies.append((3 * n + 1, "offer", "approved" if large else "sent", plan.created_at, sent))
        for reply_id, kind, status, created_at, sent_at in replies:
            rows["reply"].append(
                {
                    "id": reply_id,
                    "claim_id": n,
                    "kind": kind,
                    "language": "en",
                    "to_address": f"client{n}@example.com",
                    "subject": f"Your claim {plan.reference}",
                    "body_text": "Dear Client,\n",
                    "body_html": "",
                    "currency": "",
                    "message_id": f"<digest-{reply_id}@broker.example>",
                    "in_reply_to": "",
                    "references": "",
                    "status": status,
                    "created_at": created_at,
                    "sent_at": sent_at,
                    "drafted_by": "bot",
                    "first_approved_by": first_approver.get(reply_id, ""),
                    "edited_by": "",
                    "note": "",
                    "attempts": 0,
                    "decided_by": "",
                    "failure": "",
                }
            )
        for who, event, at, reply_id in events:
            rows["event"].append(
                {
                    "claim_id": n,
                    "at": at,
                    "actor": who,
                    "event": event,
                    "detail": f"reply {reply_id} ({event})",
                }
            )
        # Not approvals: a rejected draft, and the bot drafting.
        rows["event"].append(
            {
                "claim_id": n,
                "at": now - timedelta(minutes=n),
                "actor": DIGEST_STAFF[n % 4],
                "event": "reply_rejected",
                "detail": f"reply {3 * n + 2}",
            }
        )
        rows["event"].append(
            {
                "claim_id": n,
                "at": plan.created_at,
                "actor": "bot",
                "event": "reply_drafted",
                "detail": f"acknowledgement {3 * n + 2}",
            }
        )
        if plan.state == "escalated":
            rows["event"].append(
                {
                    "claim_id": n,
                    "at": plan.created_at + timedelta(minutes=30),
                    "actor": "bot",
                    "event": "transition",
                    "detail": DIGEST_REASONS[n % 3],
                    "from_state": "assessed",
                    "to_state": "escalated",
                }
            )
    if plans:
        # An approval at ``now`` itself belongs to the next digest.
        rows["event"].append(
            {
                "claim_id": 1,
                "at": now,
                "actor": DIGEST_STAFF[0],
                "event": "reply_approved",
                "detail": "reply 3",
            }
        )
    for q in range(1, quarantined + 1):
        raw = f"Subject: held {q}\r\n\r\nunreadable\r\n".encode()
        rows["message"].append(
            {
                "message_id": f"<held-{q}@example.net>",
                "content_hash": hashlib.sha256(raw).hexdigest(),
                "raw": raw,
                "raw_path": "",
                "folder": "INBOX",
                "uidvalidity": 1,
                "uid": 1_000_000 + q,
                "received_at": now - timedelta(hours=q),
                "sender": f"sender{q}@example.net",
                "subject": f"claim for account {q}",
                "status": "quarantined",
                "reason": "unknown charset 'x-unknown-8bit'",
                "claim_id": None,
                "archived": False,
                "evidence": "",
            }
        )
    batch = 2_000
    with database.session_scope(engine) as session:
        for table, name in (
            (Claim, "claim"),
            (ClaimOrder, "order"),
            (Reply, "reply"),
            (ClaimEvent, "event"),
            (InboundMessage, "message"),
        ):
            for start in range(0, len(rows[name]), batch):
                session.execute(insert(table), rows[name][start : start + batch])  # type: ignore[arg-type]
