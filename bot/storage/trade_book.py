"""The broker's trade records as the match and assess stages read them, one session at a time."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, bindparam, cast, func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.config import IncidentSettings
from bot.stages.assess import Conversion, Quote, WindowPrices
from bot.stages.records import AccountRecord, OrderRecord, SymbolRecord
from bot.storage.database import chunks
from bot.storage.tables import Account, ClaimOrder, Symbol, Tick, TicketAlias, TradeOrder, WindowQuote

_ORDERS, _ACCOUNTS = TradeOrder.__table__, Account.__table__  # type: ignore[attr-defined]
_SYMBOLS, _WINDOWS = Symbol.__table__, WindowQuote.__table__  # type: ignore[attr-defined]
_ORDER = sa_select(_ORDERS).where(_ORDERS.c.ticket == bindparam("ticket"))
_ACCOUNT = sa_select(_ACCOUNTS).where(_ACCOUNTS.c.login == bindparam("login"))


@dataclass
class CycleRecords:
    """What every batch of a cycle reads the same: the symbols and the window quotes, read once
    for the cycle as plain values (no session's objects), as ``TradeBook`` reads them. Ticks
    imported while a cycle runs are seen from the next cycle on (an import replaces the window
    quotes it changes)."""

    symbols: dict[str, SymbolRecord | None] = field(default_factory=dict)
    windows: dict[tuple[str, str], WindowQuote] = field(default_factory=dict)


class TradeBook:
    """Read access to the broker's trade records, as the match and assess stages need it.

    An order or an account is read as a row of its table (its columns as attributes, already
    Decimal and UTC), not as an ORM object: loading one through the identity map costs about
    three times as much, and nothing downstream writes to the records."""

    def __init__(self, session: Session, cycle_records: CycleRecords | None = None) -> None:
        self._session = session
        # Symbols and window extremes are few and read for every order: kept at hand, for the
        # cycle when it gives them (``cycle_records``), else for this session.
        kept = cycle_records or CycleRecords()
        self._symbols = kept.symbols
        self._windows = kept.windows
        # What ``prefetch`` read ahead for a batch: a key present is answered from here.
        self._accounts: dict[str, AccountRecord | None] = {}
        self._orders: dict[str, OrderRecord | None] = {}
        self._aliases: dict[str, list[TicketAlias]] = {}
        self._by_email: dict[str, list[AccountRecord]] = {}
        self._claimed: dict[str, bool] = {}
        # Each window's extremes as the assessment takes them, with the quote they come from.
        self._prices: dict[tuple[str, str], tuple[WindowQuote, WindowPrices | None]] = {}

    def prefetch(self, numbers: Collection[str], emails: Collection[str]) -> None:
        """Read ahead, in a few queries for a whole batch, what matching messages that name
        ``numbers`` and come from ``emails`` will ask: accounts and orders by number, ticket
        aliases, accounts by address and which orders already have an eligible claim."""
        wanted = sorted(set(numbers) - self._orders.keys())
        for part in chunks(wanted):
            self._accounts.update(dict.fromkeys(part))
            self._orders.update(dict.fromkeys(part))
            self._aliases.update({n: [] for n in part})
            for row in self._session.execute(sa_select(_ACCOUNTS).where(_ACCOUNTS.c.login.in_(part))):
                self._accounts[row.login] = row
            for row in self._session.execute(sa_select(_ORDERS).where(_ORDERS.c.ticket.in_(part))):
                self._orders[row.ticket] = row
            for alias in self._session.exec(select(TicketAlias).where(TicketAlias.alias.in_(part))):  # type: ignore[attr-defined]
                self._aliases[alias.alias].append(alias)
        behind = sorted({a.ticket for n in wanted for a in self._aliases[n]} - self._orders.keys())
        for part in chunks(behind):
            self._orders.update(dict.fromkeys(part))
            for row in self._session.execute(sa_select(_ORDERS).where(_ORDERS.c.ticket.in_(part))):
                self._orders[row.ticket] = row
        tickets = sorted({o.ticket for o in self._orders.values() if o is not None} - self._claimed.keys())
        for part in chunks(tickets):
            self._claimed.update(dict.fromkeys(part, False))
            stmt = sa_select(ClaimOrder.ticket).where(
                ClaimOrder.ticket.in_(part),  # type: ignore[attr-defined]
                ClaimOrder.outcome == "eligible",
            )
            self._claimed.update(dict.fromkeys(self._session.execute(stmt).scalars(), True))
        addresses = sorted({e.strip().lower() for e in emails} - self._by_email.keys())
        for part in chunks(addresses):
            self._by_email.update({e: [] for e in part})
            stmt = sa_select(_ACCOUNTS).where(func.lower(_ACCOUNTS.c.email).in_(part))
            for row in self._session.execute(stmt):
                self._by_email[row.email.strip().lower()].append(row)

    def note_claimed(self, ticket: str) -> None:
        """An eligible claim on ``ticket`` was written in this transaction: later messages of
        the batch see it claimed, as they would have read it from the database one by one."""
        if ticket in self._claimed:
            self._claimed[ticket] = True

    def account(self, login: str) -> AccountRecord | None:
        if login in self._accounts:
            return self._accounts[login]
        return self._session.execute(_ACCOUNT, {"login": login}).first()

    def order(self, ticket: str) -> OrderRecord | None:
        if ticket in self._orders:
            return self._orders[ticket]
        return self._session.execute(_ORDER, {"ticket": ticket}).first()

    def symbol(self, name: str) -> SymbolRecord | None:
        if name not in self._symbols:
            # A row, not an object of this session: it outlives the session. What the batch has
            # not yet written is no symbol: nothing to flush before asking.
            with self._session.no_autoflush:
                self._symbols[name] = self._session.execute(
                    sa_select(_SYMBOLS).where(_SYMBOLS.c.symbol == name)
                ).first()
        return self._symbols[name]

    def accounts_of(self, emails: Sequence[str]) -> Sequence[AccountRecord]:
        """The accounts registered to any of these addresses (compared without case)."""
        wanted = [e.strip().lower() for e in emails]
        if all(e in self._by_email for e in wanted):
            found = {a.login: a for e in wanted for a in self._by_email[e]}
            return [found[login] for login in sorted(found)]
        stmt = (
            sa_select(_ACCOUNTS).where(func.lower(_ACCOUNTS.c.email).in_(wanted)).order_by(_ACCOUNTS.c.login)
        )
        return self._session.execute(stmt).all()

    def orders_of(self, login: str) -> Sequence[TradeOrder]:
        stmt = select(TradeOrder).where(TradeOrder.login == login).order_by(TradeOrder.open_time)
        return self._session.exec(stmt).all()

    def resolve(self, number: str, *, login: str) -> tuple[OrderRecord | None, str]:
        """The position a client's number names (ticket, MT5 position, order or deal), and which it was.

        Only the claimed account's records count: a number of another account is reported as
        ``foreign`` so that nothing about it is disclosed.
        """
        order = self.order(number)
        if order is not None:
            return (order, "ticket") if order.login == login else (None, "foreign")
        aliases = self._aliases.get(number)
        if aliases is None:
            aliases = list(self._session.exec(select(TicketAlias).where(TicketAlias.alias == number)))
        for alias in aliases:
            if alias.login == login:
                return self.order(alias.ticket), alias.kind
        return None, "foreign" if aliases else "unknown"

    def already_claimed(self, ticket: str) -> bool:
        if ticket in self._claimed:
            return self._claimed[ticket]
        stmt = select(ClaimOrder.id).where(ClaimOrder.ticket == ticket, ClaimOrder.outcome == "eligible")
        return self._session.exec(stmt).first() is not None

    def prices(self, incident: IncidentSettings, symbol: str) -> WindowPrices | None:
        """``window_from_quote`` of the symbol's ``window``: worked out once a batch, not an order."""
        quote = self.window(incident, symbol)
        found = self._prices.get((incident.name, symbol))
        if found is None or found[0] is not quote:
            found = self._prices[incident.name, symbol] = (quote, window_from_quote(quote))
        return found[1]

    def window(self, incident: IncidentSettings, symbol: str) -> WindowQuote:
        """The symbol's quote extremes over the incident window, computed once and kept (as a
        copy no session holds, so that it outlives this one)."""
        key = (incident.name, symbol)
        kept = self._windows.get(key)
        if kept is None or (kept.window_start, kept.window_end) != (incident.start, incident.end):
            found = self._window(incident, symbol)
            kept = self._windows[key] = WindowQuote(
                **{c.key: getattr(found, c.key) for c in _WINDOWS.columns}
            )
        return kept

    def _window(self, incident: IncidentSettings, symbol: str) -> WindowQuote:
        with self._session.no_autoflush:
            cached = self._session.get(WindowQuote, (incident.name, symbol))
        if cached is not None:
            if (cached.window_start, cached.window_end) == (incident.start, incident.end):
                return cached
            self._session.delete(cached)
            self._session.flush()
        prices = self._extremes(symbol, incident.start, incident.end)
        last = self._session.execute(
            sa_select(Tick.time, Tick.bid, Tick.ask)
            .where(Tick.symbol == symbol, Tick.time <= incident.end)
            .order_by(Tick.time.desc())  # type: ignore[attr-defined]
            .limit(1)
        ).first()
        quote = WindowQuote(
            incident=incident.name, symbol=symbol, window_start=incident.start, window_end=incident.end
        )
        if prices is not None:
            quote.low_bid, quote.low_bid_time = prices.low_bid.price, prices.low_bid.time
            quote.high_bid, quote.high_bid_time = prices.high_bid.price, prices.high_bid.time
            quote.low_ask, quote.low_ask_time = prices.low_ask.price, prices.low_ask.time
            quote.high_ask, quote.high_ask_time = prices.high_ask.price, prices.high_ask.time
        if last is not None:
            quote.last_time, quote.last_mid = last[0], (last[1] + last[2]) / 2
        try:
            with self._session.begin_nested():
                self._session.add(quote)
        except IntegrityError:
            stored = self._session.get(WindowQuote, (incident.name, symbol))
            assert stored is not None
            return stored
        return quote

    def _extremes(self, symbol: str, start: datetime, end: datetime) -> WindowPrices | None:
        """The window's extremes, found by the database: the least and greatest of each price as
        a float, then, among the few ticks at that float, the exact extreme as Decimal and its
        earliest tick. Exact, because rounding to a float never reverses an order: the true
        extreme is always among the ticks whose float is the extreme float (SQLite keeps money as
        text, so its own MIN would compare strings)."""
        inside = (Tick.symbol == symbol, Tick.time >= start, Tick.time <= end)
        bid, ask = cast(Tick.bid, Float), cast(Tick.ask, Float)
        floats = self._session.execute(
            sa_select(func.min(bid), func.max(bid), func.min(ask), func.max(ask)).where(*inside)
        ).one()
        if floats[0] is None:
            return None

        def extreme(column: Any, as_float: Any, value: float, lowest: bool) -> Quote:
            ticks = self._session.execute(
                sa_select(Tick.time, column).where(*inside, as_float == value)
            ).all()
            price = min(p for _, p in ticks) if lowest else max(p for _, p in ticks)
            return Quote(price, min(t for t, p in ticks if p == price))

        return WindowPrices(
            extreme(Tick.bid, bid, floats[0], lowest=True),
            extreme(Tick.bid, bid, floats[1], lowest=False),
            extreme(Tick.ask, ask, floats[2], lowest=True),
            extreme(Tick.ask, ask, floats[3], lowest=False),
        )

    def conversion(self, incident: IncidentSettings, source: str, target: str) -> Conversion | None:
        """Rate from ``source`` to ``target`` at the last reference mid at or before the window end."""
        if source == target:
            return Conversion(source, target, Decimal(1))
        for name, invert in ((f"{source}{target}", False), (f"{target}{source}", True)):
            quote = self.window(incident, name)
            if quote.last_mid is not None and quote.last_mid > 0:
                rate = 1 / quote.last_mid if invert else quote.last_mid
                return Conversion(source, target, rate, name, quote.last_time, quote.last_mid, invert)
        return None


def window_from_quote(quote: WindowQuote) -> WindowPrices | None:
    if None in (quote.low_bid, quote.high_bid, quote.low_ask, quote.high_ask):
        return None
    return WindowPrices(
        Quote(quote.low_bid, quote.low_bid_time),  # type: ignore[arg-type]
        Quote(quote.high_bid, quote.high_bid_time),  # type: ignore[arg-type]
        Quote(quote.low_ask, quote.low_ask_time),  # type: ignore[arg-type]
        Quote(quote.high_ask, quote.high_ask_time),  # type: ignore[arg-type]
    )
