"""A small, deterministic trade book for the 26-27 June 2019 outage, used by the demo and tests."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine

from bot.storage.tables import Account, Symbol, Tick, TradeOrder

D = Decimal
WINDOW_START = datetime(2019, 6, 26, 10, 58, tzinfo=UTC)
WINDOW_END = datetime(2019, 6, 26, 21, 30, tzinfo=UTC)

ACCOUNTS = [
    Account(login="81234567", name="Alice Chen", email="alice.chen@example.com", currency="USD"),
    Account(login="81234568", name="王喆", email="wangzhe@example.cn", currency="USD"),
    Account(login="81234569", name="陳大文", email="chantaiman@example.hk", currency="USD"),
    Account(login="81234570", name="Bob Lee", email="bob.lee@example.com", currency="USD"),
]
SYMBOLS = [
    Symbol(symbol="EURUSD", contract_size=D("100000"), profit_currency="USD", digits=5),
    Symbol(symbol="GBPUSD", contract_size=D("100000"), profit_currency="USD", digits=5),
    Symbol(symbol="XAUUSD", contract_size=D("100"), profit_currency="USD", digits=2),
]
_MID = {
    "EURUSD": (D("1.13700"), D("0.00080"), D("0.00012")),
    "GBPUSD": (D("1.27000"), D("0.00150"), D("0.00018")),
    "XAUUSD": (D("1403.00"), D("4.00"), D("0.30")),
}


def _t(day: int, hour: int, minute: int) -> datetime:
    return datetime(2019, 6, day, hour, minute, tzinfo=UTC)


ORDERS = [
    TradeOrder(
        ticket="55667788",
        login="81234567",
        symbol="EURUSD",
        side="buy",
        lots=D("1.00"),
        open_time=_t(26, 12, 15),
        open_price=D("1.13950"),
        close_time=_t(27, 8, 0),
        close_price=D("1.13700"),
        close_reason="client",
        profit=D("-250.00"),
    ),
    TradeOrder(
        ticket="55667789",
        login="81234567",
        symbol="XAUUSD",
        side="sell",
        lots=D("0.50"),
        open_time=_t(26, 14, 2),
        open_price=D("1398.10"),
        close_time=_t(27, 9, 0),
        close_price=D("1402.00"),
        close_reason="client",
        profit=D("-195.00"),
    ),
    TradeOrder(
        ticket="55660001",
        login="81234567",
        symbol="EURUSD",
        side="buy",
        lots=D("1.00"),
        open_time=_t(25, 9, 0),
        open_price=D("1.13600"),
        close_time=_t(25, 15, 0),
        close_price=D("1.13650"),
        close_reason="client",
        profit=D("50.00"),
    ),
    TradeOrder(
        ticket="66778899",
        login="81234568",
        symbol="XAUUSD",
        side="buy",
        lots=D("1.00"),
        open_time=_t(26, 9, 0),
        open_price=D("1405.00"),
        close_time=_t(26, 22, 10),
        close_price=D("1395.20"),
        close_reason="stop_out",
        profit=D("-980.00"),
    ),
    TradeOrder(
        ticket="66778900",
        login="81234568",
        symbol="EURUSD",
        side="sell",
        lots=D("2.00"),
        open_time=_t(26, 16, 30),
        open_price=D("1.13500"),
        close_time=None,
        close_price=None,
        close_reason="",
        profit=None,
    ),
    TradeOrder(
        ticket="77889900",
        login="81234569",
        symbol="GBPUSD",
        side="buy",
        lots=D("1.00"),
        open_time=_t(26, 11, 30),
        open_price=D("1.27400"),
        close_time=_t(27, 2, 0),
        close_price=D("1.27100"),
        close_reason="client",
        profit=D("-300.00"),
    ),
    TradeOrder(
        ticket="88990011",
        login="81234570",
        symbol="EURUSD",
        side="buy",
        lots=D("0.10"),
        open_time=_t(26, 13, 0),
        open_price=D("1.13900"),
        close_time=None,
        close_price=None,
        close_reason="",
        profit=None,
    ),
]


def ticks() -> list[Tick]:
    """One quote a minute per symbol from an hour before to an hour after the outage."""
    rows: list[Tick] = []
    start = WINDOW_START - timedelta(hours=1)
    minutes = int((WINDOW_END - WINDOW_START).total_seconds() // 60) + 120
    for name, (mid, swing, spread) in _MID.items():
        digits = next(s.digits for s in SYMBOLS if s.symbol == name)
        quantum = D(1).scaleb(-digits)
        for i in range(minutes + 1):
            wave = D(str(round(math.sin(i / 37) * 0.7 + math.sin(i / 11) * 0.3, 6)))
            bid = (mid + swing * wave).quantize(quantum)
            rows.append(
                Tick(
                    symbol=name,
                    time=start + timedelta(minutes=i),
                    bid=bid,
                    ask=(bid + spread).quantize(quantum),
                )
            )
    return rows


def write_csv_book(folder: Path, tz: tzinfo) -> list[Path]:
    """The sample book as the broker's CSV exports, times in the trade server's zone ``tz``."""
    folder.mkdir(parents=True, exist_ok=True)

    def when(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y.%m.%d %H:%M:%S") if moment else ""

    tables: dict[str, tuple[list[str], list[list[object]]]] = {
        "accounts.csv": (
            ["login", "name", "email", "currency"],
            [[a.login, a.name, a.email, a.currency] for a in ACCOUNTS],
        ),
        "symbols.csv": (
            ["symbol", "contract_size", "profit_currency", "digits"],
            [[s.symbol, s.contract_size, s.profit_currency, s.digits] for s in SYMBOLS],
        ),
        "orders.csv": (
            [
                "ticket",
                "login",
                "symbol",
                "type",
                "lots",
                "open_time",
                "open_price",
                "close_time",
                "close_price",
                "commission",
                "swap",
                "profit",
                "close_reason",
            ],
            [
                [
                    o.ticket,
                    o.login,
                    o.symbol,
                    o.side,
                    o.lots,
                    when(o.open_time),
                    o.open_price,
                    when(o.close_time),
                    "" if o.close_price is None else o.close_price,
                    o.commission,
                    o.swap,
                    "" if o.profit is None else o.profit,
                    o.close_reason,
                ]
                for o in ORDERS
            ],
        ),
        "ticks.csv": (
            ["symbol", "time", "bid", "ask"],
            [[t.symbol, when(t.time), t.bid, t.ask] for t in ticks()],
        ),
    }
    paths = []
    for name, (header, rows) in tables.items():
        path = folder / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        paths.append(path)
    return paths


def load_sample_book(engine: Engine, folder: Path, tz: tzinfo) -> int:
    """Write the sample CSVs and import them as a broker's would be; return the rows imported."""
    from bot.records.importer import import_file

    return sum(import_file(engine, path, tz).inserted for path in write_csv_book(folder, tz))
