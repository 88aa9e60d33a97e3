"""Match stage: settle the extracted numbers against the trade records and verify the sender.

Nothing about an account is confirmed to a sender who is not its registered email address,
so an unverified sender gets the same outcome whether or not the account exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.config import IncidentSettings
from bot.extract import Extraction
from bot.tables import Account, TradeOrder


class TradeRecords(Protocol):
    def account(self, login: str) -> Account | None: ...
    def order(self, ticket: str) -> TradeOrder | None: ...
    def orders_of(self, login: str) -> Sequence[TradeOrder]: ...


class Problem(StrEnum):
    NO_ACCOUNT = "no_account"
    UNVERIFIED_SENDER = "unverified_sender"
    NO_ORDERS = "no_orders"


class Outcome(StrEnum):
    ELIGIBLE = "eligible"
    UNKNOWN_ORDER = "unknown_order"
    NOT_YOUR_ORDER = "not_your_order"
    OUTSIDE_WINDOW = "outside_window"


@dataclass(frozen=True)
class OrderMatch:
    ticket: str
    outcome: Outcome
    category: int | None = None
    order: TradeOrder | None = None


@dataclass(frozen=True)
class Match:
    account: Account | None
    verified: bool
    problem: Problem | None
    orders: tuple[OrderMatch, ...]
    listed_by_bot: bool = False


def match(extraction: Extraction, *, sender: str, records: TradeRecords, incident: IncidentSettings) -> Match:
    account = next(
        (a for n in extraction.account_numbers(0.0) if (a := records.account(n)) is not None), None
    )
    if account is None:
        problem = Problem.UNVERIFIED_SENDER if extraction.account_numbers() else Problem.NO_ACCOUNT
        return Match(None, False, problem, ())
    if account.email.strip().lower() != sender.strip().lower():
        return Match(None, False, Problem.UNVERIFIED_SENDER, ())
    labelled = extraction.order_numbers()
    loose = [n for n in extraction.order_numbers(0.0) if n not in labelled and n != account.login]
    results = [_settle(t, account, records, incident) for t in labelled]
    for ticket in loose:
        order = records.order(ticket)
        if order is not None and order.login == account.login:
            results.append(_settle(ticket, account, records, incident))
    if results:
        return Match(account, True, None, tuple(results))
    listed = tuple(
        m
        for o in records.orders_of(account.login)
        if (m := _settle(o.ticket, account, records, incident)).outcome is Outcome.ELIGIBLE
    )
    return Match(account, True, None if listed else Problem.NO_ORDERS, listed, listed_by_bot=True)


def _settle(ticket: str, account: Account, records: TradeRecords, incident: IncidentSettings) -> OrderMatch:
    order = records.order(ticket)
    if order is None:
        return OrderMatch(ticket, Outcome.UNKNOWN_ORDER)
    if order.login != account.login:
        return OrderMatch(ticket, Outcome.NOT_YOUR_ORDER)
    category = affected_category(order, incident)
    if category is None:
        return OrderMatch(ticket, Outcome.OUTSIDE_WINDOW, order=order)
    return OrderMatch(ticket, Outcome.ELIGIBLE, category, order)


def affected_category(order: TradeOrder, incident: IncidentSettings) -> int | None:
    """1: opened during the outage and not force-liquidated; 2: open during it and stopped out."""
    if incident.symbols and order.symbol not in incident.symbols:
        return None
    start, end = incident.start, incident.end
    open_during = order.open_time <= end and (order.close_time is None or order.close_time >= start)
    if order.close_reason == "stop_out" and open_during and _after(order.close_time, start):
        return 2
    if start <= order.open_time <= end:
        return 1
    return None


def _after(moment: datetime | None, start: datetime) -> bool:
    return moment is not None and moment >= start
