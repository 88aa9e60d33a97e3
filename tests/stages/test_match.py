from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from bot.config import Settings
from bot.stages.extract import Candidate, Extraction
from bot.stages.match import Outcome, Problem, affected_category, match, window_standing
from bot.storage import database, store, trade_book
from tests.conftest import open_second_account

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
    with database.session_scope(engine) as session:
        return match(extraction, sender=sender, records=trade_book.TradeBook(session), incidents=[INCIDENT])


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


def test_a_registered_client_who_names_no_account_is_matched_to_their_own(book_engine: Engine) -> None:
    result = run(book_engine, claimed([], ["55667788"]), "alice.chen@example.com")
    assert result.verified and result.account_by_email and result.account is not None
    assert result.account.login == "81234567" and [m.ticket for m in result.orders] == ["55667788"]


def test_no_account_number_from_an_address_no_account_has_asks_for_it(book_engine: Engine) -> None:
    assert run(book_engine, claimed([], ["55667788"]), "someone@example.org").problem is Problem.NO_ACCOUNT


def test_without_order_numbers_the_accounts_affected_orders_are_listed(book_engine: Engine) -> None:
    result = run(book_engine, claimed(["81234567"], []), "alice.chen@example.com")
    assert result.listed_by_bot
    assert [m.ticket for m in result.orders] == ["55667788", "55667789"]


def test_a_configured_alias_of_the_registered_email_may_claim(book_engine: Engine) -> None:
    with database.session_scope(book_engine) as session:
        result = match(
            claimed(["81234567"], ["55667788"]),
            sender="alice@work.example",
            records=trade_book.TradeBook(session),
            incidents=[INCIDENT],
            aliases={"alice.chen@example.com": ["Alice@Work.example"]},
        )
    assert result.verified and result.orders[0].outcome is Outcome.ELIGIBLE


def test_an_order_in_an_open_claim_is_not_claimed_twice(book_engine: Engine) -> None:
    from bot.claims.lifecycle import State
    from bot.storage.tables import Claim, ClaimOrder, utcnow

    with database.session_scope(book_engine) as session:
        earlier = Claim(
            incident=INCIDENT.name,
            status=State.OFFER_SENT,
            sender="alice.chen@example.com",
            created_at=utcnow(),
        )
        session.add(earlier)
        session.flush()
        session.add(ClaimOrder(claim_id=earlier.id, ticket="55667788", outcome="eligible", category=1))
    result = run(book_engine, claimed(["81234567"], ["55667788", "55667789"]), "alice.chen@example.com")
    assert [(m.ticket, m.outcome) for m in result.orders] == [
        ("55667788", Outcome.ALREADY_CLAIMED),
        ("55667789", Outcome.ELIGIBLE),
    ]


def test_a_claim_belongs_to_the_incident_its_orders_fall_in(book_engine: Engine) -> None:
    from bot.config import IncidentSettings

    later = IncidentSettings(name="later", start="2019-06-25T08:00:00+00:00", end="2019-06-25T16:00:00+00:00")
    with database.session_scope(book_engine) as session:
        result = match(
            claimed(["81234567"], ["55660001"]),
            sender="alice.chen@example.com",
            records=trade_book.TradeBook(session),
            incidents=[INCIDENT, later],
        )
    assert result.incident.name == "later"
    assert [(m.outcome, m.category) for m in result.orders] == [(Outcome.ELIGIBLE, 1)]


def test_a_remedy_choice_is_locked_once_made(book_engine: Engine) -> None:
    from decimal import Decimal

    import pytest

    from bot.claims.lifecycle import State
    from bot.storage.tables import Claim, ClaimOrder, utcnow

    with database.session_scope(book_engine) as session:
        claim = Claim(
            incident=INCIDENT.name,
            status=State.OFFER_SENT,
            sender="wangzhe@example.cn",
            created_at=utcnow(),
        )
        session.add(claim)
        session.flush()
        row = ClaimOrder(
            claim_id=claim.id,
            ticket="66778899",
            outcome="eligible",
            category=2,
            best_price_amount=Decimal("1179.00"),
            restore_amount=Decimal("980.00"),
            currency="USD",
        )
        session.add(row)
        session.flush()
        chosen = store.choose_remedy(session, claim_order_id=row.id, remedy="restore", by="client")
        assert chosen.chosen_remedy == "restore"
        with pytest.raises(ValueError, match="locked"):
            store.choose_remedy(session, claim_order_id=row.id, remedy="best_price", by="client")


def test_a_bare_number_does_not_reveal_whether_it_is_an_account(book_engine: Engine) -> None:
    loose = Extraction(
        language="en",
        name=None,
        name_evidence="",
        accounts=(Candidate("81234567", 0.3, "81234567"),),
        orders=(),
        request="unspecified",
        request_evidence="",
    )
    missing = Extraction(
        language="en",
        name=None,
        name_evidence="",
        accounts=(Candidate("99999999", 0.3, "99999999"),),
        orders=(),
        request="unspecified",
        request_evidence="",
    )
    assert run(book_engine, loose, "someone@example.net") == run(book_engine, missing, "someone@example.net")
    assert run(book_engine, loose, "someone@example.net").problem is Problem.NO_ACCOUNT


def test_the_account_the_sender_owns_is_chosen_among_several_numbers(book_engine: Engine) -> None:
    result = run(book_engine, claimed(["81234570", "81234567"], ["55667788"]), "alice.chen@example.com")
    assert result.account is not None and result.account.login == "81234567"


def test_one_claim_covers_each_account_the_sender_speaks_for(book_engine: Engine) -> None:
    open_second_account(book_engine)
    result = run(
        book_engine,
        claimed(["81234567", "81234599", "81234568"], ["55667788", "55669901", "66778899"]),
        "alice.chen@example.com",
    )
    assert [a.login for a in result.accounts] == ["81234567", "81234599"]
    assert [(m.ticket, m.login, m.outcome) for m in result.orders] == [
        ("55667788", "81234567", Outcome.ELIGIBLE),
        ("55669901", "81234599", Outcome.ELIGIBLE),
        ("66778899", "", Outcome.NOT_YOUR_ORDER),
    ]


def test_an_own_account_holding_the_named_orders_joins_the_claim(book_engine: Engine) -> None:
    open_second_account(book_engine)
    result = run(book_engine, claimed(["81234567"], ["55667788", "55669901"]), "alice.chen@example.com")
    assert [a.login for a in result.accounts] == ["81234567", "81234599"]
    assert result.by_email == ("81234599",)
    assert all(m.outcome is Outcome.ELIGIBLE for m in result.orders)


def test_a_registered_client_naming_nothing_gets_all_their_accounts_checked(book_engine: Engine) -> None:
    open_second_account(book_engine)
    result = run(book_engine, claimed([], []), "alice.chen@example.com")
    assert result.listed_by_bot and set(result.by_email) == {"81234567", "81234599"}
    assert {m.ticket for m in result.orders} >= {"55669901"}
    assert all(m.outcome is Outcome.ELIGIBLE for m in result.orders)


def test_someone_elses_order_is_settled_as_an_unknown_one_would_be(book_engine: Engine) -> None:
    """A wife writes from her registered address about her husband's order: her own account is
    the claim, and his order is "not found" there, exactly as a number nobody has would be."""
    foreign = run(book_engine, claimed(["81234568", "81234567"], ["55667788"]), "wangzhe@example.cn")
    unknown = run(book_engine, claimed(["81234568", "81234567"], ["12345678"]), "wangzhe@example.cn")
    assert [a.login for a in foreign.accounts] == [a.login for a in unknown.accounts] == ["81234568"]
    assert foreign.problem is unknown.problem is None
    assert [m.outcome for m in foreign.orders] == [Outcome.NOT_YOUR_ORDER]
    assert [m.outcome for m in unknown.orders] == [Outcome.UNKNOWN_ORDER]


def test_a_mistyped_account_is_settled_by_the_senders_own_orders(book_engine: Engine) -> None:
    loose_orders = Extraction(
        language="en",
        name=None,
        name_evidence="",
        accounts=(Candidate("81234568", 0.9, "account 81234568"),),
        orders=(Candidate("55667788", 0.3, "55667788"),),
        request="unspecified",
        request_evidence="",
    )
    result = run(book_engine, loose_orders, "alice.chen@example.com")
    assert [a.login for a in result.accounts] == ["81234567"] and result.by_email == ("81234567",)
    assert [(m.ticket, m.outcome) for m in result.orders] == [("55667788", Outcome.ELIGIBLE)]


@dataclass(frozen=True)
class _Order:
    ticket: str
    symbol: str
    side: str
    lots: Decimal
    open_time: datetime
    open_price: Decimal
    close_time: datetime | None
    close_price: Decimal | None
    close_reason: str
    login: str = "81234567"


_MINUTES = st.integers(min_value=-24 * 60, max_value=24 * 60)


@given(
    opened=_MINUTES,
    held=st.one_of(st.none(), st.integers(min_value=0, max_value=48 * 60)),
    stop=st.booleans(),
)
def test_the_claim_page_says_an_order_was_outside_the_window_exactly_when_matching_found_it_so(
    opened: int, held: int | None, stop: bool
) -> None:
    start = INCIDENT.start + timedelta(minutes=opened)
    order = _Order(
        "1", "EURUSD", "buy", Decimal(1), start, Decimal(1),
        None if held is None else start + timedelta(minutes=held), None, "stop_out" if stop else "",
    )  # fmt: skip
    standing = window_standing(order, INCIDENT)
    outside = standing in {"symbol_unaffected", "closed_before", "opened_after"}
    assert outside == (affected_category(order, INCIDENT) is None)
    assert (standing == "stopped_out") == (affected_category(order, INCIDENT) == 2)
