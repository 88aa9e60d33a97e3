"""Import and assessment at scale, against a NumPy reference computed from the same data in the same run.

Generates a book (default 1,000,000 orders and 5,000,000 ticks) as CSV in the trade server's
time zone, imports it with `bot.records.importer`, then assesses N claims (default 10,000) through the
same code the worker uses (TradeBook lookups, cached window extremes, `bot.stages.assess`) and
compares with a vectorised NumPy computation of the best-price remedy over the same orders.

Run: .venv/bin/python bench/compensation.py [--orders N] [--ticks N] [--claims N]
"""

from __future__ import annotations

import argparse
import atexit
import csv
import platform
import random
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from bot.config import settings_from_mapping
from bot.records.importer import import_file
from bot.stages.assess import assess
from bot.stages.match import affected_category
from bot.storage import database, schema, trade_book

SYMBOLS = {
    "EURUSD": ("100000", "USD", 5, 1.137),
    "GBPUSD": ("100000", "USD", 5, 1.270),
    "XAUUSD": ("100", "USD", 2, 1403.0),
    "USDJPY": ("100000", "JPY", 3, 107.8),
}
SERVER = timedelta(hours=3)
START = datetime(2019, 6, 26, 10, 58, tzinfo=UTC)
END = datetime(2019, 6, 26, 21, 30, tzinfo=UTC)


def scratch(prefix: str) -> Path:
    """A folder for one run's book and database, removed when the script ends: a run leaves
    hundreds of megabytes behind otherwise."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def stamp(moment: datetime) -> str:
    return (moment + SERVER).strftime("%Y.%m.%d %H:%M:%S.%f")


def generate(folder: Path, orders: int, ticks: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    accounts = max(1, orders // 10)
    paths = [folder / "accounts.csv", folder / "symbols.csv", folder / "orders.csv", folder / "ticks.csv"]
    with paths[0].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["login", "name", "email", "currency"])
        w.writerows([10_000_000 + i, f"Client {i}", f"client{i}@example.com", "USD"] for i in range(accounts))
    with paths[1].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "contract_size", "profit_currency", "digits"])
        w.writerows([s, size, ccy, digits] for s, (size, ccy, digits, _) in SYMBOLS.items())
    span = (END - START) + timedelta(hours=6)
    first = START - timedelta(hours=3)
    with paths[3].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "time", "bid", "ask"])
        per_symbol = max(1, ticks // len(SYMBOLS))
        step = span / per_symbol
        for symbol, (_, _, digits, mid) in SYMBOLS.items():
            price = mid
            for i in range(per_symbol):
                price += rng.gauss(0, mid * 0.00005)
                bid = round(price, digits)
                w.writerow(
                    [symbol, stamp(first + step * i), f"{bid:.{digits}f}", f"{bid + mid * 0.0001:.{digits}f}"]
                )
    with paths[2].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
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
            ]
        )
        names = list(SYMBOLS)
        for i in range(orders):
            symbol = names[i % len(names)]
            _, _, digits, mid = SYMBOLS[symbol]
            opened = first + timedelta(seconds=rng.uniform(0, span.total_seconds() - 3600))
            open_price = round(mid * rng.uniform(0.997, 1.003), digits)
            closed = rng.random() < 0.6
            reason = "stop_out" if closed and rng.random() < 0.2 else "client"
            close_time = opened + timedelta(seconds=rng.uniform(60, 3 * 3600)) if closed else None
            close_price = round(mid * rng.uniform(0.997, 1.003), digits) if closed else None
            w.writerow(
                [
                    50_000_000 + i,
                    10_000_000 + i % accounts,
                    symbol,
                    rng.choice(["buy", "sell"]),
                    f"{rng.choice([0.01, 0.1, 0.5, 1, 2]):.2f}",
                    stamp(opened),
                    f"{open_price:.{digits}f}",
                    stamp(close_time) if close_time else "",
                    f"{close_price:.{digits}f}" if close_price else "",
                    "-1.00",
                    "0",
                    "-100.00" if closed else "",
                    reason if closed else "",
                ]
            )
    return paths


def ours(engine, settings, tickets: list[str]) -> tuple[float, Decimal, int]:  # type: ignore[no-untyped-def]
    incident = settings.incidents[0]
    total, count = Decimal(0), 0
    started = time.perf_counter()
    with database.session_scope(engine) as session:
        book = trade_book.TradeBook(session)
        for ticket in tickets:
            order = book.order(ticket)
            assert order is not None
            account = book.account(order.login)
            category = affected_category(order, incident)
            if account is None or category is None:
                continue
            symbol = book.symbol(order.symbol)
            prices = trade_book.window_from_quote(book.window(incident, order.symbol))
            conversion = book.conversion(incident, symbol.profit_currency, account.currency)  # type: ignore[union-attr]
            if symbol is None or prices is None or conversion is None:
                continue
            result = assess(
                order,
                category,
                symbol=symbol,
                window=prices,
                start=incident.start,
                end=incident.end,
                conversion=conversion,
            )
            total += next(r.amount for r in result.remedies if r.kind == "best_price")
            count += 1
    return time.perf_counter() - started, total, count


def reference(orders_csv: Path, ticks_csv: Path, tickets: set[str]) -> tuple[float, float, int]:
    """Category-1/2 best-price amounts for the same orders, vectorised, from the CSV files."""

    def utc(text: str) -> float:
        return (datetime.fromisoformat(text.replace(".", "-", 2)).replace(tzinfo=UTC) - SERVER).timestamp()

    with ticks_csv.open() as f:
        rows = list(csv.reader(f))[1:]
    with orders_csv.open() as f:
        picked = [r for r in list(csv.reader(f))[1:] if r[0] in tickets]
    started = time.perf_counter()
    t0, t1 = START.timestamp(), END.timestamp()
    extremes: dict[str, tuple[float, float, float]] = {}
    last_mid: dict[str, float] = {}
    symbols = np.array([r[0] for r in rows])
    times = np.array([utc(r[1]) for r in rows])
    bids = np.array([float(r[2]) for r in rows])
    asks = np.array([float(r[3]) for r in rows])
    for symbol in SYMBOLS:
        inside = (symbols == symbol) & (times >= t0) & (times <= t1)
        extremes[symbol] = (bids[inside].max(), asks[inside].min(), 0.0)
        before = (symbols == symbol) & (times <= t1)
        last_mid[symbol] = float((bids[before][-1] + asks[before][-1]) / 2)
    sym = np.array([r[2] for r in picked])
    buy = np.array([r[3] == "buy" for r in picked])
    size = np.array([float(r[4]) * float(SYMBOLS[r[2]][0]) for r in picked])
    opened = np.array([utc(r[5]) for r in picked])
    open_price = np.array([float(r[6]) for r in picked])
    closed = np.array([r[7] != "" for r in picked])
    close_time = np.array([utc(r[7]) if r[7] else np.inf for r in picked])
    close_price = np.where(closed, np.array([float(r[8]) if r[8] else 0.0 for r in picked]), open_price)
    stop = np.array([r[12] == "stop_out" for r in picked]) & (close_time >= t0)
    high_bid = np.array([extremes[s][0] for s in sym])
    low_ask = np.array([extremes[s][1] for s in sym])
    affected = ((opened >= t0) & (opened <= t1)) | ((opened <= t1) & (close_time >= t0))
    best_entry = np.where(buy, low_ask, high_bid)
    best_exit = np.where(buy, high_bid, low_ask)
    entry_in = (opened >= t0) & (opened <= t1)
    better_entry = np.where(buy, best_entry < open_price, best_entry > open_price)
    entry = np.where(entry_in & better_entry, best_entry, open_price)
    better_exit = np.where(buy, best_exit > close_price, best_exit < close_price)
    exit_in = (close_time >= t0) & (close_time <= t1)
    exit_ = np.where(better_exit & (exit_in | stop), best_exit, close_price)
    sign = np.where(buy, 1.0, -1.0)
    actual = sign * (close_price - open_price) * size
    adjusted = sign * (exit_ - entry) * size
    open_gain = sign * (open_price - entry) * size
    raw = np.where(closed, adjusted - actual, open_gain)
    rate = np.array([1 / last_mid["USDJPY"] if SYMBOLS[s][1] == "JPY" else 1.0 for s in sym])
    amounts = np.round(np.maximum(raw * rate, 0), 2)
    total = float(amounts[affected].sum())
    return time.perf_counter() - started, total, int(affected.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=5_000_000)
    parser.add_argument("--claims", type=int, default=10_000)
    args = parser.parse_args()
    folder = scratch("claimsbot-bench-")
    settings = settings_from_mapping(
        {"data_dir": str(folder / "data"), "trade_server": {"timezone": "+03:00"}}, source="bench"
    )
    engine = schema.open_engine(settings)
    started = time.perf_counter()
    paths = generate(folder, args.orders, args.ticks)
    generated = time.perf_counter() - started
    timings = {}
    for path in paths:
        started = time.perf_counter()
        report = import_file(engine, path, settings.trade_server.tz)
        timings[path.name] = time.perf_counter() - started
        assert not report.errors, report.errors[:3]
    rng = random.Random(11)
    tickets = [str(50_000_000 + i) for i in rng.sample(range(args.orders), min(args.claims, args.orders))]
    ours_time, ours_total, ours_count = ours(engine, settings, tickets)
    warm_time, _, _ = ours(engine, settings, tickets)
    ours_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ref_time, ref_total, ref_count = reference(paths[2], paths[3], set(tickets))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()} python {platform.python_version()}, SQLite")
    print(f"book: {args.orders:,} orders, {args.ticks:,} ticks (CSV written in {generated:.1f} s)")
    for name, seconds in timings.items():
        print(f"import {name}: {seconds:.1f} s")
    print(
        f"import orders: {args.orders / timings['orders.csv']:,.0f} rows/s; "
        f"ticks: {args.ticks / timings['ticks.csv']:,.0f} rows/s"
    )
    print(
        f"assess {len(tickets):,} claims ({ours_count:,} affected orders): first run {ours_time:.2f} s "
        f"(window extremes computed), warm {warm_time:.2f} s"
    )
    print(f"reference (NumPy, same orders): {ref_time:.3f} s for {ref_count:,} affected orders")
    print(
        f"ratio ours(first run)/reference: {ours_time / ref_time:.1f}x; "
        f"ours(warm)/reference: {warm_time / ref_time:.1f}x"
    )
    print(
        f"totals: ours {ours_total:,.2f} USD over {ours_count:,} orders; reference {ref_total:,.2f} USD over "
        f"{ref_count:,} orders (difference {abs(float(ours_total) - ref_total):,.2f}: float rounding)"
    )
    print(
        f"peak RSS: {ours_rss:.0f} MiB through import and assessment; {rss:.0f} MiB after the reference "
        "(which holds the whole tick file in memory)"
    )


if __name__ == "__main__":
    main()
