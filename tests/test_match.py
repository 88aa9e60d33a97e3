from __future__ import annotations

from sqlalchemy import Engine

from bot import store
from bot.config import Settings
from bot.extract import Candidate, Extraction
from bot.match import Outcome, Problem, match

INCIDENT = Settings().incidents[0]


def claimed(accounts: list[str], orders: list[str]) -> Extraction:
    return Extraction(
        language="en",
        name=None,
        name_evidence="",
        accounts=tuple(Candidate(a, 0.9, a) for a in accounts),
        orders=tuple(Candidate(o, 0.9, o) for o in orders),
        request="unspecified",
        request_evidence="",
    )


def run(engine: Engine, extraction: Extraction, sender: str):  # type: ignore[no-untyped-def]
    with store.session_scope(engine) as session:
        return match(extraction, sender=sender, records=store.TradeBook(session), incidents=[INCIDENT])


def test_registered_sender_gets_each_order_settled(book_engine: Engine) -> None:
    result = run(
        book_engine,
        claimed(["81234567"], ["55667788", "55660001", "66778899", "12345678"]),
        "Alice.Chen@Example.com",
    )
    assert result.verified and result.problem is None
    assert [(m.ticket, m.outcome, m.category) for m in result.orders] == [
        ("55667788", Outcome.ELIGIBLE, 1),
        ("55660001", Outcome.OUTSIDE_WINDOW, None),
        ("66778899", Outcome.NOT_YOUR_ORDER, None),
        ("12345678", Outcome.UNKNOWN_ORDER, None),
    ]


def test_stopped_out_order_open_during_the_outage_is_category_2(book_engine: Engine) -> None:
    result = run(book_engine, claimed(["81234568"], ["66778899"]), "wangzhe@example.cn")
    assert [(m.outcome, m.category) for m in result.orders] == [(Outcome.ELIGIBLE, 2)]


def test_other_sender_learns_nothing_whether_or_not_the_account_exists(book_engine: Engine) -> None:
    existing = run(book_engine, claimed(["81234567"], ["55667788"]), "someone@example.net")
    missing = run(book_engine, claimed(["99999999"], ["55667788"]), "someone@example.net")
    assert existing == missing
    assert existing.problem is Problem.UNVERIFIED_SENDER and existing.orders == ()


def test_no_account_number_asks_for_it(book_engine: Engine) -> None:
    assert run(book_engine, claimed([], ["55667788"]), "alice.chen@example.com").problem is Problem.NO_ACCOUNT


def test_without_order_numbers_the_accounts_affected_orders_are_listed(book_engine: Engine) -> None:
    result = run(book_engine, claimed(["81234567"], []), "alice.chen@example.com")
    assert result.listed_by_bot
    assert [m.ticket for m in result.orders] == ["55667788", "55667789"]
