from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.claims import approval
from bot.claims import staff as staff_rules
from bot.claims.lifecycle import IllegalTransition, State
from bot.config import Settings
from bot.pipeline import process_message
from bot.storage import database, store
from bot.storage.tables import Claim, Reply, ReplyStatus, StaffUser
from tests.claims.conftest import PASSWORD, open_claim
from tests.conftest import make_settings
from tests.messages import DEMO_MAIL


def drafts(engine: Engine, claim_id: int) -> dict[str, Reply]:
    with database.session_scope(engine) as session:
        found = {r.kind: r for r in store.replies(session) if r.claim_id == claim_id}
        for reply in found.values():
            session.expunge(reply)
    return found


def test_a_complete_claim_is_acknowledged_and_assessed_with_two_drafts(
    book_engine: Engine, settings: Settings
) -> None:
    claim_id = open_claim(book_engine, settings)
    replies = drafts(book_engine, claim_id)
    assert set(replies) == {"acknowledgement", "offer"}
    assert replies["acknowledgement"].amount is None
    assert replies["offer"].amount is not None and replies["offer"].amount > 0
    with database.session_scope(book_engine) as session:
        moves = [(e.from_state, e.to_state) for e in store.history(session, claim_id=claim_id) if e.to_state]
        assert moves == [("received", "acknowledged"), ("acknowledged", "assessed")]


def test_an_agent_approves_acknowledgements_but_not_money(
    book_engine: Engine, settings: Settings, staff: dict[str, StaffUser]
) -> None:
    replies = drafts(book_engine, open_claim(book_engine, settings))
    with (
        database.session_scope(book_engine) as session,
        pytest.raises(approval.NotAllowed, match=r"needs a supervisor or manager; ann is agent"),
    ):
        approval.approve(session, settings, staff["ann"], replies["offer"].id or 0)
    with database.session_scope(book_engine) as session:
        assert session.get(Reply, replies["offer"].id).status == ReplyStatus.DRAFT  # type: ignore[union-attr]
        ack, offer = replies["acknowledgement"].id or 0, replies["offer"].id or 0
        done, refused = approval.bulk_approve(session, settings, staff["ann"], [offer, ack, ack])
        assert [(r.id, r.status) for r in done] == [(ack, ReplyStatus.APPROVED)]
        assert [(i, "acknowledgement" in why or "no longer waiting" in why) for i, why in refused] == [
            (offer, True),
            (ack, True),
        ]
        assert session.get(Reply, offer).status == ReplyStatus.DRAFT  # type: ignore[union-attr]


def test_a_large_offer_needs_a_second_approval_by_another_manager(
    book_engine: Engine, tmp_path: Path, staff: dict[str, StaffUser]
) -> None:
    strict = make_settings(tmp_path / "strict", approval={"four_eyes_amount": "1"})
    offer = drafts(book_engine, open_claim(book_engine, strict))["offer"]
    with database.session_scope(book_engine) as session:
        first = approval.approve(session, strict, staff["meg"], offer.id or 0)
        assert first.status == ReplyStatus.SECOND_APPROVAL
    with database.session_scope(book_engine) as session:
        with pytest.raises(approval.NotAllowed, match="another person"):
            approval.approve(session, strict, staff["meg"], offer.id or 0)
        with pytest.raises(approval.NotAllowed, match="needs a manager"):
            approval.approve(session, strict, staff["sam"], offer.id or 0)
    with database.session_scope(book_engine) as session:
        second = approval.approve(session, strict, staff["max"], offer.id or 0)
        assert (second.status, second.first_approved_by, second.decided_by) == (
            ReplyStatus.APPROVED,
            "meg",
            "max",
        )


def test_an_edit_replaces_both_parts_and_is_audited(
    book_engine: Engine, settings: Settings, staff: dict[str, StaffUser]
) -> None:
    claim_id = open_claim(book_engine, settings)
    offer = drafts(book_engine, claim_id)["offer"]
    edited = offer.body_text.replace("Dear", "Dear Ms", 1) + "\n<b>P.S.</b> call us"
    with database.session_scope(book_engine) as session:
        reply = approval.approve(session, settings, staff["sam"], offer.id or 0, text=edited)
        assert reply.body_text.startswith("Dear Ms") and reply.edited_by == "sam"
        assert "&lt;b&gt;P.S.&lt;/b&gt;" in reply.body_html and "<b>" not in reply.body_html
        events = [(e.actor, e.event) for e in store.history(session, claim_id=claim_id)]
        assert ("sam", "reply_edited") in events and ("sam", "reply_approved") in events


def test_two_people_cannot_both_decide_one_draft(
    book_engine: Engine, settings: Settings, staff: dict[str, StaffUser]
) -> None:
    ack = drafts(book_engine, open_claim(book_engine, settings))["acknowledgement"]
    with database.session_scope(book_engine) as session:
        approval.reject(session, staff["ann"], ack.id or 0, reason="wrong name")
    with database.session_scope(book_engine) as session, pytest.raises(approval.NotAllowed, match="rejected"):
        approval.approve(session, settings, staff["sam"], ack.id or 0)


def test_settling_needs_consent_and_a_manager(
    book_engine: Engine, settings: Settings, staff: dict[str, StaffUser]
) -> None:
    claim_id = open_claim(book_engine, settings)
    with database.session_scope(book_engine) as session:
        with pytest.raises(approval.NotAllowed, match="only a manager"):
            approval.settle(session, settings, staff["sam"], claim_id)
        with pytest.raises(IllegalTransition, match="from assessed to settled"):
            approval.settle(session, settings, staff["meg"], claim_id)
        assert session.get(Claim, claim_id).status == State.ASSESSED  # type: ignore[union-attr]


def test_rejecting_a_claim_tells_the_client_why(
    book_engine: Engine, settings: Settings, staff: dict[str, StaffUser]
) -> None:
    claim_id = open_claim(book_engine, settings)
    with database.session_scope(book_engine) as session:
        with pytest.raises(approval.NotAllowed, match="say why"):
            approval.reject_claim(session, settings, staff["sam"], claim_id, reason=" ")
        letter = approval.reject_claim(
            session, settings, staff["sam"], claim_id, reason="Opened after the outage."
        )
        assert letter is not None and "Opened after the outage." in letter.body_text
        assert session.get(Claim, claim_id).status == State.REJECTED  # type: ignore[union-attr]


def test_passwords_are_hashed_and_checked(book_engine: Engine, staff: dict[str, StaffUser]) -> None:
    with database.session_scope(book_engine) as session:
        user = store.staff_user(session, name="sam")
        assert (
            user is not None
            and PASSWORD not in user.password_hash
            and user.password_hash.startswith("$argon2")
        )
        assert approval.authenticate(session, name="sam", password=PASSWORD) is not None
        assert approval.authenticate(session, name="sam", password=PASSWORD + "x") is None
        assert approval.authenticate(session, name="nobody", password=PASSWORD) is None
        with pytest.raises(ValueError, match="12 characters"):
            staff_rules.add_user(session, name="tim", role="agent", password="short")
        with pytest.raises(ValueError, match="unknown role"):
            staff_rules.add_user(session, name="tim", role="boss", password=PASSWORD)


def test_the_queue_filters_by_kind_language_and_amount(book_engine: Engine, settings: Settings) -> None:
    open_claim(book_engine, settings)
    with database.session_scope(book_engine) as session:
        assert [r.kind for r in approval.queue(session)] == ["acknowledgement", "offer"]
        assert [r.kind for r in approval.queue(session, kind="offer")] == ["offer"]
        assert approval.queue(session, language="zh-Hant") == []
        assert [r.kind for r in approval.queue(session, min_amount=Decimal("0.01"))] == ["offer"]
        offered = approval.queue(session, kind="offer")[0].amount
        assert offered is not None and offered < Decimal("1000")
        # Compared as numbers: as text, "760.50" would pass a minimum of "1000".
        assert approval.queue(session, min_amount=Decimal("1000")) == []


def test_an_edited_reply_needs_a_supervisor_and_a_waiting_second_approval_cannot_be_edited(
    book_engine: Engine, tmp_path: Path, staff: dict[str, StaffUser]
) -> None:
    strict = make_settings(tmp_path / "strict", approval={"four_eyes_amount": "1"})
    replies = drafts(book_engine, open_claim(book_engine, strict))
    ack, offer = replies["acknowledgement"], replies["offer"]
    promise = ack.body_text + "\nWe will credit you 50,000 USD."
    with (
        database.session_scope(book_engine) as session,
        pytest.raises(approval.NotAllowed, match="edited reply"),
    ):
        approval.approve(session, strict, staff["ann"], ack.id or 0, text=promise)
    with database.session_scope(book_engine) as session:
        approval.approve(session, strict, staff["meg"], offer.id or 0)
    with (
        database.session_scope(book_engine) as session,
        pytest.raises(approval.NotAllowed, match="cannot be edited"),
    ):
        approval.approve(session, strict, staff["max"], offer.id or 0, text=offer.body_text + "\n90,000 USD")


def test_a_letter_a_person_wrote_is_approved_by_someone_else(
    book_engine: Engine, settings: Settings, staff: dict[str, StaffUser]
) -> None:
    claim_id = open_claim(book_engine, settings)
    with database.session_scope(book_engine) as session:
        letter = approval.reject_claim(
            session, settings, staff["sam"], claim_id, reason="Opened after the outage."
        )
        assert letter is not None and letter.drafted_by == "sam"
        letter_id = letter.id or 0
    with (
        database.session_scope(book_engine) as session,
        pytest.raises(approval.NotAllowed, match="someone other"),
    ):
        approval.approve(session, settings, staff["sam"], letter_id)
    with database.session_scope(book_engine) as session:
        with pytest.raises(approval.NotAllowed, match="needs a supervisor"):
            approval.approve(session, settings, staff["ann"], letter_id)
        assert approval.approve(session, settings, staff["meg"], letter_id).status == ReplyStatus.APPROVED


def test_closing_a_claim_withdraws_the_drafts_written_for_it(
    book_engine: Engine, settings: Settings, staff: dict[str, StaffUser]
) -> None:
    claim_id = open_claim(book_engine, settings)
    offer = drafts(book_engine, claim_id)["offer"]
    with database.session_scope(book_engine) as session:
        approval.reject_claim(session, settings, staff["sam"], claim_id, reason="Not eligible.")
    with database.session_scope(book_engine) as session:
        withdrawn = session.get(Reply, offer.id)
        assert withdrawn is not None and withdrawn.status == ReplyStatus.WITHDRAWN
        assert "claim rejected" in withdrawn.note
        with pytest.raises(approval.NotAllowed, match="no longer waiting"):
            approval.approve(session, settings, staff["meg"], offer.id or 0)


def test_nothing_but_the_unverified_sender_letter_goes_to_an_unverified_sender(
    book_engine: Engine, settings: Settings, staff: dict[str, StaffUser]
) -> None:
    raw = (DEMO_MAIL / "en-unverified-sender.eml").read_bytes()
    with database.session_scope(book_engine) as session:
        inbound = process_message(
            raw, session=session, settings=settings, folder="INBOX", uidvalidity=1, uid=9
        )
        assert inbound is not None and inbound.claim_id is not None
        claim_id = inbound.claim_id
    with database.session_scope(book_engine) as session:
        approval.escalate(session, staff["ann"], claim_id, reason="asks about someone's account")
        assert (
            approval.reject_claim(session, settings, staff["sam"], claim_id, reason="Order 88990011 ...")
            is None
        )
        events = [e.event for e in store.history(session, claim_id=claim_id)]
        assert "reply_withheld" in events
        assert [r.kind for r in store.replies(session) if r.claim_id == claim_id] == ["unverified_sender"]


def test_an_edited_acknowledgement_that_adds_an_amount_above_four_eyes_needs_a_second_manager(
    book_engine: Engine, tmp_path: Path, staff: dict[str, StaffUser]
) -> None:
    limit = make_settings(tmp_path / "limit", approval={"four_eyes_amount": "10000"})
    ack = drafts(book_engine, open_claim(book_engine, limit))["acknowledgement"]
    promise = ack.body_text + "\nAs agreed, we will credit you 50,000 US dollars."
    with database.session_scope(book_engine) as session:
        first = approval.approve(session, limit, staff["sam"], ack.id or 0, text=promise)
        assert (first.status, first.amount, first.currency) == (ReplyStatus.SECOND_APPROVAL, 50000, "USD")
        edited = [
            e.detail for e in store.history(session, claim_id=ack.claim_id) if e.event == "reply_edited"
        ]
        assert edited == [f"reply {ack.id}; states 50000 USD"]
    with database.session_scope(book_engine) as session:
        with pytest.raises(approval.NotAllowed, match="another person"):
            approval.approve(session, limit, staff["sam"], ack.id or 0)
        with pytest.raises(approval.NotAllowed, match="needs a manager; ann is agent"):
            approval.approve(session, limit, staff["ann"], ack.id or 0)
    with database.session_scope(book_engine) as session:
        second = approval.approve(session, limit, staff["meg"], ack.id or 0)
        assert (second.status, second.first_approved_by, second.decided_by) == (
            ReplyStatus.APPROVED,
            "sam",
            "meg",
        )


def test_a_manager_who_adds_an_amount_cannot_give_its_second_approval_and_a_small_one_needs_none(
    book_engine: Engine, tmp_path: Path, staff: dict[str, StaffUser]
) -> None:
    limit = make_settings(tmp_path / "limit", approval={"four_eyes_amount": "10000"})
    claim_id = open_claim(book_engine, limit)
    ack, offer = drafts(book_engine, claim_id)["acknowledgement"], drafts(book_engine, claim_id)["offer"]
    with database.session_scope(book_engine) as session:
        big = approval.approve(
            session, limit, staff["meg"], offer.id or 0, text=offer.body_text + "\n五万美元"
        )
        assert big.status == ReplyStatus.SECOND_APPROVAL
        with pytest.raises(approval.NotAllowed, match="another person"):
            approval.approve(session, limit, staff["meg"], offer.id or 0)
        assert approval.approve(session, limit, staff["max"], offer.id or 0).status == ReplyStatus.APPROVED
        small = approval.approve(session, limit, staff["sam"], ack.id or 0, text=ack.body_text + "\nUSD 500")
        assert (small.status, small.amount) == (ReplyStatus.APPROVED, 500)


def test_rejecting_an_offer_waiting_for_its_second_approval_needs_who_could_approve_it(
    book_engine: Engine, tmp_path: Path, staff: dict[str, StaffUser]
) -> None:
    strict = make_settings(tmp_path / "strict", approval={"four_eyes_amount": "1"})
    offer = drafts(book_engine, open_claim(book_engine, strict))["offer"]
    with database.session_scope(book_engine) as session:
        approval.approve(session, strict, staff["meg"], offer.id or 0)
    for name in ("ann", "sam", "meg"):
        with (
            database.session_scope(book_engine) as session,
            pytest.raises(approval.NotAllowed, match="needs a manager who neither approved nor edited it"),
        ):
            approval.reject(session, staff[name], offer.id or 0, reason="not sure")
    with database.session_scope(book_engine) as session:
        rejected = approval.reject(session, staff["max"], offer.id or 0, reason="wrong remedy")
        assert (rejected.status, rejected.decided_by) == (ReplyStatus.REJECTED, "max")
