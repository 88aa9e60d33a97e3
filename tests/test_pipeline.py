"""The whole path of one message, in-process, against the sample trade book."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.claims import moves, replies
from bot.claims.lifecycle import State
from bot.config import Settings
from bot.pipeline import process_message
from bot.reports.report import claim_summaries
from bot.stages import letter_context
from bot.storage import database, store
from bot.storage.tables import Claim, InboundMessage, Reply, ReplyStatus, utcnow
from tests.conftest import make_settings
from tests.messages import eml


def ingest(
    engine: Engine, tmp_path: Path, raw: bytes, uid: int = 1, settings: Settings | None = None
) -> InboundMessage:
    settings = settings or make_settings(tmp_path / "book")
    with database.session_scope(engine) as session:
        inbound = process_message(
            raw, session=session, settings=settings, folder="INBOX", uidvalidity=1, uid=uid
        )
        assert inbound is not None
        session.expunge(inbound)
    return inbound


def summary(engine: Engine, claim_id: int | None) -> dict[str, Any]:
    """The claim as ``claimsbot claims --json`` shows it."""
    with database.session_scope(engine) as session:
        claim = session.get(Claim, claim_id or 0)
        assert claim is not None
        return next(s for s in claim_summaries(session) if s["reference"] == claim.reference)


@pytest.mark.parametrize(
    ("name", "ticket"),
    [
        ("attachment-mt4-statement.eml", "55667788"),
        ("attachment-pdf-statement.eml", "55667789"),
        ("attachment-xlsx-orders.eml", "55667788"),
        ("see-the-attached-letter.eml", "55667789"),
    ],
)
def test_an_order_only_in_an_attachment_is_claimed_and_staff_see_where_it_was(
    book_engine: Engine, tmp_path: Path, name: str, ticket: str
) -> None:
    inbound = ingest(book_engine, tmp_path, eml(name))
    claim = summary(book_engine, inbound.claim_id)
    eligible = [o["ticket"] for o in claim["orders"] if o["eligible"]]
    assert eligible == [ticket] and claim["accounts"] == ["81234567"]
    marks = {e["number"]: e["evidence"] for e in json.loads(inbound.evidence)}
    assert marks[ticket].startswith("attachment ")


def _offer_sent(
    engine: Engine, tmp_path: Path, complaint: str = "en-alice-best-price.eml"
) -> tuple[int, str, str]:
    """The claim a complaint opens, its offer approved and sent: (claim id, reference, offer id)."""
    inbound = ingest(engine, tmp_path, eml(complaint))
    with database.session_scope(engine) as session:
        offer = session.exec(
            select(Reply).where(Reply.claim_id == inbound.claim_id, Reply.kind == "offer")
        ).one()
        offer.status, offer.sent_at = ReplyStatus.SENT, utcnow()
        moves.after_sent(session, offer, consent_days=30)
        claim = session.get(Claim, inbound.claim_id)
        assert claim is not None and claim.status == State.OFFER_SENT
        return claim.id or 0, claim.reference or "", offer.message_id


def test_i_agree_in_a_new_email_is_held_and_the_client_asked_to_confirm(
    book_engine: Engine, tmp_path: Path
) -> None:
    claim_id, _, _ = _offer_sent(book_engine, tmp_path)
    inbound = ingest(book_engine, tmp_path, eml("agree-in-a-new-email.eml"), uid=2)
    assert inbound.claim_id == claim_id and inbound.status == "followup"
    with database.session_scope(book_engine) as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None and claim.status == State.OFFER_SENT and claim.pending_consent == "agree"
        assert not any(r.chosen_remedy for r in store.claim_orders(session, claim_id=claim_id))
        kinds = [r.kind for r in session.exec(select(Reply).where(Reply.claim_id == claim_id)).all()]
        assert kinds.count("consent_confirmation") == 1 and len(session.exec(select(Claim)).all()) == 1


def test_i_agree_from_a_doubtful_sender_is_no_answer_and_still_gets_a_verdict(
    book_engine: Engine, tmp_path: Path
) -> None:
    claim_id, _, _ = _offer_sent(book_engine, tmp_path)
    inbound = ingest(book_engine, tmp_path, eml("agree-from-two-addresses.eml"), uid=2)
    assert inbound.status != "quarantined" and inbound.claim_id != claim_id
    with database.session_scope(book_engine) as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None and claim.status == State.OFFER_SENT and claim.pending_consent == ""


def test_i_agree_replying_to_the_offer_consents_at_once(book_engine: Engine, tmp_path: Path) -> None:
    claim_id, reference, offer_id = _offer_sent(book_engine, tmp_path)
    raw = eml("agree-replying-to-the-offer.eml").decode().format(reference=reference, offer_id=offer_id)
    ingest(book_engine, tmp_path, raw.encode(), uid=2)
    with database.session_scope(book_engine) as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None and claim.status == State.CONSENTED and claim.pending_consent == ""
        chosen = {
            r.chosen_remedy for r in store.claim_orders(session, claim_id=claim_id) if r.outcome == "eligible"
        }
        assert chosen == {"best_price"}


@pytest.mark.parametrize(
    ("complaint", "sender", "state"),
    [
        ("en-alice-best-price.eml", "alice.chen@example.com", State.REFUSED),
        ("zh-hans-gbk-under-gb2312-label.eml", "wangzhe@example.cn", State.OFFER_SENT),
    ],
)
def test_refusing_option_1_refuses_an_offer_of_option_1_only_and_asks_about_one_of_two(
    book_engine: Engine, tmp_path: Path, complaint: str, sender: str, state: State
) -> None:
    claim_id, _, offer_id = _offer_sent(book_engine, tmp_path, complaint)
    raw = eml("refuse-option-1-replying.eml").decode()
    raw = raw.replace("{sender}", sender).replace("{offer_id}", offer_id)
    ingest(book_engine, tmp_path, raw.encode(), uid=2)
    with database.session_scope(book_engine) as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None and claim.status == state
        assert not any(r.chosen_remedy for r in store.claim_orders(session, claim_id=claim_id))


def _letters(engine: Engine, claim_id: int | None) -> dict[str, str]:
    with database.session_scope(engine) as session:
        return {
            r.kind: r.body_text for r in session.exec(select(Reply).where(Reply.claim_id == claim_id)).all()
        }


@pytest.mark.parametrize("alone", [False, True])
def test_a_letter_never_tells_whether_a_number_is_another_clients_order(
    tmp_path: Path, engine_for: Any, alone: bool
) -> None:
    """Bob's order 88990011 and a number nobody has get the same letters, word for word."""
    seen = []
    for probe in ("88990011", "12345678"):
        settings = make_settings(tmp_path / probe)
        engine = engine_for(settings)
        raw = eml("probe-another-clients-order.eml").decode().replace("{probe}", probe)
        if alone:
            raw = raw.replace(
                "order 55667788 was opened at a crazy price during the outage, and so\nwas ", ""
            )
        with database.session_scope(engine) as session:
            inbound = process_message(
                raw.encode(), session=session, settings=settings, folder="INBOX", uidvalidity=1, uid=1
            )
            assert inbound is not None
            claim_id = inbound.claim_id
        letters = _letters(engine, claim_id)
        seen.append({kind: text.replace(probe, "N") for kind, text in letters.items()})
    assert seen[0] == seen[1] and seen[0]


@pytest.mark.parametrize(
    ("four_eyes", "kinds"),
    [("10000", ["offer"]), ("100", ["acknowledgement", "offer"])],
)
def test_an_offer_ready_at_once_is_the_claims_only_letter_unless_it_waits_for_a_second_manager(
    book_engine: Engine, tmp_path: Path, four_eyes: str, kinds: list[str]
) -> None:
    settings = make_settings(
        tmp_path / "book", letters={"fold_acknowledgement": True}, approval={"four_eyes_amount": four_eyes}
    )
    inbound = ingest(book_engine, tmp_path, eml("zh-hans-gbk-under-gb2312-label.eml"), settings=settings)
    with database.session_scope(book_engine) as session:
        drafted = session.exec(
            select(Reply).where(Reply.claim_id == inbound.claim_id).order_by(Reply.id)
        ).all()
        assert [r.kind for r in drafted] == kinds
        offer = drafted[-1].body_text.split("English version")[0]
    assert "我们已于" in offer and "收到" in offer, "the offer says when the claim was received"


@pytest.mark.parametrize(
    "name",
    [
        "en-alice-best-price.eml",
        "zh-hans-gbk-under-gb2312-label.eml",
        "zh-hant-big5.eml",
        "outlook-table-two-accounts.eml",
    ],
)
def test_the_offer_drafted_from_the_workings_at_hand_is_the_one_the_stored_rows_give(
    book_engine: Engine, tmp_path: Path, name: str
) -> None:
    settings = make_settings(tmp_path / "book")
    inbound = ingest(book_engine, tmp_path, eml(name), settings=settings)
    with database.session_scope(book_engine) as session:
        claim = session.get(Claim, inbound.claim_id or 0)
        assert claim is not None
        drafted = session.exec(select(Reply).where(Reply.claim_id == claim.id, Reply.kind == "offer")).one()
        again = replies.offer(session, claim, settings)
    assert any(r["workings"] for order in again["orders"] for r in order["remedies"])
    assert letter_context.encode(again) == drafted.context
