"""The trade book's lookups read ahead for a batch, against the same lookups one by one; and
its window extremes, read from the ticks as stored, against the pure stage's ``window_prices``
over the same ticks read as Decimal and UTC datetimes: equal on SQLite and on PostgreSQL, ties
included (the earliest tick of an extreme price is the one cited)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.config import IncidentSettings
from bot.demo.book import load_sample_book
from bot.stages.assess import window_prices
from bot.storage import database, schema, trade_book
from bot.storage.tables import Account, Claim, ClaimOrder, State, Tick, TicketAlias, TradeOrder, utcnow
from tests.conftest import make_settings

START = datetime(2019, 6, 26, 10, 58, tzinfo=UTC)
END = datetime(2019, 6, 26, 21, 30, tzinfo=UTC)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_window_extremes_from_stored_ticks_equal_the_stages_own(tmp_path: Path, database_url: str) -> None:
    engine = schema.open_engine(make_settings(tmp_path / "d", database_url=database_url))
    rng = random.Random(5)
    ticks = []
    for n in range(3000):
        moment = START - timedelta(hours=1) + timedelta(seconds=17 * n, microseconds=rng.randrange(1000))
        # Few distinct prices, so that every extreme is reached by several ticks.
        bid = Decimal("1.13") + Decimal(rng.randrange(-9, 10)) / 1000
        ticks.append(Tick(symbol="EURUSD", time=moment, bid=bid, ask=bid + Decimal("0.00012")))
    rng.shuffle(ticks)
    with database.session_scope(engine) as session:
        session.add_all(ticks)
    incident = IncidentSettings(name="i", start=START, end=END)
    expected = window_prices((t.time, t.bid, t.ask) for t in ticks if START <= t.time <= END)
    with database.session_scope(engine) as session:
        book = trade_book.TradeBook(session)
        found = trade_book.window_from_quote(book.window(incident, "EURUSD"))
        # As the assessment takes them, once: the same prices, whatever window the incident has.
        assert book.prices(incident, "EURUSD") == found and book.prices(incident, "EURUSD") is not None
        assert book.prices(incident, "EURUSD") is book.prices(incident, "EURUSD")
        shorter = IncidentSettings(name="i", start=START, end=START + (END - START) / 2)
        assert book.prices(shorter, "EURUSD") == trade_book.window_from_quote(book.window(shorter, "EURUSD"))
    assert expected is not None and found == expected
    assert found.low_bid.time.tzinfo is not None


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_what_a_batch_reads_ahead_answers_as_the_records_would_one_by_one(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path / "d", database_url=database_url)
    engine = schema.open_engine(settings)
    load_sample_book(engine, settings.data_dir / "book", settings.trade_server.tz)
    with database.session_scope(engine) as session:
        accounts = session.exec(select(Account)).all()
        orders = session.exec(select(TradeOrder)).all()
        aliases = session.exec(select(TicketAlias)).all()
        claimed = orders[0]
        claim = Claim(incident="i", status=State.ASSESSED, sender="a@example.com", created_at=utcnow())
        session.add(claim)
        session.flush()
        assert claim.id is not None
        session.add(ClaimOrder(claim_id=claim.id, ticket=claimed.ticket, outcome="eligible"))
    numbers = [a.login for a in accounts] + [o.ticket for o in orders] + [a.alias for a in aliases]
    numbers += ["99999999", "12"]
    emails = [*sorted({a.email.upper() for a in accounts}), "nobody@example.com"]
    with database.session_scope(engine) as session:
        live = trade_book.TradeBook(session)
        ahead = trade_book.TradeBook(session)
        ahead.prefetch(numbers, emails)
        for number in numbers:
            assert ahead.account(number) == live.account(number), number
            assert ahead.order(number) == live.order(number), number
            for account in accounts:
                assert ahead.resolve(number, login=account.login) == live.resolve(number, login=account.login)
        for email in emails:
            assert [a.login for a in ahead.accounts_of([email])] == [
                a.login for a in live.accounts_of([email])
            ]
        for order in orders:
            assert (
                ahead.already_claimed(order.ticket)
                == live.already_claimed(order.ticket)
                == (order is claimed)
            )
        ahead.note_claimed(orders[1].ticket)
        assert ahead.already_claimed(orders[1].ticket)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_what_a_cycle_keeps_is_read_once_and_outlives_each_batchs_session(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path / "d", database_url=database_url)
    engine = schema.open_engine(settings)
    load_sample_book(engine, settings.data_dir / "book", settings.trade_server.tz)
    incident = settings.incidents[0]
    with database.session_scope(engine) as session:
        alone = trade_book.TradeBook(session)
        expected = (alone.symbol("EURUSD"), trade_book.window_from_quote(alone.window(incident, "EURUSD")))
    cycle_records = trade_book.CycleRecords()
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for _ in range(3):
        # One session a batch, as the cycle stores them; its commit expires what it loaded.
        with database.session_scope(engine) as session:
            book = trade_book.TradeBook(session, cycle_records)
            found = (book.symbol("EURUSD"), trade_book.window_from_quote(book.window(incident, "EURUSD")))
        assert found == expected and found[1] is not None
    asked = [s for s in statements if "FROM symbol" in s or "FROM window_quote" in s]
    assert len(asked) == 2, asked
