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

    @property
    def login(self) -> str:
        """The account the order is in ("" when no covered account holds it)."""
        return self.order.login if self.order is not None else ""


@dataclass(frozen=True)
class Match:
    accounts: tuple[AccountRecord, ...]
    verified: bool
    problem: Problem | None
    orders: tuple[OrderMatch, ...]
    incident: IncidentSettings
    listed_by_bot: bool = False
    # Accounts no number in the message named: the sender's registered address gave them.
    by_email: tuple[str, ...] = ()

    @property
    def account(self) -> AccountRecord | None:
        """The claim's first account (the one a one-account claim is about)."""
        return self.accounts[0] if self.accounts else None

    @property
    def account_by_email(self) -> bool:
        return bool(self.by_email)

    def account_of(self, login: str) -> AccountRecord | None:
        return next((a for a in self.accounts if a.login == login), None)


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
    """Settle the message against the accounts its sender speaks for: each account it names that
    is registered to the sender, and the sender's own accounts that hold the orders it names (or,
    naming neither, all of the sender's accounts). Orders are resolved only inside those, and
    which accounts are covered never depends on whether a number is someone else's (that would
    tell the sender that it exists)."""
    incident = incidents[0]
    aliases = aliases or {}
    # What an unverified sender is told depends only on the email, never on whether a
    # number is a real account: a labelled account number gets "write from your registered
    # address", a message without one gets "tell us your account number".
    refusal = Problem.UNVERIFIED_SENDER if extraction.account_numbers() else Problem.NO_ACCOUNT
    named = [
        a
        for n in dict.fromkeys(extraction.account_numbers(0.0))
        if (a := records.account(n)) is not None and sender_may_speak_for(a, sender, aliases)
    ]
    logins = {a.login for a in named}
    candidates = [n for n in extraction.order_numbers(0.0) if n not in logins]
    own = _own_accounts(sender, records, aliases)
    holding = [a for a in own if any(records.resolve(n, login=a.login)[0] is not None for n in candidates)]
    covered = list(named) + [a for a in holding if a.login not in logins]
    if not covered and not extraction.account_numbers():
        covered = own
    by_email = tuple(a.login for a in covered if a.login not in logins)
    if not covered:
        return Match((), False, refusal, (), incident)
    logins = {a.login for a in covered}
    labelled = [n for n in extraction.order_numbers() if n not in logins]
    loose = [n for n in candidates if n not in labelled and n not in logins]
    resolved = [(n, *_resolve(n, covered, records)) for n in labelled]
    for number in loose:
        # A number the client did not call an order counts when it is one of theirs the
        # outage touched (not one mentioned as closed before it).
        order, how = _resolve(number, covered, records)
        if order is not None and affected_category(order, _incident_for([order], incidents)) is not None:
            resolved.append((number, order, how))
    listed = False
    if not resolved:
        resolved = [(o.ticket, o, "listed") for a in covered for o in records.orders_of(a.login)]
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
        tuple(covered), True, problem, tuple(results), incident, listed_by_bot=listed, by_email=by_email
    )


def _resolve(
    number: str, accounts: Sequence[AccountRecord], records: TradeRecords
) -> tuple[OrderRecord | None, str]:
    """The order a number names in the first of these accounts that holds it; else why not
    (``foreign`` if it is another account's, whoever's)."""
    why = "unknown"
    for account in accounts:
        order, how = records.resolve(number, login=account.login)
        if order is not None:
            return order, how
        why = "foreign" if how == "foreign" else why
    return None, why


def _own_accounts(
    sender: str, records: TradeRecords, aliases: Mapping[str, Sequence[str]]
) -> list[AccountRecord]:
    """The accounts registered to the sender's address, or to an address it is an alias of."""
    return list(records.accounts_of(addresses_of(sender, aliases)))


def addresses_of(sender: str, aliases: Mapping[str, Sequence[str]]) -> list[str]:
    """The sender's address and every registered address it is configured as an alias of."""
    sender = sender.strip().lower()
    return [sender, *(r for r, others in aliases.items() if sender in (a.strip().lower() for a in others))]


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


def window_standing(order: OrderRecord, incident: IncidentSettings) -> str:
    """Why the outage did or did not touch the order, in ``affected_category``'s terms, for the
    claim page to put in words: ``symbol_unaffected``, ``closed_before``, ``opened_after``,
    ``stopped_out``, ``opened_inside`` or ``open_across``."""
    if incident.symbols and order.symbol not in incident.symbols:
        return "symbol_unaffected"
    if order.open_time > incident.end:
        return "opened_after"
    if (
        order.close_time is not None
        and order.close_time < incident.start
        and order.open_time < incident.start
    ):
        return "closed_before"
    if affected_category(order, incident) == 2:
        return "stopped_out"
    return "opened_inside" if order.open_time >= incident.start else "open_across"
