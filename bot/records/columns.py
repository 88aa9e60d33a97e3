"""What each kind of trade-records file holds: its columns, how each cell is read, and how a
file's header tells which kind it is. A cell that cannot be read raises ``BadValue`` with
words for the person who made the file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import SQLModel

from bot.storage.tables import Account, Symbol, Tick, TradeOrder


class ImportProblem(Exception):
    """A file cannot be imported at all (unreadable, unknown header); the message names it."""


class BadValue(ValueError):
    pass


def text(value: str) -> str:
    value = value.strip()
    if not value:
        raise BadValue("is empty")
    return value


def number(value: str) -> Decimal:
    try:
        parsed = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        raise BadValue(f"{value!r} is not a number") from None
    if not parsed.is_finite():
        raise BadValue(f"{value!r} is not a finite number")
    return parsed


def positive(value: str) -> Decimal:
    parsed = number(value)
    if parsed <= 0:
        raise BadValue(f"{value!r} must be greater than 0")
    return parsed


def optional_number(value: str) -> Decimal | None:
    return number(value) if value.strip() else None


def zero_if_empty(value: str) -> Decimal:
    return number(value) if value.strip() else Decimal(0)


def integer(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise BadValue(f"{value!r} is not a whole number") from None


def ticket(value: str) -> str:
    value = value.strip()
    if not value.isdigit():
        raise BadValue(f"{value!r} is not a ticket number")
    return value


def email_address(value: str) -> str:
    value = value.strip().lower()
    if value.count("@") != 1 or not value.split("@")[1]:
        raise BadValue(f"{value!r} is not an email address")
    return value


def currency(value: str) -> str:
    value = value.strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise BadValue(f"{value!r} is not a three-letter currency code")
    return value


def choice(*allowed: str) -> Callable[[str], str]:
    def read(value: str) -> str:
        value = value.strip().lower()
        if value not in allowed:
            raise BadValue(f"{value!r} is not one of {', '.join(a or '(empty)' for a in allowed)}")
        return value

    return read


def server_time(tz: tzinfo) -> Callable[[str], datetime]:
    def read(value: str) -> datetime:
        raw = value.strip()
        if len(raw) >= 10 and raw[4] == "." and raw[7] == ".":
            raw = raw[:4] + "-" + raw[5:7] + "-" + raw[8:]
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise BadValue(f"{value!r} is not a date and time (2019-06-26 18:58:00)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.astimezone(UTC)

    return read


def optional(read: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda value: read(value) if value.strip() else None


@dataclass(frozen=True)
class Kind:
    name: str
    table: type[SQLModel]
    key: tuple[str, ...]
    columns: dict[str, Callable[[str], Any]]
    row_key: tuple[str, ...] = ()

    @property
    def file_key(self) -> tuple[str, ...]:
        """The columns no two rows of one file may share: the table's key, unless the file's rows
        are not the table's rows (MT5 deals, several to a position, are told apart by deal)."""
        return self.row_key or self.key


def kinds(tz: tzinfo) -> dict[str, Kind]:
    when = server_time(tz)
    return {
        "accounts": Kind(
            "accounts",
            Account,
            ("login",),
            {
                "login": ticket,
                "name": text,
                "email": email_address,
                "currency": currency,
            },
        ),
        "symbols": Kind(
            "symbols",
            Symbol,
            ("symbol",),
            {
                "symbol": lambda v: text(v).upper(),
                "contract_size": positive,
                "profit_currency": currency,
                "digits": integer,
            },
        ),
        "orders": Kind(
            "orders",
            TradeOrder,
            ("ticket",),
            {
                "ticket": ticket,
                "login": ticket,
                "symbol": lambda v: text(v).upper(),
                "type": choice("buy", "sell"),
                "lots": positive,
                "open_time": when,
                "open_price": positive,
                "close_time": optional(when),
                "close_price": optional(positive),
                "commission": zero_if_empty,
                "swap": zero_if_empty,
                "profit": optional_number,
                "close_reason": choice("client", "sl", "tp", "stop_out", ""),
            },
        ),
        "ticks": Kind(
            "ticks",
            Tick,
            ("symbol", "time"),
            {
                "symbol": lambda v: text(v).upper(),
                "time": when,
                "bid": positive,
                "ask": positive,
            },
        ),
        "mt5_deals": Kind(
            "mt5_deals",
            TradeOrder,
            ("ticket",),
            {
                "deal": ticket,
                "order": optional(ticket),
                "position": ticket,
                "login": ticket,
                "time": when,
                "symbol": lambda v: v.strip().upper(),
                "type": choice("buy", "sell", "balance", "credit"),
                "entry": choice("in", "out", "inout", "out_by", ""),
                "volume": zero_if_empty,
                "price": zero_if_empty,
                "commission": zero_if_empty,
                "swap": zero_if_empty,
                "profit": zero_if_empty,
                "reason": lambda v: v.strip().lower(),
            },
            row_key=("deal",),
        ),
    }


def header_name(column: str) -> str:
    name = column.strip().lower().replace(" ", "_").replace("-", "_")
    return {"position_id": "position", "positionid": "position", "direction": "entry", "side": "type"}.get(
        name, name
    )


def detect(header: list[str], tz: tzinfo) -> Kind:
    names = {header_name(c) for c in header}
    for kind in kinds(tz).values():
        required = set(kind.columns) - ({"commission", "swap"} if kind.name == "orders" else set())
        if required <= names:
            return kind
    raise ImportProblem(
        f"header {','.join(header)!r} matches none of: accounts, symbols, orders, ticks, mt5_deals"
    )
