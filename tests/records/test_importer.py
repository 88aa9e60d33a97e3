from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.cli import main
from bot.config import parse_timezone
from bot.records.importer import ImportProblem, import_file
from bot.storage import database, trade_book
from tests import TESTS

RECORDS = TESTS / "data" / "records"
GMT3 = parse_timezone("+03:00")


def test_bad_rows_are_named_by_file_line_and_column_and_good_rows_kept(empty_engine: Engine) -> None:
    path = RECORDS / "orders-with-bad-rows.csv"
    report = import_file(empty_engine, path, GMT3)

    assert [str(e) for e in report.errors] == [
        f"{path}:3: column type: 'hold' is not one of buy, sell",
        f"{path}:4: column lots: 'abc' is not a number",
        f"{path}:5: column open_time: '26/06/2019 14:00' is not a date and time (2019-06-26 18:58:00)",
        f"{path}:6: column close_price: close_time and close_price must both be given or both be empty",
    ]
    assert (report.rows, report.inserted) == (6, 2)
    with database.session_scope(empty_engine) as session:
        kept = {o.ticket: o for o in trade_book.TradeBook(session).orders_of("90000001")}
    assert set(kept) == {"70000001", "70000006"}
    assert kept["70000006"].commission == D("-7.00") and kept["70000006"].close_reason == "stop_out"


def test_times_in_the_trade_servers_zone_are_stored_in_utc(empty_engine: Engine) -> None:
    import_file(empty_engine, RECORDS / "orders-with-bad-rows.csv", GMT3)
    with database.session_scope(empty_engine) as session:
        order = trade_book.TradeBook(session).order("70000001")
    # 14:00 on a GMT+3 server clock is 11:00 UTC, which is 19:00 in the GMT+8 notice: inside the outage.
    assert order is not None and order.open_time == datetime(2019, 6, 26, 11, 0, tzinfo=UTC)


def test_reimporting_the_same_file_changes_nothing(empty_engine: Engine) -> None:
    first = import_file(empty_engine, RECORDS / "accounts.csv", GMT3)
    again = import_file(empty_engine, RECORDS / "accounts.csv", GMT3)
    assert (first.inserted, first.updated) == (2, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


def test_a_changed_row_is_updated_and_audited(empty_engine: Engine, tmp_path: Path) -> None:
    import_file(empty_engine, RECORDS / "accounts.csv", GMT3)
    changed = tmp_path / "accounts.csv"
    changed.write_text(
        (RECORDS / "accounts.csv").read_text().replace("mei.lin@example.com", "mei@example.org")
    )
    report = import_file(empty_engine, changed, GMT3)

    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 1)
    with database.session_scope(empty_engine) as session:
        from bot.storage.tables import Account, ImportAudit

        assert session.get(Account, "90000001").email == "mei@example.org"  # type: ignore[union-attr]
        (audit,) = session.exec(select(ImportAudit)).all()
    assert (audit.record, audit.key, audit.line) == ("accounts", "90000001", 2)
    assert json.loads(audit.before) == {"email": "mei.lin@example.com"}
    assert json.loads(audit.after) == {"email": "mei@example.org"}


def test_mt5_deals_become_positions_found_by_any_of_their_numbers(empty_engine: Engine) -> None:
    report = import_file(empty_engine, RECORDS / "mt5-deals.csv", GMT3)
    assert (report.kind, report.inserted, report.errors) == ("mt5_deals", 1, [])
    with database.session_scope(empty_engine) as session:
        book = trade_book.TradeBook(session)
        position, how = book.resolve("700001", login="90000001")
        assert position is not None and how == "ticket"
        assert (position.lots, position.open_price, position.close_reason) == (
            D("1.00"),
            D("1405.00"),
            "stop_out",
        )
        # two partial closes: 0.40 at 1400.00 and 0.60 at 1395.00, volume-weighted
        assert position.close_price == D("1397.00")
        assert position.profit == D("-800.00") and position.commission == D("-7.00")
        assert book.resolve("500003", login="90000001")[0] == position
        assert book.resolve("600002", login="90000001")[1] == "order"
        assert book.resolve("500003", login="90000002") == (None, "foreign")


def test_a_file_of_unknown_shape_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b,c\n1,2,3\n")
    config = tmp_path / "c.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    assert main(["import", str(odd), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("claimsbot: error:") and "matches none of" in err and str(odd) in err


def test_import_command_reports_each_file_and_fails_on_rejected_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[trade_server]\ntimezone = "Europe/Athens"\n')
    shutil.copy(RECORDS / "accounts.csv", tmp_path / "accounts.csv")
    assert main(["import", str(tmp_path / "accounts.csv"), "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "accounts: 3 rows, 2 new, 0 changed, 0 unchanged, 1 rejected" in out
    assert "accounts.csv:4: column email: 'not-an-email' is not an email address" in out


def test_missing_file_is_reported(empty_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportProblem, match="No such file"):
        import_file(empty_engine, tmp_path / "nope.csv", GMT3)


@pytest.mark.parametrize(
    ("ticket", "category"),
    [
        ("71000001", 1),  # opened 18:57:59 GMT+8, still open at 18:58: open across the start
        ("71000002", 1),  # opened exactly at 18:58:00 GMT+8
        ("71000003", 1),  # opened exactly at 05:30:00 GMT+8
        ("71000004", None),  # one second after the end
        ("71000005", None),  # stopped out one minute before the outage began
        ("71000006", 2),  # stopped out after the fix
    ],
)
def test_the_gmt8_window_holds_for_a_gmt3_server_clock(
    empty_engine: Engine, ticket: str, category: int | None
) -> None:
    from bot.config import Settings
    from bot.stages.match import affected_category

    import_file(empty_engine, RECORDS / "orders-at-the-window-edges.csv", GMT3)
    with database.session_scope(empty_engine) as session:
        order = trade_book.TradeBook(session).order(ticket)
    assert order is not None
    assert affected_category(order, Settings().incidents[0]) == category


def test_a_bad_byte_costs_only_its_own_line(empty_engine: Engine) -> None:
    path = RECORDS / "accounts-with-a-bad-byte.csv"
    report = import_file(empty_engine, path, GMT3)
    assert [str(e) for e in report.errors] == [
        f"{path}:3: column -: not UTF-8 text (byte 14)",
        f"{path}:5: column email: 'not-an-email' is not an email address",
    ]
    assert report.inserted == 2
