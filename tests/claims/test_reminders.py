"""Reminders for unanswered offers and delay letters before a deadline is missed, on claims
opened by the real pipeline; each drafted once, whatever the number of runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from bot.claims import moves
from bot.claims.deadlines import deadlines
from bot.claims.lifecycle import State
from bot.claims.reminders import draft_delay_letters, draft_owed_acknowledgements, draft_reminders
from bot.config import Settings
from bot.pipeline import process_message
from bot.storage import database, store
from bot.storage.tables import Claim, Reply, ReplyStatus, utcnow
from tests.conftest import make_settings
from tests.messages import eml


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path / "data",
        claims={"max_replies_per_sender_per_day": 50, "max_replies_per_sender": 500},
        jobs={
            "remind_after_days": 7,
            "delay_extension_days": 10,
            "delay_reason": "we are checking every order",
        },
    )


SAMPLES = ("en-alice-best-price.eml", "zh-hans-gbk-under-gb2312-label.eml", "zh-hant-big5.eml")


def open_claims(engine: Engine, settings: Settings, count: int) -> list[int]:
    """``count`` claims with offers, each from another client's sample message."""
    ids = []
    for uid, raw in enumerate((eml(name) for name in SAMPLES[:count]), start=1):
        with database.session_scope(engine) as session:
            inbound = process_message(
                raw, session=session, settings=settings, folder="INBOX", uidvalidity=1, uid=uid
            )
            assert inbound is not None and inbound.claim_id is not None
            ids.append(inbound.claim_id)
    return ids


def send_offer(engine: Engine, settings: Settings, claim_id: int, days_ago: int) -> None:
    """The offer approved and sent (as the outbox records it), ``days_ago`` days ago."""
    with database.session_scope(engine) as session:
        offer = next(r for r in store.replies(session) if r.claim_id == claim_id and r.kind == "offer")
        offer.status, offer.sent_at = ReplyStatus.SENT, utcnow()
        moves.after_sent(session, offer, consent_days=settings.claims.consent_days)
    offered = utcnow() - timedelta(days=days_ago)
    with database.session_scope(engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(Claim)
            .where(Claim.id == claim_id)
            .values(offered_at=offered, consent_deadline=offered + timedelta(days=30))
        )


def kinds(engine: Engine, claim_id: int) -> list[str]:
    with database.session_scope(engine) as session:
        return [r.kind for r in store.replies(session) if r.claim_id == claim_id]


def events(engine: Engine, claim_id: int) -> list[str]:
    with database.session_scope(engine) as session:
        return [e.event for e in store.history(session, claim_id=claim_id)]


def test_an_offer_unanswered_for_a_week_gets_one_reminder(book_engine: Engine, settings: Settings) -> None:
    old, recent = open_claims(book_engine, settings, 2)
    send_offer(book_engine, settings, old, days_ago=8)
    send_offer(book_engine, settings, recent, days_ago=2)
    with database.session_scope(book_engine) as session:
        drafted = draft_reminders(session, settings, now=utcnow())
    assert len(drafted) == 1 and drafted[0].event == "reminder_due" and drafted[0].reply_id
    for _ in range(2):
        with database.session_scope(book_engine) as session:
            assert draft_reminders(session, settings, now=utcnow()) == []
    assert kinds(book_engine, old).count("reminder") == 1
    assert "reminder" not in kinds(book_engine, recent)
    assert events(book_engine, old).count("reminder_due") == 1
    with database.session_scope(book_engine) as session:
        reply = session.get(Reply, drafted[0].reply_id)
        claim = session.get(Claim, old)
        assert reply is not None and claim is not None
        assert reply.status == ReplyStatus.DRAFT and claim.reference in reply.subject
        assert f"{claim.consent_deadline.astimezone(settings.deadlines.tz):%B} " in reply.body_text  # type: ignore[union-attr]


def test_no_reminder_once_the_offer_has_lapsed(book_engine: Engine, settings: Settings) -> None:
    [claim_id] = open_claims(book_engine, settings, 1)
    send_offer(book_engine, settings, claim_id, days_ago=40)
    with database.session_scope(book_engine) as session:
        assert draft_reminders(session, settings, now=utcnow()) == []


def test_a_claim_near_its_deadline_gets_one_delay_letter_then_is_flagged_overdue(
    book_engine: Engine, settings: Settings
) -> None:
    near, fresh, waiting_for_client = open_claims(book_engine, settings, 3)
    # Broker rules: answer within 14 calendar days; warned 2 days before.
    created = utcnow() - timedelta(days=13)
    with database.session_scope(book_engine) as session:
        for claim_id in (near, waiting_for_client):
            session.exec(update(Claim).where(Claim.id == claim_id).values(created_at=created))  # type: ignore[call-overload]
    send_offer(book_engine, settings, waiting_for_client, days_ago=1)

    with database.session_scope(book_engine) as session:
        drafted = draft_delay_letters(session, settings, now=utcnow())
    with database.session_scope(book_engine) as session:
        assert draft_delay_letters(session, settings, now=utcnow()) == []
    assert [(d.event, bool(d.reply_id)) for d in drafted] == [("overdue_warning", True)]
    assert kinds(book_engine, near).count("delay") == 1
    assert "delay" not in kinds(book_engine, fresh) + kinds(book_engine, waiting_for_client)

    with database.session_scope(book_engine) as session:
        claim = session.get(Claim, near)
        reply = session.get(Reply, drafted[0].reply_id)
        assert claim is not None and reply is not None
        assert claim.status == State.ASSESSED
        due = deadlines(claim.created_at, settings.deadlines.rules, tz=settings.deadlines.tz).due_by
        new_date = due.astimezone(settings.deadlines.tz).date() + timedelta(days=10)
        assert f"{new_date:%B} {new_date.day}, {new_date.year}" in reply.body_text
        assert "we are checking every order" in reply.body_text

    # Three days later the deadline has passed: flagged once in the history, no second letter.
    later = utcnow() + timedelta(days=3)
    for _ in range(2):
        with database.session_scope(book_engine) as session:
            flagged = draft_delay_letters(session, settings, now=later)
    assert kinds(book_engine, near).count("delay") == 1
    assert events(book_engine, near).count("overdue_warning") == 1
    assert events(book_engine, near).count("overdue") == 1
    assert flagged == [] or all(d.reply_id is None for d in flagged)


def test_a_claim_whose_only_letter_was_an_offer_staff_rejected_is_acknowledged_once(
    tmp_path: Path, engine_for: Callable[[Settings], Engine]
) -> None:
    folded = make_settings(tmp_path / "folded", letters={"fold_acknowledgement": True})
    engine = engine_for(folded)
    rejected, waiting = open_claims(engine, folded, 2)
    with database.session_scope(engine) as session:
        assert {r.kind for r in store.replies(session)} == {"offer"}, "one letter each, the offer"
        for reply in store.replies(session):
            reply.status = ReplyStatus.REJECTED if reply.claim_id == rejected else ReplyStatus.DRAFT
    for _ in range(2):
        with database.session_scope(engine) as session:
            drafted = draft_owed_acknowledgements(session, folded, now=utcnow())
    with database.session_scope(engine) as session:
        kinds = {(r.claim_id, r.kind) for r in store.replies(session)}
    assert drafted == []
    assert (rejected, "acknowledgement") in kinds and (waiting, "acknowledgement") not in kinds
