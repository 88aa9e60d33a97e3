"""One realistic context per reply kind, as the pipeline and the approval page provide them.

The draft tests render every template in every language with these; keep them in step with
``bot.stages.draft.VARIABLES`` (a test checks that they are).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.stages.assess import Conversion, Leg, Workings

HK = timezone(timedelta(hours=8))
LETTERS = {
    "broker_name": {
        "en": "Example Markets Ltd",
        "zh-Hans": "示例市场有限公司",
        "zh-Hant": "示例市場有限公司",
    },
    "sign_off": {"en": "Client Services", "zh-Hans": "客户服务部", "zh-Hant": "客戶服務部"},
    "contact": {
        "en": ["complaint@broker.example", "+852 0000 0000"],
        "zh-Hans": ["complaint@broker.example", "+852 0000 0000"],
        "zh-Hant": ["complaint@broker.example", "+852 0000 0000"],
    },
}
_GOLD = {"side": "buy", "lots": Decimal("1.00"), "contract_size": Decimal("100"), "currency": "USD"}
_ENTRY = Leg(
    "entry", Decimal("1409.35"), Decimal("1406.99"), "low_ask", datetime(2019, 6, 26, 20, 42, tzinfo=HK)
)

RULES = {
    "external_route": {
        "en": (
            "If you are not satisfied with our response, you may refer your complaint to the "
            "Financial Ombudsman, free of charge, within six months of this letter."
        ),
        "zh-Hans": "如您对我们的答复不满意，可在本函发出后六个月内免费向金融申诉专员投诉。",
        "zh-Hant": "如您對我們的答覆不滿意，可在本函發出後六個月內免費向金融申訴專員投訴。",
    }
}

_ORDERS = [
    {
        "ticket": "55667788",
        "account": "81234567",
        "symbol": "XAUUSD",
        "side": "buy",
        "lots": Decimal("1.00"),
        "opened_at": datetime(2019, 6, 26, 19, 5, tzinfo=HK),
        "open_price": Decimal("1409.35"),
        "category": 2,
        "currency": "USD",
        "remedies": [
            {
                "number": 1,
                "kind": "best_price",
                "amount": Decimal("1179.00"),
                "price": Decimal("1406.99"),
                "explanation": "entry repriced to 1406.99; exit at 1411.20; difference 1179.00 USD",
                "workings": Workings(
                    "best_price",
                    amount=Decimal("1179.00"),
                    legs=(
                        _ENTRY,
                        Leg(
                            "exit",
                            Decimal("1395.20"),
                            Decimal("1418.78"),
                            "high_bid",
                            datetime(2019, 6, 27, 1, 3, tzinfo=HK),
                        ),
                    ),
                    adjusted=Decimal("1179.00"),
                    actual=Decimal("-1415.00"),
                    profit_currency="USD",
                    symbol="XAUUSD",
                    **_GOLD,
                ),
            },
            {
                "number": 2,
                "kind": "restore",
                "amount": Decimal("980.00"),
                "price": Decimal("1409.35"),
                "explanation": "stop-out undone: realised loss 970.00 + commission 10.00 = 980.00 USD",
                "workings": Workings(
                    "restore",
                    amount=Decimal("980.00"),
                    legs=(_ENTRY,),
                    loss=Decimal("970.00"),
                    commission=Decimal("10.00"),
                    symbol="XAUUSD",
                    **_GOLD,
                ),
            },
        ],
    },
    {
        "ticket": "55667789",
        "account": "81234567",
        "symbol": "EURUSD",
        "side": "sell",
        "lots": Decimal("0.50"),
        "opened_at": datetime(2019, 6, 26, 20, 40, tzinfo=HK),
        "open_price": Decimal("1.13456"),
        "category": 1,
        "currency": "USD",
        "remedies": [
            {
                "number": 1,
                "kind": "best_price",
                "amount": Decimal("12345.67"),
                "price": Decimal("1.13950"),
                "explanation": "open position; entry repriced to 1.13950; improvement x 0.50 lots x 100000",
                "workings": Workings(
                    "best_price",
                    side="sell",
                    lots=Decimal("0.50"),
                    contract_size=Decimal("100000"),
                    amount=Decimal("12345.67"),
                    currency="USD",
                    legs=(
                        Leg(
                            "entry",
                            Decimal("1.13456"),
                            Decimal("1.13950"),
                            "high_bid",
                            datetime(2019, 6, 26, 19, 15, tzinfo=HK),
                        ),
                    ),
                    improvement=Decimal("0.00494"),
                    profit_currency="EUR",
                    symbol="EURUSD",
                    conversion=Conversion(
                        "EUR", "USD", Decimal("1.13701"), "EURUSD", datetime(2019, 6, 27, 5, 29, tzinfo=HK)
                    ),
                ),
            }
        ],
    },
]

_CHOSEN = [
    {
        "ticket": "55667788",
        "symbol": "XAUUSD",
        "remedy": "restore",
        "amount": Decimal("980.00"),
        "currency": "USD",
    },
    {
        "ticket": "55667789",
        "symbol": "EURUSD",
        "remedy": "best_price",
        "amount": Decimal("12345.67"),
        "currency": "USD",
    },
]

_COMMON = {"reference": "CLM-2019-000042", "name": "Alice Chen", "answer_within_days": 14, "letters": LETTERS}

SAMPLES: dict[str, dict[str, Any]] = {
    "acknowledgement": {
        **_COMMON,
        "received_on": date(2019, 6, 27),
        "account": "81234567",
        "accounts": ["81234567"],
        "tickets": ["55667788", "55667789"],
    },
    "needs_information": {**_COMMON, "missing": ["account", "orders"], "unknown_tickets": ["12345678"]},
    "unverified_sender": dict(_COMMON),
    "offer": {
        **_COMMON,
        "received_on": date(2019, 6, 27),
        "account": "81234567",
        "accounts": ["81234567"],
        "incident_window": "2019-06-26 18:58 to 2019-06-27 05:30 (UTC+08:00)",
        "orders": _ORDERS,
        "ineligible": [{"ticket": "12345678", "reason": "unknown_order"}],
        "listed_by_bot": False,
        "consent_deadline": datetime(2019, 7, 27, 23, 59, 59, tzinfo=ZoneInfo("Asia/Hong_Kong")),
        "complaint_rules": RULES,
        # bot.stages.draft.option_totals of the orders above, worked out by hand.
        "totals": [
            {"number": 1, "amounts": [("USD", Decimal("13524.67"))]},
            {"number": 2, "amounts": [("USD", Decimal("13325.67"))]},
        ],
    },
    "consent_received": {**_COMMON, "chosen": _CHOSEN},
    "settled": {**_COMMON, "chosen": _CHOSEN, "note": "Credited to your trading account on 5 July 2019."},
    "rejected": {
        **_COMMON,
        "reason": "Order 12345678 was opened on 25 June 2019, before the outage began.",
        "complaint_rules": RULES,
    },
    "reminder": {
        **_COMMON,
        "offered_on": date(2019, 7, 1),
        "consent_deadline": datetime(2019, 7, 27, 23, 59, 59, tzinfo=ZoneInfo("Asia/Hong_Kong")),
    },
    "final_response": {
        **_COMMON,
        "outcome": "We stand by our offer of 1,179.00 USD for order 55667788.",
        "reasons": "The price you ask for was never quoted during the outage.",
        "complaint_rules": RULES,
    },
    "followup_received": dict(_COMMON),
    "consent_confirmation": {**_COMMON, "choice": "2", "received_on": date(2019, 7, 3)},
    "delay": {
        **_COMMON,
        "new_date": date(2019, 7, 25),
        "reason": "We are still reconciling the reference prices for gold.",
        "complaint_rules": RULES,
    },
}
