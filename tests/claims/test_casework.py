"""Who works a claim and what staff note on it: taking and letting go, a supervisor's handing
over, notes kept from the client; all of it in the history and in ``claims --json``."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bot.claims import approval, casework
from bot.claims import staff as staff_rules
from bot.config import Settings
from bot.reports.report import claim_summaries
from bot.storage import casework as notes_table
from bot.storage import database, store
from bot.storage.tables import Claim, Reply, StaffUser
from tests.claims.conftest import open_claim


def owner_in_json(engine: Engine, claim_id: int) -> object:
    with database.session_scope(engine) as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None
        return next(s for s in claim_summaries(session) if s["reference"] == claim.reference)["owner"]


def test_anyone_takes_a_claim_nobody_owns_and_only_a_supervisor_hands_it_over(
    book_engine: Engine,
    settings: Settings,
    staff: dict[str, StaffUser],
) -> None:
    claim_id = open_claim(book_engine, settings)
    assert owner_in_json(book_engine, claim_id) is None
    with database.session_scope(book_engine) as session:
        assert casework.assign(session, staff["ann"], claim_id, to="ann").owner == "ann"
    assert owner_in_json(book_engine, claim_id) == "ann"
    with (
        database.session_scope(book_engine) as session,
        pytest.raises(approval.NotAllowed, match="supervisor"),
    ):
        casework.assign(session, staff["max"] if False else staff["ann"], claim_id, to="sam")
    with database.session_scope(book_engine) as session:
        agent_two = staff_rules.add_user(session, name="amy", role="agent", password="a long enough one")
        with pytest.raises(approval.NotAllowed, match="supervisor"):
            casework.assign(session, agent_two, claim_id, to="amy")
    with database.session_scope(book_engine) as session:
        assert casework.assign(session, staff["sam"], claim_id, to="meg").owner == "meg"
        with pytest.raises(approval.NotAllowed, match="already meg's"):
            casework.assign(session, staff["sam"], claim_id, to="meg")
        with pytest.raises(approval.NotAllowed, match="no active user"):
            casework.assign(session, staff["sam"], claim_id, to="nobody-here")
    with database.session_scope(book_engine) as session:
        staff_rules.set_active(session, name="ann", active=False, by="meg")
        with pytest.raises(approval.NotAllowed, match="no active user"):
            casework.assign(session, staff["sam"], claim_id, to="ann")
        assert casework.assign(session, staff["meg"], claim_id, to="").owner == ""
        events = [
            (e.actor, e.detail) for e in store.history(session, claim_id=claim_id) if e.event == "assigned"
        ]
    assert events == [("ann", "- -> ann"), ("sam", "ann -> meg"), ("meg", "meg -> -")]


def test_internal_notes_are_kept_in_order_and_reach_no_letter(
    book_engine: Engine,
    settings: Settings,
    staff: dict[str, StaffUser],
) -> None:
    claim_id = open_claim(book_engine, settings)
    secret = "Client is a known abuser: check the IP log before paying"
    with database.session_scope(book_engine) as session:
        casework.note(session, staff["ann"], claim_id, text=f"  {secret}  ")
        casework.note(session, staff["sam"], claim_id, text="Checked: fine.")
        for empty in ("", "   "):
            with pytest.raises(approval.NotAllowed, match="needs some text"):
                casework.note(session, staff["sam"], claim_id, text=empty)
        with pytest.raises(approval.NotAllowed, match="at most 4000"):
            casework.note(session, staff["sam"], claim_id, text="x" * 4001)
        kept = [(n.author, n.text) for n in notes_table.notes(session, claim_id=claim_id)]
        approval.reject_claim(session, settings, staff["sam"], claim_id, reason="Not eligible.")
        letters = [r for r in session.exec(Reply.__table__.select()).all()]  # type: ignore[attr-defined]
    assert kept == [("ann", secret), ("sam", "Checked: fine.")]
    assert letters and all(secret not in (row.body_text + row.body_html) for row in letters)
