"""Assess stage: the compensation the broker's notice promises, for one eligible order.

The policy, with worked examples, is docs/compensation.md. In short: each execution (entry,
exit) that happened inside the outage window is re-priced at the most favourable reference
price of the window, where that is better for the client; a force-liquidated position may
instead be restored. Amounts are Decimal, converted to the account currency, and rounded
half-up to that currency's minor unit once per order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

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
    # The pair's mid price the rate comes from: the rate itself, or (``inverted``, a pair quoted
    # the other way round, USDJPY for JPY to USD) one divided by it.
    mid: Decimal | None = None
    inverted: bool = False

    def apply(self, amount: Decimal) -> Decimal:
        return amount * self.rate

    def describe(self) -> str:
        if self.source == self.target:
            return ""
        where = f"{self.symbol} mid{f' {self.mid}' if self.mid is not None else ''} at {_at(self.time)}"
        how = f"1/{self.mid}" if self.inverted and self.mid is not None else f"{self.rate:.8g}"
        return f"converted {self.source}->{self.target} at {how} ({where})"


@dataclass(frozen=True)
class Leg:
    """One execution of the order, its entry or its exit, and the price the remedy counts for it.
    ``quote`` names the window extreme that replaced the actual price ("low_ask", "high_bid",
    ...), or is "" when the actual price was kept."""

    name: str
    actual: Decimal
    used: Decimal
    quote: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Workings:
    """How a remedy's amount was reached, as figures, so that every letter states it in the
    client's own language and zone, and the English line for staff says the same."""

    kind: str
    side: str
    lots: Decimal
    contract_size: Decimal
    amount: Decimal
    currency: str
    legs: tuple[Leg, ...] = ()
    # A position still open: the price improvement; a closed one: the profit as re-priced and
    # as executed, in the symbol's profit currency.
    improvement: Decimal | None = None
    adjusted: Decimal | None = None
    actual: Decimal | None = None
    profit_currency: str = ""
    # restore: the realised loss and the commission given back, and the position reopened.
    loss: Decimal | None = None
    commission: Decimal | None = None
    symbol: str = ""
    conversion: Conversion | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workings:
        """Read back ``dataclasses.asdict(workings)`` as stored in JSON (numbers as strings)."""
        data = dict(data)
        conversion = data.pop("conversion")
        legs = tuple(Leg(**{**leg, **_typed(leg)}) for leg in data.pop("legs"))
        return cls(
            **{**data, **_typed(data)},
            legs=legs,
            conversion=Conversion(**{**conversion, **_typed(conversion)}) if conversion else None,
        )


_DECIMALS = frozenset(
    {
        "actual",
        "used",
        "lots",
        "contract_size",
        "amount",
        "improvement",
        "adjusted",
        "loss",
        "commission",
        "rate",
    }
)


def _typed(data: dict[str, Any]) -> dict[str, Any]:
    """The Decimal and datetime fields of a stored ``Workings`` part, read back exactly."""
    typed: dict[str, Any] = {}
    for key, value in data.items():
        if value is not None and key in _DECIMALS:
            typed[key] = Decimal(value)
        elif value is not None and key in ("at", "time"):
            moment = datetime.fromisoformat(value)
            typed[key] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return typed


@dataclass(frozen=True)
class Remedy:
    kind: str
    amount: Decimal
    currency: str
    price: Decimal | None
    explanation: str
    adjusted_open_price: Decimal | None = None
    workings: Workings | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Assessment:
    ticket: str
    category: int
    currency: str
    remedies: tuple[Remedy, ...]


def window_prices(ticks: Iterable[tuple[datetime, Decimal, Decimal]]) -> WindowPrices | None:
    """Extremes of (time, bid, ask) ticks; ties go to the earliest tick, so import order never
    matters. One pass with the four leaders in locals: it runs over every tick of the window."""
    rows = iter(ticks)
    first = next(rows, None)
    if first is None:
        return None
    time, bid, ask = first
    low_bid, low_bid_at, high_bid, high_bid_at = bid, time, bid, time
    low_ask, low_ask_at, high_ask, high_ask_at = ask, time, ask, time
    for time, bid, ask in rows:
        if bid < low_bid or (bid == low_bid and time < low_bid_at):
            low_bid, low_bid_at = bid, time
        if bid > high_bid or (bid == high_bid and time < high_bid_at):
            high_bid, high_bid_at = bid, time
        if ask < low_ask or (ask == low_ask and time < low_ask_at):
            low_ask, low_ask_at = ask, time
        if ask > high_ask or (ask == high_ask and time < high_ask_at):
            high_ask, high_ask_at = ask, time
    return WindowPrices(
        Quote(low_bid, low_bid_at),
        Quote(high_bid, high_bid_at),
        Quote(low_ask, low_ask_at),
        Quote(high_ask, high_ask_at),
    )


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
    entry_leg = (
        Leg("entry", order.open_price, entry, "low_ask" if buy else "high_bid", best_entry.time)
        if entry_repriced
        else Leg("entry", order.open_price, entry)
    )
    converted = conversion.describe()
    shared = {"side": order.side, "lots": order.lots, "contract_size": symbol.contract_size}
    shared |= {"currency": account_ccy, "symbol": order.symbol}
    shared["conversion"] = conversion if conversion.source != conversion.target else None

    def money(raw: Decimal) -> Decimal:
        return round_money(max(conversion.apply(raw), ZERO), account_ccy)

    def exit_for(force: bool) -> Leg:
        actual = order.close_price if order.close_price is not None else order.open_price
        better = (best_exit.price > actual) if buy else (best_exit.price < actual)
        if better and (force or _inside(order.close_time, start, end)):
            return Leg("exit", actual, best_exit.price, "high_bid" if buy else "low_ask", best_exit.time)
        return Leg("exit", actual, actual)

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
                f"open position; {_note(entry_leg)}; improvement {gain} x {order.lots} lots x "
                f"{symbol.contract_size} = {amount} {account_ccy}" + (f"; {converted}" if converted else ""),
                adjusted_open_price=entry,
                workings=Workings(
                    "best_price",
                    amount=amount,
                    legs=(entry_leg,),
                    improvement=gain,
                    profit_currency=symbol.profit_currency,
                    **shared,
                ),
            )
        )
    else:
        exit_leg = exit_for(force=category == 2)
        actual = _pnl(buy, order.open_price, order.close_price or order.open_price, size)
        adjusted = _pnl(buy, entry, exit_leg.used, size)
        amount = money(adjusted - actual)
        remedies.append(
            Remedy(
                "best_price",
                amount,
                account_ccy,
                exit_leg.used if category == 2 or not entry_repriced else entry,
                f"{_note(entry_leg)}; {_note(exit_leg)}; profit {formula} x {order.lots} lots x "
                f"{symbol.contract_size}: {adjusted:.2f} instead of {actual:.2f} {symbol.profit_currency}; "
                f"difference {amount} {account_ccy}" + (f"; {converted}" if converted else ""),
                adjusted_open_price=entry,
                workings=Workings(
                    "best_price",
                    amount=amount,
                    legs=(entry_leg, exit_leg),
                    adjusted=adjusted,
                    actual=actual,
                    profit_currency=symbol.profit_currency,
                    **shared,
                ),
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
                workings=Workings(
                    "restore",
                    amount=credit,
                    legs=(entry_leg,),
                    loss=loss,
                    commission=fee,
                    **{**shared, "conversion": None},
                ),
            ),
        )
    return Assessment(order.ticket, category, account_ccy, tuple(remedies))


_QUOTES = {
    "low_ask": "lowest ask",
    "high_ask": "highest ask",
    "low_bid": "lowest bid",
    "high_bid": "highest bid",
}


def _note(leg: Leg) -> str:
    """The staff's English line for one execution: ``entry 1.2 re-priced to 1.1 (lowest ask at ...)``."""
    if not leg.quote:
        return f"{leg.name} {leg.actual} kept"
    return f"{leg.name} {leg.actual} re-priced to {leg.used} ({_QUOTES[leg.quote]} at {_at(leg.at)})"
