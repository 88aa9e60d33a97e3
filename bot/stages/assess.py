"""Assess stage: the compensation the broker's notice promises, for one eligible order.

The policy, with worked examples, is docs/compensation.md. In short: each execution (entry,
exit) that happened inside the outage window is re-priced at the most favourable reference
price of the window, where that is better for the client; a force-liquidated position may
instead be restored. Amounts are Decimal, converted to the account currency, and rounded
half-up to that currency's minor unit once per order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision

from bot.stages.records import OrderRecord, SymbolRecord

ZERO = Decimal(0)


@dataclass(frozen=True)
class Quote:
    price: Decimal
    time: datetime


@dataclass(frozen=True)
class WindowPrices:
    """Extremes of the healthy reference feed inside the incident window, with their tick times."""

    low_bid: Quote
    high_bid: Quote
    low_ask: Quote
    high_ask: Quote


@dataclass(frozen=True)
class Conversion:
    """Profit currency to account currency, at the mid of a reference tick."""

    source: str
    target: str
    rate: Decimal
    symbol: str = ""
    time: datetime | None = None

    def apply(self, amount: Decimal) -> Decimal:
        return amount * self.rate

    def describe(self) -> str:
        if self.source == self.target:
            return ""
        where = f"{self.symbol} mid at {_at(self.time)}"
        return f"converted {self.source}->{self.target} at {self.rate:.8g} ({where})"


@dataclass(frozen=True)
class Remedy:
    kind: str
    amount: Decimal
    currency: str
    price: Decimal | None
    explanation: str
    adjusted_open_price: Decimal | None = None


@dataclass(frozen=True)
class Assessment:
    ticket: str
    category: int
    currency: str
    remedies: tuple[Remedy, ...]


def window_prices(ticks: Iterable[tuple[datetime, Decimal, Decimal]]) -> WindowPrices | None:
    """Extremes of (time, bid, ask) ticks; ties go to the earliest tick, so import order never matters."""
    low_bid = high_bid = low_ask = high_ask = None
    for time, bid, ask in ticks:
        if low_bid is None or (bid, time) < (low_bid.price, low_bid.time):
            low_bid = Quote(bid, time)
        if high_bid is None or (bid > high_bid.price or (bid == high_bid.price and time < high_bid.time)):
            high_bid = Quote(bid, time)
        if low_ask is None or (ask, time) < (low_ask.price, low_ask.time):
            low_ask = Quote(ask, time)
        if high_ask is None or (ask > high_ask.price or (ask == high_ask.price and time < high_ask.time)):
            high_ask = Quote(ask, time)
    if low_bid is None or high_bid is None or low_ask is None or high_ask is None:
        return None
    return WindowPrices(low_bid, high_bid, low_ask, high_ask)


def round_money(amount: Decimal, currency: str) -> Decimal:
    places = get_currency_precision(currency)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _pnl(buy: bool, entry: Decimal, exit_: Decimal, size: Decimal) -> Decimal:
    return (exit_ - entry) * size if buy else (entry - exit_) * size


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "?"


def _inside(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment <= end


def assess(
    order: OrderRecord,
    category: int,
    *,
    symbol: SymbolRecord,
    window: WindowPrices,
    start: datetime,
    end: datetime,
    conversion: Conversion,
) -> Assessment:
    buy = order.side == "buy"
    size = order.lots * symbol.contract_size
    account_ccy = conversion.target
    best_entry = window.low_ask if buy else window.high_bid
    best_exit = window.high_bid if buy else window.low_ask
    entry_better = (best_entry.price < order.open_price) if buy else (best_entry.price > order.open_price)
    entry_repriced = _inside(order.open_time, start, end) and entry_better
    entry = best_entry.price if entry_repriced else order.open_price
    entry_note = (
        f"entry {order.open_price} re-priced to {entry} ({'lowest ask' if buy else 'highest bid'} at "
        f"{_at(best_entry.time)})"
        if entry_repriced
        else f"entry {order.open_price} kept"
    )
    converted = conversion.describe()

    def money(raw: Decimal) -> Decimal:
        return round_money(max(conversion.apply(raw), ZERO), account_ccy)

    def exit_for(force: bool) -> tuple[Decimal, str]:
        actual = order.close_price if order.close_price is not None else order.open_price
        better = (best_exit.price > actual) if buy else (best_exit.price < actual)
        if better and (force or _inside(order.close_time, start, end)):
            where = "highest bid" if buy else "lowest ask"
            return best_exit.price, (
                f"exit {actual} re-priced to {best_exit.price} ({where} at {_at(best_exit.time)})"
            )
        return actual, f"exit {actual} kept"

    formula = "(exit - entry)" if buy else "(entry - exit)"
    remedies: list[Remedy] = []
    if category == 1 and order.close_price is None:
        gain = (order.open_price - entry) if buy else (entry - order.open_price)
        amount = money(gain * size)
        remedies.append(
            Remedy(
                "best_price",
                amount,
                account_ccy,
                entry,
                f"open position; {entry_note}; improvement x {order.lots} lots x {symbol.contract_size} = "
                f"{amount} {account_ccy}" + (f"; {converted}" if converted else ""),
                adjusted_open_price=entry,
            )
        )
    else:
        exit_price, exit_note = exit_for(force=category == 2)
        actual = _pnl(buy, order.open_price, order.close_price or order.open_price, size)
        adjusted = _pnl(buy, entry, exit_price, size)
        amount = money(adjusted - actual)
        remedies.append(
            Remedy(
                "best_price",
                amount,
                account_ccy,
                exit_price if category == 2 or not entry_repriced else entry,
                f"{entry_note}; {exit_note}; profit {formula} x {order.lots} lots x {symbol.contract_size}: "
                f"{adjusted:.2f} instead of {actual:.2f} {symbol.profit_currency}; "
                f"difference {amount} {account_ccy}" + (f"; {converted}" if converted else ""),
                adjusted_open_price=entry,
            )
        )
    if category == 2:
        loss = max(-(order.profit or ZERO), ZERO)
        fee = max(-order.commission, ZERO)
        credit = round_money(loss + fee, account_ccy)
        remedies.insert(
            0,
            Remedy(
                "restore",
                credit,
                account_ccy,
                entry,
                f"stop-out undone: realised loss {loss} + commission {fee} = {credit} {account_ccy}; "
                f"reopen {order.side} {order.lots} {order.symbol} at {entry}",
                adjusted_open_price=entry,
            ),
        )
    return Assessment(order.ticket, category, account_ccy, tuple(remedies))
