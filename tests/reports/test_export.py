from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from bot.claims.deadlines import BROKER
from bot.demo.book import ACCOUNTS, ORDERS
from bot.reports.export import COLUMNS, ISSUE, PRODUCT, export_complaints
from bot.storage import database
from bot.storage.tables import Claim
from tests.reports.test_digest import HK, Built, build

INCIDENT = "quote-server-2019-06-26"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The digest tests' database: claims received from 20 February to 14 March 2024 (Hong Kong)."""
    return build(tmp_path_factory.mktemp("export"))


def export(built: Built, start: date, end: date) -> tuple[int, str]:
    out = io.StringIO(newline="")
    with database.session_scope(built.engine) as session:
        count = export_complaints(session, start, end, out, BROKER, tz=HK, as_of=date(2024, 3, 15))
    return count, out.getvalue()


def test_one_row_per_claim_received_in_the_period_with_exactly_these_values(built: Built) -> None:
    count, text = export(built, date(2024, 2, 25), date(2024, 3, 14))
    assert text.endswith("\r\n") and text.count("\r\n") == 7
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header == list(COLUMNS) and count == len(rows) == 6
    fixed = {"channel": "email", "incident": INCIDENT, "product": PRODUCT, "issue": ISSUE}
    records = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    assert all(record.items() >= fixed.items() for record in records)
    e, a, w, c, r, k = (built.references[label] for label in "EAWCRK")
    won, lost = "Resolved in favour of complainant", "Not resolved in complainant's favour"
    # B, received on 20 February, is before the period.
    timing = ("received_date", "status", "closed_date", "days_taken", "days_taken_to", "response_due")
    assert [(row["complaint_id"], *(row[col] for col in timing), row["within_time"]) for row in records] == [
        (e, "2024-02-28", "Open", "", "16", "2024-03-15", "2024-03-13", "no"),
        (a, "2024-03-02", "Closed", "2024-03-12", "10", "2024-03-12", "2024-03-16", "yes"),
        (w, "2024-03-02", "Open", "", "13", "2024-03-15", "2024-03-16", ""),
        (c, "2024-03-06", "Open", "", "9", "2024-03-15", "2024-03-20", ""),
        (r, "2024-03-14", "Closed", "2024-03-14", "0", "2024-03-14", "2024-03-28", "yes"),
        (k, "2024-03-14", "Open", "", "1", "2024-03-15", "2024-03-28", ""),
    ]
    result = ("outcome", "orders", "eligible_orders", "compensation_amount", "compensation_currency")
    assert [(row["complaint_id"], *(row[col] for col in result)) for row in records] == [
        (e, "Open", "2", "0", "", ""),
        (a, won, "2", "2", "3234.61", "USD"),
        (w, "Open: offer accepted", "2", "2", "15400.40", "HKD"),
        (c, "Open: offer declined", "1", "1", "", ""),
        (r, lost, "2", "0", "", ""),
        (k, "Open", "1", "1", "", ""),
    ]
    assert set(COLUMNS) == {"complaint_id", *fixed, *timing, "within_time", *result}


def test_the_period_is_read_in_local_dates_and_includes_both_ends(built: Built) -> None:
    # R arrived at 08:30 on 14 March in Hong Kong, 00:30 UTC: the first moment of the period.
    count, text = export(built, date(2024, 3, 14), date(2024, 3, 14))
    assert count == 2
    assert [row[0] for row in list(csv.reader(io.StringIO(text)))[1:]] == [
        built.references["R"],
        built.references["K"],
    ]
    assert export(built, date(2024, 3, 15), date(2024, 3, 31)) == (0, ",".join(COLUMNS) + "\r\n")
    with pytest.raises(ValueError, match="before it starts"):
        export(built, date(2024, 3, 14), date(2024, 3, 1))


def test_no_name_email_address_account_or_order_number_is_exported(built: Built) -> None:
    _, text = export(built, date(2024, 1, 1), date(2024, 12, 31))
    with database.session_scope(built.engine) as session:
        claims = session.exec(select(Claim)).all()
        personal = {c.sender for c in claims} | {c.claimant_name for c in claims if c.claimant_name}
        personal |= {c.account_login for c in claims if c.account_login}
    personal |= {a.login for a in ACCOUNTS} | {a.name for a in ACCOUNTS} | {a.email for a in ACCOUNTS}
    personal |= {o.ticket for o in ORDERS}
    assert len(personal) > 15
    for value in personal:
        assert value not in text, value
    assert "@" not in text
    # References aside (CLM-2026-000001), no run of digits as long as an account or order number.
    assert not re.search(r"\d{7,}", text)


def test_the_file_is_utf8_csv_with_a_header(built: Built, tmp_path: Path) -> None:
    path = tmp_path / "idr.csv"
    with path.open("w", encoding="utf-8", newline="") as out, database.session_scope(built.engine) as session:
        export_complaints(
            session, date(2024, 2, 1), date(2024, 3, 31), out, BROKER, tz=HK, as_of=date(2024, 3, 15)
        )
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 7 and set(rows[0]) == set(COLUMNS)
    assert {row["outcome"] for row in rows} >= {"Open", "Resolved in favour of complainant"}
    for row in rows:
        date.fromisoformat(row["received_date"])
