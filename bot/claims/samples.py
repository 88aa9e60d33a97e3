"""A sample claim's letters, for staff to read every kind in every language before an incident
(``claimsbot letters preview``). The claim is made up, but its offer is computed as a real one
is: two orders of account 81234567 assessed by ``bot.stages.assess`` against the first
incident's window, stored as the pipeline stores them and worded by ``replies.offered_orders``.
The texts staff would type (a rejection's reason, a settlement's note) are samples in each
language; the configured texts ([letters], [complaint_rules], [jobs] delay_reason) are the
settings' own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.claims import replies
from bot.claims.deadlines import end_of_day, local_day
from bot.config import Settings
from bot.stages.assess import Conversion, Quote, WindowPrices, assess
from bot.stages.draft import KINDS, PerLanguage, option_totals
from bot.stages.match import OrderMatch, Outcome
from bot.storage.store import assessed_order
from bot.storage.tables import Claim, Symbol, TradeOrder

REFERENCE = "CLM-2019-000042"
STAFF_WORDS = {
    "reason": {
        "en": "Order 12345678 was opened on 25 June 2019, before the outage began.",
        "zh-Hans": "订单 12345678 于 2019年6月25日开仓，早于故障开始。",
        "zh-Hant": "訂單 12345678 於 2019年6月25日開倉，早於故障開始。",
    },
    "note": {
        "en": "Credited to your trading account on 5 July 2019.",
        "zh-Hans": "已于 2019年7月5日存入您的交易账户。",
        "zh-Hant": "已於 2019年7月5日存入您的交易帳戶。",
    },
    "outcome": {
        "en": "We stand by our offer for order 55667788.",
        "zh-Hans": "我们维持就订单 55667788 提出的赔偿方案。",
        "zh-Hant": "我們維持就訂單 55667788 提出的賠償方案。",
    },
    "reasons": {
        "en": "The price you ask for was never quoted during the outage.",
        "zh-Hans": "您要求的价格在故障期间从未报出。",
        "zh-Hant": "您要求的價格在故障期間從未報出。",
    },
}


def _sample_orders(settings: Settings) -> tuple[list[Any], dict[str, TradeOrder]]:
    """A gold buy stopped out after the outage (two options) and a euro sell still open (one)."""
    incident = settings.incidents[0]
    start, end = incident.start.astimezone(UTC), incident.end.astimezone(UTC)
    at = start + (end - start) / 3
    gold = Symbol(symbol="XAUUSD", contract_size=Decimal(100), profit_currency="USD", digits=2)
    euro = Symbol(symbol="EURUSD", contract_size=Decimal(100000), profit_currency="USD", digits=5)
    windows = {
        "XAUUSD": WindowPrices(
            Quote(Decimal("1395.10"), at),
            Quote(Decimal("1418.78"), at + timedelta(hours=2)),
            Quote(Decimal("1395.45"), at),
            Quote(Decimal("1419.12"), at + timedelta(hours=2)),
        ),
        "EURUSD": WindowPrices(
            Quote(Decimal("1.13622"), at),
            Quote(Decimal("1.13780"), at + timedelta(hours=1)),
            Quote(Decimal("1.13634"), at),
            Quote(Decimal("1.13795"), at + timedelta(hours=1)),
        ),
    }
    orders = [
        (
            TradeOrder(
                ticket="55667788",
                login="81234567",
                symbol="XAUUSD",
                side="buy",
                lots=Decimal("1.00"),
                open_time=start + timedelta(minutes=7),
                open_price=Decimal("1409.35"),
                close_time=end + timedelta(hours=2),
                close_price=Decimal("1399.65"),
                close_reason="stop_out",
                commission=Decimal("-10.00"),
                profit=Decimal("-970.00"),
            ),
            gold,
            2,
        ),
        (
            TradeOrder(
                ticket="55667789",
                login="81234567",
                symbol="EURUSD",
                side="sell",
                lots=Decimal("0.50"),
                open_time=start + timedelta(minutes=90),
                open_price=Decimal("1.13456"),
            ),
            euro,
            1,
        ),
    ]
    rows, records = [], {}
    for order, symbol, category in orders:
        found = assess(
            order,
            category,
            symbol=symbol,
            window=windows[order.symbol],
            start=start,
            end=end,
            conversion=Conversion("USD", "USD", Decimal(1)),
        )
        match = OrderMatch(order.ticket, Outcome.ELIGIBLE, category, order, order.ticket)
        rows.append(assessed_order(42, match, found))
        records[order.ticket] = order
    rows.append(
        assessed_order(42, OrderMatch("12345678", Outcome.UNKNOWN_ORDER, claimed_as="12345678"), None)
    )
    return rows, records


def contexts(settings: Settings, language: str) -> dict[str, dict[str, Any]]:
    """What each kind of letter is drafted from, for the sample claim written in ``language``."""
    created = datetime.combine(settings.incidents[0].end.date() + timedelta(days=1), datetime.min.time(), UTC)
    claim = Claim(
        id=42,
        reference=REFERENCE,
        claimant_name="",
        language=language,
        incident=settings.incidents[0].name,
        status="received",
        sender="client@example.com",
        created_at=created + timedelta(hours=2),
    )
    common = replies.common(claim, settings)
    rows, records = _sample_orders(settings)
    zone = settings.incidents[0].start.tzinfo or UTC
    orders, ineligible = replies.offered_orders(rows, records, zone)
    tz = settings.deadlines.tz
    deadline = end_of_day(local_day(claim.created_at, tz) + timedelta(days=settings.claims.consent_days), tz)
    words = {key: PerLanguage(texts) for key, texts in STAFF_WORDS.items()}
    chosen = [
        {
            "ticket": "55667788",
            "symbol": "XAUUSD",
            "remedy": "restore",
            "amount": orders[0]["remedies"][-1]["amount"],
            "currency": "USD",
        },
        {
            "ticket": "55667789",
            "symbol": "EURUSD",
            "remedy": "best_price",
            "amount": orders[1]["remedies"][0]["amount"],
            "currency": "USD",
        },
    ]
    received = local_day(claim.created_at, tz)
    rules = replies.rules(settings)
    found = {
        "acknowledgement": {
            "received_on": received,
            "account": "81234567",
            "accounts": ["81234567"],
            "tickets": ["55667788", "55667789"],
        },
        "needs_information": {"missing": ["orders"], "unknown_tickets": ["12345678"]},
        "unverified_sender": {},
        "offer": {
            "received_on": received,
            "account": "81234567",
            "accounts": ["81234567"],
            "incident_window": replies.incident_window(settings.incidents[0]),
            "orders": orders,
            "ineligible": ineligible,
            "listed_by_bot": False,
            "consent_deadline": deadline,
            "complaint_rules": rules,
            "totals": option_totals(orders),
        },
        "consent_received": {"chosen": chosen},
        "settled": {"chosen": chosen, "note": words["note"]},
        "rejected": {"reason": words["reason"], "complaint_rules": rules},
        "reminder": {"offered_on": received + timedelta(days=1), "consent_deadline": deadline},
        "final_response": {
            "outcome": words["outcome"],
            "reasons": words["reasons"],
            "complaint_rules": rules,
        },
        "followup_received": {},
        "consent_confirmation": {"choice": "2", "received_on": received + timedelta(days=3)},
        "delay": {
            "new_date": received + timedelta(days=28),
            "reason": PerLanguage(settings.jobs.delay_reason),
            "complaint_rules": rules,
        },
    }
    assert set(found) == set(KINDS)
    return {kind: {**common, **values} for kind, values in found.items()}
