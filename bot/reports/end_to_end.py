"""Score the whole pipeline on a labelled corpus and the trade book its mail refers to.

    python -m bot.evaluate --end-to-end DIR BOOK

``DIR`` holds ``mail/*.eml`` and one or more ``labels*.json`` (per file: kind complaint,
followup or other; the accounts and, per account, the orders the claim should hold; for a
follow-up, the complaint it answers and the consent a careful person reads). ``BOOK`` holds the
CSV files ``claimsbot import`` reads. Each complaint goes through ``pipeline.process_message``
into a fresh SQLite database; the offer of the claim a follow-up answers is marked sent and
its Message-ID put where the follow-up says ``<OFFER-ID>``.

The figures: complaints exact (the claim covers exactly the client's accounts and orders; an
unregistered sender's claim covers none), foreign credits (an order of someone else's account
eligible on a claim), false consents (a claim that consented where the label says anything but
that option), non-complaints answered (a claim letter drafted to a message that is no complaint).
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.claims import moves
from bot.config import Settings, settings_from_mapping
from bot.pipeline import process_message
from bot.records.importer import import_file
from bot.storage import database, schema, store
from bot.storage.tables import (
    Account,
    Claim,
    ClaimOrder,
    InboundMessage,
    Reply,
    ReplyStatus,
    Tick,
    TradeOrder,
    utcnow,
)

_BOOK_ORDER = ("accounts", "symbols", "orders", "ticks")
_NOT_HELD = ("unknown_order", "not_your_order")
_RATES = {"HKD": Decimal("7.8125"), "CNH": Decimal("6.878"), "CNY": Decimal("6.878")}
CLAIM_LETTERS = frozenset({"acknowledgement", "offer", "needs_information"})


@dataclass
class Score:
    complaints: int = 0
    exact: int = 0
    foreign_credits: int = 0
    followups: int = 0
    false_consents: int = 0
    consents_read: int = 0
    others: int = 0
    others_answered: int = 0
    misses: list[str] = field(default_factory=list)


def score(corpus: Path, book: Path) -> dict[str, Score]:
    """Figures per language and for ``all``."""
    labels = [item for path in sorted(corpus.glob("labels*.json")) for item in json.loads(path.read_text())]
    folder = Path(tempfile.mkdtemp(prefix="claimsbot-e2e-"))
    settings = settings_from_mapping(
        {
            "data_dir": str(folder),
            "claims": {"max_replies_per_sender_per_day": 1000, "max_replies_per_sender": 10_000},
        },
        source="end-to-end",
    )
    engine = schema.open_engine(settings)
    _load_book(engine, settings, book)
    scores: dict[str, Score] = defaultdict(Score)
    claims: dict[str, int | None] = {}
    first = [item for item in labels if item["kind"] != "followup"]
    for uid, item in enumerate(first + [i for i in labels if i["kind"] == "followup"], start=1):
        raw = (corpus / "mail" / item["file"]).read_bytes()
        if item["kind"] == "followup":
            raw = raw.replace(
                b"<OFFER-ID>", _offer_sent(engine, claims.get(item.get("thread_of") or "")).encode()
            )
        with database.session_scope(engine) as session:
            inbound = process_message(
                raw, session=session, settings=settings, folder="e2e", uidvalidity=1, uid=uid
            )
            claims[item["file"]] = inbound.claim_id if inbound else None
        with database.session_scope(engine) as session:
            for language in (item["language"], "all"):
                _judge(session, scores[language], item, inbound, claims)
    return dict(scores)


def _load_book(engine: Engine, settings: Settings, book: Path) -> None:
    files = sorted(
        book.glob("*.csv"), key=lambda p: next((i for i, k in enumerate(_BOOK_ORDER) if k in p.name), 9)
    )
    for path in files:
        report = import_file(engine, path, settings.trade_server.tz)
        if report.errors:
            raise ValueError(f"{path}: {report.errors[0]}")
    if not any("ticks" in p.name for p in files):
        _reference_ticks(engine, settings)


def _reference_ticks(engine: Engine, settings: Settings) -> None:
    """A flat reference feed through the window for each symbol traded, so that orders can be
    assessed and offers drafted: the amounts are not what this scores."""
    incident = settings.incidents[0]
    with database.session_scope(engine) as session:
        prices: dict[str, list[Decimal]] = defaultdict(list)
        for order in session.exec(select(TradeOrder)).all():
            prices[order.symbol].append(order.open_price)
        # Accounts kept in another currency than the profits need a rate (the book's own rates).
        for currency in {a.currency for a in session.exec(select(Account)).all()} - {"USD"}:
            prices.setdefault(f"USD{currency}", [_RATES.get(currency, Decimal(1))])
        for symbol, seen in prices.items():
            mid = sorted(seen)[len(seen) // 2]
            at: datetime = incident.start - timedelta(minutes=5)
            while at <= incident.end:
                session.add(Tick(symbol=symbol, time=at, bid=mid, ask=mid * Decimal("1.0001")))
                at += timedelta(minutes=10)


def _offer_sent(engine: Engine, claim_id: int | None) -> str:
    """The Message-ID of the claim's offer, marked sent as if staff approved it."""
    with database.session_scope(engine) as session:
        offer = session.exec(select(Reply).where(Reply.claim_id == claim_id, Reply.kind == "offer")).first()
        if offer is None:
            return "<no-offer@end-to-end>"
        if offer.status != ReplyStatus.SENT:
            offer.status, offer.sent_at = ReplyStatus.SENT, utcnow()
            moves.after_sent(session, offer, consent_days=30)
        return offer.message_id


def _judge(
    session: Session,
    tally: Score,
    item: dict[str, Any],
    inbound: InboundMessage | None,
    claims: dict[str, Any],
) -> None:
    name = item["file"]
    claim = session.get(Claim, inbound.claim_id) if inbound and inbound.claim_id else None
    if item["kind"] == "other":
        tally.others += 1
        letters = _letters(session, claim) if claim and inbound and inbound.status == "claim" else set()
        if letters & CLAIM_LETTERS:
            tally.others_answered += 1
            tally.misses.append(f"{name}: not a complaint, answered with {sorted(letters & CLAIM_LETTERS)}")
        return
    if item["kind"] == "followup":
        tally.followups += 1
        target = session.get(Claim, claims.get(item.get("thread_of") or "") or 0)
        chosen = _chosen(session, target) if target else set()
        wanted = {"1": "best_price", "2": "restore"}.get(item.get("consent") or "")
        if target is not None and target.status == "consented":
            tally.consents_read += wanted in chosen
            if wanted is None or wanted not in chosen:
                tally.false_consents += 1
                tally.misses.append(f"{name}: consented {sorted(chosen)}, label {item.get('consent')}")
        elif wanted is not None:
            state = target.status if target else "no claim"
            tally.misses.append(f"{name}: consent {item.get('consent')} not read (claim {state})")
        return
    tally.complaints += 1
    rows = store.claim_orders(session, claim_id=claim.id) if claim and claim.id else []
    held = {r.ticket for r in rows if r.outcome not in _NOT_HELD}
    accounts = set(item["accounts"]) if item.get("sender_registered", True) else set()
    orders = {o for listed in item["orders"].values() for o in listed} if accounts else set()
    covered = store.claim_accounts(session, claim_id=claim.id) if claim and claim.id else []
    got_accounts = set(covered) if claim and claim.sender_verified else set()
    foreign = [
        r.ticket for r in rows if r.outcome == "eligible" and _owner(session, r) not in set(item["accounts"])
    ]
    tally.foreign_credits += len(foreign)
    if got_accounts == accounts and held == (orders if accounts else set()):
        tally.exact += 1
    else:
        found = f"accounts {sorted(got_accounts)}, orders {sorted(held)}"
        tally.misses.append(f"{name}: {found}; wanted {sorted(accounts)}, {sorted(orders)}")


def _owner(session: Session, row: ClaimOrder) -> str:
    order = session.get(TradeOrder, row.ticket)
    return order.login if order else ""


def _letters(session: Session, claim: Claim) -> set[str]:
    return {r.kind for r in session.exec(select(Reply).where(Reply.claim_id == claim.id)).all()}


def _chosen(session: Session, claim: Claim) -> set[str]:
    return {r.chosen_remedy for r in store.claim_orders(session, claim_id=claim.id or 0) if r.chosen_remedy}


def report(scores: dict[str, Score]) -> str:
    lines = [
        f"{'':8} {'complaints':>10} {'exact':>7} {'foreign':>8} {'followups':>9} {'consents read':>13} "
        f"{'false consent':>13} {'others':>6} {'answered':>8}"
    ]
    for language in ("en", "zh-Hans", "zh-Hant", "all"):
        s = scores.get(language)
        if s is None:
            continue
        rate = s.exact / s.complaints if s.complaints else 1.0
        lines.append(
            f"{language:8} {s.complaints:10d} {rate:7.3f} {s.foreign_credits:8d} {s.followups:9d} "
            f"{s.consents_read:13d} {s.false_consents:13d} {s.others:6d} {s.others_answered:8d}"
        )
    misses = scores["all"].misses if "all" in scores else []
    lines += [f"\n{len(misses)} misses:", *(f"  {m}" for m in misses[:80])]
    return "\n".join(lines)
