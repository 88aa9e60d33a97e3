"""Ids taken ahead: a batch's new rows of a table go in one statement, with ids that no other
writer gets (PostgreSQL's own sequence; on SQLite, the write lock the batch holds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.storage import database, ids, schema
from bot.storage.tables import Claim, ClaimAccount, ClaimEvent, ClaimOrder, State, utcnow
from tests.conftest import make_settings


def _claim(**extra: object) -> Claim:
    return Claim(incident="i", status=State.RECEIVED, sender="a@example.com", created_at=utcnow(), **extra)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_batch_writes_each_table_in_one_statement_with_ids_no_one_else_gets(
    tmp_path: Path, database_url: str
) -> None:
    engine = schema.open_engine(make_settings(tmp_path / "d", database_url=database_url))
    with database.session_scope(engine) as session:
        session.add(_claim())
    inserts: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *rest: inserts.append(statement) if "INSERT" in statement else None,
    )
    with database.session_scope(engine) as session:
        taken = ids.Ids(session, messages=2)
        assert ids.of(session) is taken
        claim = _claim()
        claim.id = taken.next(Claim)
        session.add(claim)
        session.add_all(
            ClaimEvent(claim_id=claim.id, at=utcnow(), actor="bot", event=f"e{n}") for n in range(25)
        )
        session.flush()
        if database_url:
            # Another writer meanwhile gets its ids from the same sequence.
            with database.session_scope(engine) as other:
                elsewhere = _claim()
                other.add(elsewhere)
        taken.close()
        assert ids.of(session) is None
    assert len([s for s in inserts if "INTO claimevent" in s]) == 1
    with database.session_scope(engine) as session:
        stored = session.exec(select(Claim.id)).all()
        events = session.exec(select(ClaimEvent.id).order_by(ClaimEvent.id)).all()
    assert len(stored) == len(set(stored)) == (3 if database_url else 2)
    assert database_url or claim.id == max(stored)
    assert len(events) == len(set(events)) == 25


def test_rows_kept_out_of_the_session_are_written_after_their_claim_and_seen_by_the_next_query(
    tmp_path: Path,
) -> None:
    engine = schema.open_engine(make_settings(tmp_path / "d"))
    with database.session_scope(engine) as session:
        taken = ids.Ids(session)
        claim = _claim(id=taken.next(Claim), reference="CB-1")
        session.add(claim)
        order = ClaimOrder(claim_id=claim.id, ticket="55667788", outcome="eligible", category=1)
        taken.add_row(order)
        taken.add_row(ClaimAccount(claim_id=claim.id, login="1001"))
        assert order.id is not None and order not in session
        # The query flushes the claim first, then the rows that name it.
        found = session.exec(select(ClaimOrder).where(ClaimOrder.claim_id == claim.id)).one()
        assert (found.id, found.ticket, found.chosen_at, found.restore_amount) == (
            order.id,
            "55667788",
            None,
            None,
        )
        taken.finish()
        taken.close()
    with database.session_scope(engine) as session:
        assert session.exec(select(ClaimAccount.login)).all() == ["1001"]


def test_a_row_kept_out_of_the_session_names_the_column_it_lacks(tmp_path: Path) -> None:
    engine = schema.open_engine(make_settings(tmp_path / "d"))
    with database.session_scope(engine) as session:
        taken = ids.Ids(session)
        with pytest.raises(ValueError, match=r"claimorder\.outcome needs a value"):
            taken.add_row(ClaimOrder(claim_id=1, ticket="1"))
        taken.close()
