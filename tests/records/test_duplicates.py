from __future__ import annotations

from datetime import UTC
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import SQLModel, select

from bot.config import parse_timezone
from bot.records.columns import kinds
from bot.records.importer import import_file
from bot.records.reading import ImportReport
from bot.records.writer import write_chunk
from bot.storage import database
from bot.storage.tables import Account, ImportAudit, Symbol, Tick, TradeOrder

GMT3 = parse_timezone("+03:00")
ORDERS = "ticket,login,symbol,type,lots,open_time,open_price,close_time,close_price,profit,close_reason"
DEALS = "Deal,Order,Position ID,Login,Time,Symbol,Type,Entry,Volume,Price,Commission,Swap,Profit,Reason"


def _stored(engine: Engine, table: type[SQLModel]) -> list[Any]:
    with database.session_scope(engine) as session:
        rows = list(session.exec(select(table)).all())
        session.expunge_all()
    return rows


@pytest.mark.parametrize(
    ("kind", "lines", "error", "table", "kept"),
    [
        (
            "accounts",
            [
                "login,name,email,currency",
                "90000001,Mei Lin,mei.lin@example.com,USD",
                "90000001,Mei Lin,mei@example.org,USD",
            ],
            "column login: duplicate of line 2 (login 90000001)",
            Account,
            {"email": "mei.lin@example.com"},
        ),
        (
            "symbols",
            ["symbol,contract_size,profit_currency,digits", "XAUUSD,100,USD,2", "xauusd,100,USD,3"],
            "column symbol: duplicate of line 2 (symbol XAUUSD)",
            Symbol,
            {"digits": 2},
        ),
        (
            "orders",
            [
                ORDERS,
                "55667788,90000001,XAUUSD,buy,1.00,2019.06.26 14:00:00,1405.00,,,,",
                "55667788,90000001,XAUUSD,buy,2.00,2019.06.26 14:00:00,1405.00,,,,",
            ],
            "column ticket: duplicate of line 2 (ticket 55667788)",
            TradeOrder,
            {"lots": D("1.00")},
        ),
        (
            "ticks",
            [
                "symbol,time,bid,ask",
                "XAUUSD,2019.06.26 14:00:00,1400.10,1400.40",
                "XAUUSD,2019-06-26 11:00:00+00:00,1400.20,1400.50",
            ],
            "column symbol,time: duplicate of line 2 (symbol XAUUSD, time 2019-06-26 14:00:00+03:00)",
            Tick,
            {"bid": D("1400.10")},
        ),
        (
            "mt5_deals",
            [
                DEALS,
                "500001,600001,700001,90000001,2019.06.26 13:05:00,XAUUSD,buy,in,1.00,1405.00,-3.50,0,0,",
                "500001,600002,700001,90000001,2019.06.26 20:00:00,XAUUSD,sell,out,1.00,1400.00,0,0,-500,",
            ],
            "column deal: duplicate of line 2 (deal 500001)",
            TradeOrder,
            {"ticket": "700001", "close_time": None},
        ),
    ],
    ids=["accounts", "symbols", "orders", "ticks", "mt5_deals"],
)
def test_a_key_twice_in_one_file_keeps_the_first_row_and_rejects_the_second_naming_it(
    empty_engine: Engine,
    tmp_path: Path,
    kind: str,
    lines: list[str],
    error: str,
    table: type[SQLModel],
    kept: dict[str, Any],
) -> None:
    path = tmp_path / f"{kind}.csv"
    path.write_text("\n".join(lines) + "\n")
    report = import_file(empty_engine, path, GMT3)

    assert [str(e) for e in report.errors] == [f"{path}:3: {error}"]
    assert report.summary() == f"{path}: {kind}: 2 rows, 1 new, 0 changed, 0 unchanged, 1 rejected"
    (row,) = _stored(empty_engine, table)
    assert {name: getattr(row, name) for name in kept} == kept
    assert _stored(empty_engine, ImportAudit) == []


def test_a_duplicate_six_thousand_lines_later_is_caught_across_chunks(
    empty_engine: Engine, tmp_path: Path
) -> None:
    rows = [f"{80000000 + i},Client {i},client{i}@example.com,USD" for i in range(7000)]
    rows.insert(6000, "80000000,Client 0,someone.else@example.com,USD")
    path = tmp_path / "accounts.csv"
    path.write_text("\n".join(["login,name,email,currency", *rows]) + "\n")
    report = import_file(empty_engine, path, GMT3)

    assert [str(e) for e in report.errors] == [
        f"{path}:6002: column login: duplicate of line 2 (login 80000000)"
    ]
    assert (report.rows, report.inserted, report.updated) == (7001, 7000, 0)
    with database.session_scope(empty_engine) as session:
        assert session.get(Account, "80000000").email == "client0@example.com"  # type: ignore[union-attr]
    assert _stored(empty_engine, ImportAudit) == []


def test_reimporting_a_file_reports_only_its_own_duplicate_and_changes_nothing(
    empty_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        f"{ORDERS}\n"
        "55667788,90000001,XAUUSD,buy,1.00,2019.06.26 14:00:00,1405.00,,,,\n"
        "55667789,90000001,XAUUSD,sell,1.00,2019.06.26 14:05:00,1404.00,,,,\n"
        "55667788,90000001,XAUUSD,buy,2.00,2019.06.26 14:00:00,1405.00,,,,\n"
    )
    first = import_file(empty_engine, path, GMT3)
    again = import_file(empty_engine, path, GMT3)

    duplicate = [f"{path}:4: column ticket: duplicate of line 2 (ticket 55667788)"]
    assert [str(e) for e in first.errors] == [str(e) for e in again.errors] == duplicate
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert _stored(empty_engine, ImportAudit) == []


def test_reimporting_a_file_without_duplicates_reports_none(empty_engine: Engine, tmp_path: Path) -> None:
    rows = [f"{80000000 + i},Client {i},client{i}@example.com,USD" for i in range(6000)]
    path = tmp_path / "accounts.csv"
    path.write_text("\n".join(["login,name,email,currency", *rows]) + "\n")
    import_file(empty_engine, path, GMT3)
    again = import_file(empty_engine, path, GMT3)
    assert (again.errors, again.inserted, again.updated, again.unchanged) == ([], 0, 0, 6000)


def test_a_chunk_holding_one_key_twice_is_refused_by_the_writer(empty_engine: Engine) -> None:
    account = {"login": "90000001", "name": "Mei Lin", "email": "mei.lin@example.com", "currency": "USD"}
    report = ImportReport(file="accounts.csv", kind="accounts")
    with pytest.raises(ValueError, match=r"accounts.csv:3: the key of line 2 again"):
        write_chunk(empty_engine, kinds(UTC)["accounts"], [(2, account), (3, dict(account))], report)
    assert _stored(empty_engine, Account) == []
