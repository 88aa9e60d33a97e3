"""Match stage: settle the extracted numbers against the trade records and verify the sender.

Nothing about an account is confirmed to a sender who is not its registered email address
(or a configured alias of it): an unverified sender gets the same outcome whether or not the
account exists. A number the client calls an order is resolved as an order ticket, an MT5
position id, order or deal ticket, always within the claimed account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.config import IncidentSettings
from bot.stages.extract import Extraction
from bot.stages.records import AccountRecord, OrderRecord


class TradeRecords(Protocol):
    def account(self, login: str) -> AccountRecord | None: ...
    def accounts_of(self, emails: Sequence[str]) -> Sequence[AccountRecord]: ...
    def resolve(self, number: str, *, login: str) -> tuple[OrderRecord | None, str]: ...
    def orders_of(self, login: str) -> Sequence[OrderRecord]: ...
    def already_claimed(self, ticket: str) -> bool: ...


class Problem(StrEnum):
    NO_ACCOUNT = "no_account"
    UNVERIFIED_SENDER = "unverified_sender"
    NO_ORDERS = "no_orders"


class Outcome(StrEnum):
    ELIGIBLE = "eligible"
    UNKNOWN_ORDER = "unknown_order"
    NOT_YOUR_ORDER = "not_your_order"
    OUTSIDE_WINDOW = "outside_window"
    UNVERIFIED_SENDER = "unverified_sender"
    ALREADY_CLAIMED = "already_claimed"


@dataclass(frozen=True)
class OrderMatch:
    ticket: str
    outcome: Outcome
    category: int | None = None
    order: OrderRecord | None = None
    claimed_as: str = ""


@dataclass(frozen=True)
class Match:
    account: AccountRecord | None
    verified: bool
    problem: Problem | None
    orders: tuple[OrderMatch, ...]
    incident: IncidentSettings
    listed_by_bot: bool = False
    # The message named no account: the sender's registered address gave it.
    account_by_email: bool = False


def sender_may_speak_for(account: AccountRecord, sender: str, aliases: Mapping[str, Sequence[str]]) -> bool:
    registered = account.email.strip().lower()
    allowed = {registered, *(a.strip().lower() for a in aliases.get(registered, ()))}
    return sender.strip().lower() in allowed


def match(
    extraction: Extraction,
    *,
    sender: str,
    records: TradeRecords,
    incidents: Sequence[IncidentSettings],
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> Match:
    incident = incidents[0]
    # What an unverified sender is told depends only on the email, never on whether a
    # number is a real account: a labelled account number gets "write from your registered
    # address", a message without one gets "tell us your account number".
    refusal = Problem.UNVERIFIED_SENDER if extraction.account_numbers() else Problem.NO_ACCOUNT
    account = next(
        (
            a
            for n in extraction.account_numbers(0.0)
            if (a := records.account(n)) is not None and sender_may_speak_for(a, sender, aliases or {})
        ),
        None,
    )
    by_email = False
    if account is None and not extraction.account_numbers():
        account = _own_account(extraction, sender, records, aliases or {})
        by_email = account is not None
    if account is None:
        return Match(None, False, refusal, (), incident)
    labelled = extraction.order_numbers()
    loose = [n for n in extraction.order_numbers(0.0) if n not in labelled and n != account.login]
    resolved: list[tuple[str, OrderRecord | None, str]] = [
        (n, *records.resolve(n, login=account.login)) for n in labelled
    ]
    for number in loose:
        order, how = records.resolve(number, login=account.login)
        if order is not None:
            resolved.append((number, order, how))
    listed = False
    if not resolved:
        resolved = [(o.ticket, o, "listed") for o in records.orders_of(account.login)]
        listed = True
    incident = _incident_for([o for _, o, _ in resolved if o is not None], incidents)
    results: list[OrderMatch] = []
    seen: set[str] = set()
    for number, order, how in resolved:
        result = _settle(number, order, how, incident, records)
        if listed and result.outcome is not Outcome.ELIGIBLE:
            continue
        if order is not None and order.ticket in seen:
            continue
        if order is not None:
            seen.add(order.ticket)
        results.append(result)
    problem = Problem.NO_ORDERS if listed and not results else None
    return Match(
        account, True, problem, tuple(results), incident, listed_by_bot=listed, account_by_email=by_email
    )


def _own_account(
    extraction: Extraction, sender: str, records: TradeRecords, aliases: Mapping[str, Sequence[str]]
) -> AccountRecord | None:
    """A registered client who names no account: their only account, or the one of theirs that
    holds the orders they name (the sender's own records, never anyone else's)."""
    sender = sender.strip().lower()
    emails = [sender, *(r for r, others in aliases.items() if sender in (a.strip().lower() for a in others))]
    own = list(records.accounts_of(emails))
    if len(own) == 1:
        return own[0]
    named = extraction.order_numbers(0.0)
    holding = [a for a in own if any(records.resolve(n, login=a.login)[0] is not None for n in named)]
    return holding[0] if len(holding) == 1 else None


def _incident_for(orders: Sequence[OrderRecord], incidents: Sequence[IncidentSettings]) -> IncidentSettings:
    """The incident most of the claimed orders fall in (the first configured one on a tie)."""
    scores = [sum(affected_category(o, i) is not None for o in orders) for i in incidents]
    return incidents[scores.index(max(scores))]


def _settle(
    number: str, order: OrderRecord | None, how: str, incident: IncidentSettings, records: TradeRecords
) -> OrderMatch:
    if order is None:
        outcome = Outcome.NOT_YOUR_ORDER if how == "foreign" else Outcome.UNKNOWN_ORDER
        return OrderMatch(number, outcome, claimed_as=number)
    category = affected_category(order, incident)
    if category is None:
        return OrderMatch(order.ticket, Outcome.OUTSIDE_WINDOW, order=order, claimed_as=number)
    if records.already_claimed(order.ticket):
        return OrderMatch(order.ticket, Outcome.ALREADY_CLAIMED, category, order, claimed_as=number)
    return OrderMatch(order.ticket, Outcome.ELIGIBLE, category, order, claimed_as=number)


def affected_category(order: OrderRecord, incident: IncidentSettings) -> int | None:
    """None if the outage did not touch the order; 2 if it was stopped out after it began; else 1."""
    if incident.symbols and order.symbol not in incident.symbols:
        return None
    start, end = incident.start, incident.end
    opened_inside = start <= order.open_time <= end
    open_across = order.open_time <= end and (order.close_time is None or order.close_time >= start)
    if not (opened_inside or open_across):
        return None
    if order.close_reason == "stop_out" and order.close_time is not None and order.close_time >= start:
        return 2
    return 1
