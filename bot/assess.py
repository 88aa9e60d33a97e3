"""Assess stage: the compensation the broker's notice promises, for one eligible order.

The policy (docs/compensation.md): with the client's consent, an order that was not
force-liquidated is executed at the price most favourable to the client during the outage;
a force-liquidated order is restored, or closed at the most favourable price. "Most
favourable" is read off the healthy reference feed over the incident window.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bot.tables import Symbol, TradeOrder

CENT = Decimal("0.01")


@dataclass(frozen=True)
class QuoteRange:
    """Extremes of the reference feed over the incident window."""

    low_bid: Decimal
    high_bid: Decimal
    low_ask: Decimal
    high_ask: Decimal


@dataclass(frozen=True)
class Remedy:
    kind: str
    amount: Decimal
    price: Decimal | None
    explanation: str


@dataclass(frozen=True)
class Assessment:
    ticket: str
    category: int
    currency: str
    remedies: tuple[Remedy, ...]


def assess(order: TradeOrder, category: int, *, symbol: Symbol, quotes: QuoteRange) -> Assessment:
    size = order.lots * symbol.contract_size
    buy = order.side == "buy"
    if category == 1:
        best = quotes.low_ask if buy else quotes.high_bid
        gain = (order.open_price - best) if buy else (best - order.open_price)
        amount = _money(max(gain, Decimal(0)) * size)
        verb = "bought" if buy else "sold"
        remedy = Remedy(
            "best_price",
            amount,
            best,
            f"{verb} {order.lots} lots at {order.open_price}; the most favourable "
            f"{'ask' if buy else 'bid'} during the outage was {best}; "
            f"difference x {size} units = {amount} {symbol.profit_currency}",
        )
        return Assessment(order.ticket, 1, symbol.profit_currency, (remedy,))
    close_price = order.close_price if order.close_price is not None else order.open_price
    best = quotes.high_bid if buy else quotes.low_ask
    gain = (best - close_price) if buy else (close_price - best)
    best_amount = _money(max(gain, Decimal(0)) * size)
    loss = -(order.profit or Decimal(0))
    restore_amount = _money(max(loss, Decimal(0)))
    return Assessment(
        order.ticket,
        2,
        symbol.profit_currency,
        (
            Remedy(
                "restore",
                restore_amount,
                order.open_price,
                f"position reopened at its open price {order.open_price}; the realised loss "
                f"of the stop-out, {restore_amount} {symbol.profit_currency}, is credited back",
            ),
            Remedy(
                "best_price",
                best_amount,
                best,
                f"stopped out at {close_price}; the most favourable "
                f"{'bid' if buy else 'ask'} during the outage was {best}; "
                f"difference x {size} units = {best_amount} {symbol.profit_currency}",
            ),
        ),
    )


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
