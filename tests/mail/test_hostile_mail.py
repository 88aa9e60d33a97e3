"""Attacks through the public mailbox, against Dovecot and the SMTP sink: forged consent, poison
messages, hostile headers (docs/security.md lists each with what defends it)."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.claims import replies
from bot.config import Settings
from bot.demo.run import deliver
from bot.demo.smtp_sink import SmtpSink
from bot.mail import shared
from bot.mail.cycle import run_cycle
from bot.mail.outbox import send_approved
from bot.storage import database, locks, store
from bot.storage.tables import Claim, ClaimEvent, InboundMessage, Reply, ReplyStatus, utcnow
from tests import ROOT
from tests.conftest import approve_all, make_settings
from tests.mail.test_worker import worker_config
from tests.messages import eml, variants

pytestmark = pytest.mark.parametrize("imap_server", ["dovecot"], indirect=True)
AUTHSERV = "mx.broker.example"
ALICE = "alice.chen@example.com"


@pytest.fixture
def guarded(tmp_path: Path, imap_server: Any, smtp_sink: SmtpSink, database_url: str) -> Settings:
    """A mailbox whose receiving server is named: consent needs its DMARC pass."""
    return make_settings(
        tmp_path / "data", imap_server, smtp_sink, database_url=database_url, intake={"authserv_id": AUTHSERV}
    )


@pytest.fixture
def offered(guarded: Settings, engine_for: Any) -> tuple[Engine, Claim, Reply]:
    """Alice's claim with its offer sent, as the notice's first client would have it."""
    engine = engine_for(guarded)
    deliver(guarded, [("alice", eml("en-alice-best-price.eml"))])
    run_cycle(guarded, engine)
    approve_all(engine)
    run_cycle(guarded, engine)
    with database.session_scope(engine) as session:
        (claim,) = session.exec(select(Claim)).all()
        offer = session.exec(select(Reply).where(Reply.kind == "offer")).one()
    assert claim.status == "offer_sent" and offer.status == "sent"
    return engine, claim, offer


def _named(raw: bytes, claim: Claim) -> bytes:
    return raw.replace(b"CLM-2026-000001", (claim.reference or "").encode())


def _state(engine: Engine, claim: Claim) -> tuple[str, str, list[tuple[str, str]]]:
    with database.session_scope(engine) as session:
        now = session.get(Claim, claim.id)
        assert now is not None
        letters = session.exec(select(Reply).where(Reply.claim_id == claim.id).order_by(Reply.id)).all()
        return now.status, now.pending_consent, [(r.kind, r.to_address) for r in letters]


def test_forged_consents_change_nothing_and_the_registered_address_is_asked(
    guarded: Settings, offered: tuple[Engine, Claim, Reply]
) -> None:
    engine, claim, _ = offered
    deliver(guarded, [("reference only", _named(eml("forged-consent-reference-only.eml"), claim))])
    run_cycle(guarded, engine)
    status, pending, letters = _state(engine, claim)
    assert (status, pending) == ("offer_sent", "restore")
    assert letters[-1] == ("consent_confirmation", ALICE)

    deliver(guarded, [("display name", _named(eml("forged-consent-encoded-display-name.eml"), claim))])
    run_cycle(guarded, engine)
    status, pending, letters = _state(engine, claim)
    assert (status, pending) == ("offer_sent", "restore")
    # One question at a time: the second forgery neither replaces the held answer nor sends
    # the client another letter (a stranger could otherwise use up the client's replies).
    assert [kind for kind, _ in letters].count("consent_confirmation") == 1
    assert all(to == ALICE for _, to in letters), "nothing about the claim goes to the forger"
    with database.session_scope(engine) as session:
        again = session.exec(select(ClaimEvent).where(ClaimEvent.event == "consent_unconfirmed_again")).all()
    assert len(again) == 1 and "display name shows" in again[0].detail
    with database.session_scope(engine) as session:
        forged = session.exec(select(InboundMessage).where(InboundMessage.sender == "eve@evil.example")).one()
        theirs = session.get(Claim, forged.claim_id)
    assert theirs is not None and theirs.id != claim.id and not theirs.sender_verified
    assert "display name shows alice.chen@example.com" in forged.reason


def test_a_reply_to_the_offer_vouched_for_by_our_server_consents_at_once(
    guarded: Settings, offered: tuple[Engine, Claim, Reply]
) -> None:
    engine, claim, offer = offered
    genuine = eml("consent-reply-to-offer.eml").replace(b"<OFFER-ID>", offer.message_id.encode())
    deliver(guarded, [("genuine", genuine)])
    run_cycle(guarded, engine)
    status, pending, letters = _state(engine, claim)
    assert (status, pending) == ("consented", "")
    assert letters[-1] == ("consent_received", ALICE)


def test_a_reply_to_the_offer_without_our_servers_pass_is_held_until_the_client_confirms(
    guarded: Settings, offered: tuple[Engine, Claim, Reply]
) -> None:
    engine, claim, offer = offered
    # The only pass is in a header another server's name: a sender can write that.
    unvouched = (
        eml("consent-reply-to-offer.eml")
        .replace(b"<OFFER-ID>", offer.message_id.encode())
        .replace(b"mx.broker.example; spf=pass", b"mx.broker.example; spf=fail")
        .replace(b"dkim=pass header.d=example.com; dmarc=pass", b"dkim=fail header.d=example.com; dmarc=fail")
    )
    deliver(guarded, [("unvouched", unvouched)])
    run_cycle(guarded, engine)
    assert _state(engine, claim)[:2] == ("offer_sent", "restore")
    approve_all(engine)
    run_cycle(guarded, engine)
    with database.session_scope(engine) as session:
        confirmation = session.exec(select(Reply).where(Reply.kind == "consent_confirmation")).one()
        events = session.exec(
            select(ClaimEvent.detail).where(ClaimEvent.event == "consent_unconfirmed")
        ).all()
    assert confirmation.status == "sent" and "dmarc" in events[0]

    answer = EmailMessage()
    answer["From"], answer["To"] = ALICE, guarded.smtp.from_address
    answer["Subject"], answer["Message-ID"] = f"Re: {confirmation.subject}", "<yes-it-was-me@example.com>"
    answer["In-Reply-To"] = answer["References"] = confirmation.message_id
    answer.set_content("Yes, I confirm.\n")
    deliver(guarded, [("confirm", bytes(answer))])
    run_cycle(guarded, engine)
    status, pending, letters = _state(engine, claim)
    assert (status, pending) == ("consented", "")
    assert letters[-1] == ("consent_received", ALICE)
    with database.session_scope(engine) as session:
        chosen = {r.chosen_remedy for r in store.claim_orders(session, claim_id=claim.id or 0)}
    assert chosen and None not in chosen, "the held answer was applied to every offered order"


def test_a_stranger_with_folded_message_ids_cannot_break_the_clients_replies(
    guarded: Settings, offered: tuple[Engine, Claim, Reply], smtp_sink: SmtpSink
) -> None:
    engine, claim, offer = offered
    deliver(guarded, [("folded", _named(eml("folded-message-id-from-stranger.eml"), claim))])
    genuine = eml("consent-reply-to-offer.eml").replace(b"<OFFER-ID>", offer.message_id.encode())
    deliver(guarded, [("genuine", genuine)])
    run_cycle(guarded, engine)
    approve_all(engine)
    report = send_approved(engine, guarded)
    assert report.failed == 0 and report.uncertain == 0
    with database.session_scope(engine) as session:
        stored = session.exec(select(InboundMessage.message_id)).all()
        sent = session.exec(
            select(Reply).where(Reply.claim_id == claim.id, Reply.kind == "consent_received")
        ).one()
    assert all(i is None or ("\r" not in i and "\n" not in i and " " not in i) for i in stored)
    assert sent.status == "sent"
    delivered = [d for d in smtp_sink.deliveries if sent.message_id.encode() in d.content]
    assert len(delivered) == 1 and b"<p@evil>" not in delivered[0].content


def test_a_reply_that_cannot_be_composed_fails_with_the_reason_and_the_batch_goes_on(
    guarded: Settings, offered: tuple[Engine, Claim, Reply], smtp_sink: SmtpSink
) -> None:
    engine, claim, _ = offered
    with database.session_scope(engine) as session:
        now = session.get(Claim, claim.id)
        assert now is not None
        context = replies.common(now, guarded)
        broken = replies.queue(session, guarded, now, "followup_received", context)
        fine = replies.queue(session, guarded, now, "followup_received", context)
        assert broken is not None and fine is not None
        broken.message_id = "<not one>"  # as if stored by an older version, before the checks
        broken_id, fine_id = broken.id, fine.id
    approve_all(engine)
    report = send_approved(engine, guarded)
    with database.session_scope(engine) as session:
        first, second = session.get(Reply, broken_id), session.get(Reply, fine_id)
    assert first is not None and second is not None
    assert first.status == ReplyStatus.FAILED and "cannot be composed" in first.failure
    assert second.status == ReplyStatus.SENT and report.failed == 1 and report.uncertain == 0


def test_a_huge_message_and_one_of_ten_thousand_parts_are_stored_and_the_next_still_read(
    guarded: Settings, engine_for: Any
) -> None:
    engine = engine_for(guarded)
    big = EmailMessage()
    big["From"], big["Subject"], big["Message-ID"] = ALICE, "claim", "<poison-384k@example.com>"
    big.set_content("account 81234570 order 55667790\n" * 12_000)
    parts = EmailMessage()
    parts["From"], parts["Subject"], parts["Message-ID"] = ALICE, "parts", "<poison-parts@example.com>"
    parts.set_content("account 81234567 order 55667788")
    for i in range(10_000):
        parts.add_related(f"part {i} order 5566{i:04d}", subtype="plain")
    deliver(guarded, [("big", bytes(big)), ("parts", bytes(parts)), ("after", eml("zh-hant-big5.eml"))])
    started = time.monotonic()
    run_cycle(guarded, engine)
    took = time.monotonic() - started
    with database.session_scope(engine) as session:
        stored = session.exec(select(InboundMessage.message_id, InboundMessage.status)).all()
    assert len(stored) == 3 and all(status in ("claim", "quarantined") for _, status in stored), stored
    assert took < 30, f"three messages took {took:.0f} s"  # quadratic extraction took over 100 s


KILLER = """
import os, signal, sys
import bot.stages.reading
real = bot.stages.reading.parse
def parse(raw):
    if b"KILL-THE-WORKER" in raw:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(raw)
bot.stages.reading.parse = parse
from bot.cli import main
sys.exit(main(["run", "--once", "--config", sys.argv[1]]))
"""


@pytest.mark.parametrize(
    ("database_url", "standing_by"),
    [("sqlite", False), ("postgres", False), ("postgres", True)],
    indirect=["database_url"],
    ids=["sqlite", "postgres", "postgres-shared"],
)
def test_a_message_that_kills_the_worker_twice_alone_is_quarantined_on_the_fourth_start(
    guarded: Settings, engine_for: Any, tmp_path: Path, standing_by: bool, request: pytest.FixtureRequest
) -> None:
    """The first death is the batch's (no one message is known to have caused it); the next run
    reads that batch one message at a time, and the poison then kills it twice more, alone. With
    another worker standing by, the batch goes through the shared intake, and a start retakes the
    rows its killed predecessor had taken at once, not after [intake] retake_after_seconds."""
    engine = engine_for(guarded)
    if standing_by:
        helper = ExitStack()
        request.addfinalizer(helper.close)
        assert helper.enter_context(locks.member(engine, shared.HELPERS, "a worker standing by"))
    messages = variants("en-alice-best-price.eml", 3)
    poison = b"X-Test: KILL-THE-WORKER\r\n" + eml("zh-hant-big5.eml")
    deliver(guarded, [messages[0], ("poison", poison), *messages[1:]])
    config = worker_config(guarded, tmp_path / "w.toml")
    env = {"CLAIMSBOT_IMAP_PASSWORD": guarded.imap.password.get_secret_value(), "PATH": ""}
    runs = [
        subprocess.run(
            [sys.executable, "-c", KILLER, str(config)], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        for _ in range(4)
    ]
    codes = [run.returncode for run in runs]
    assert codes[:3] == [-9, -9, -9] and codes[3] == 0, codes
    logs = b"".join(run.stdout + run.stderr for run in runs)
    assert (b"from the shared intake" in logs) is standing_by
    with database.session_scope(engine) as session:
        stored = session.exec(select(InboundMessage)).all()
    assert len(stored) == 4
    held = [m for m in stored if m.status == "quarantined"]
    assert len(held) == 1, [(m.status, m.reason) for m in stored]
    (held,) = held
    assert b"KILL-THE-WORKER" in (held.raw or b"") and "stopped the worker 2 times" in held.reason
    assert sum(m.status == "claim" for m in stored) == 3


def test_a_sender_who_keeps_answering_is_held_for_a_person_across_days(
    guarded: Settings, offered: tuple[Engine, Claim, Reply]
) -> None:
    engine, claim, _ = offered
    limit = guarded.claims.max_replies_per_sender
    with database.session_scope(engine) as session:
        now = session.get(Claim, claim.id)
        assert now is not None
        already = store.replies_to(session, address=ALICE)
        for day in range(limit - already):
            letter = replies.queue(session, guarded, now, "followup_received", replies.common(now, guarded))
            assert letter is not None
            letter.created_at = utcnow() - timedelta(days=2 + day)  # one a day, never many in a day
            session.flush()
        assert replies.queue(session, guarded, now, "followup_received", replies.common(now, guarded)) is None
        events = [
            e.detail for e in store.history(session, claim_id=claim.id or 0) if e.event == "reply_suppressed"
        ]
    assert events and f"{limit} replies to this sender in all" in events[-1]


@pytest.mark.parametrize(
    ("answer", "status", "pending", "event"),
    [
        ("我没有确认过任何方案。", "offer_sent", "restore", "confirmation_unclear"),
        ("That wasn't me. Please check who sent it.", "offer_sent", "", "consent_not_confirmed"),
        ("Yes, I confirm.", "consented", "", "consent_confirmed"),
    ],
)
def test_only_a_plain_yes_to_the_confirmation_letter_applies_the_held_answer(
    guarded: Settings,
    offered: tuple[Engine, Claim, Reply],
    answer: str,
    status: str,
    pending: str,
    event: str,
) -> None:
    engine, claim, _ = offered
    deliver(guarded, [("forged", _named(eml("forged-consent-reference-only.eml"), claim))])
    run_cycle(guarded, engine)
    approve_all(engine)
    run_cycle(guarded, engine)
    with database.session_scope(engine) as session:
        letter = session.exec(select(Reply).where(Reply.kind == "consent_confirmation")).one()
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = ALICE, guarded.smtp.from_address, f"Re: {letter.subject}"
    reply["Message-ID"], reply["In-Reply-To"] = "<answer@example.com>", letter.message_id
    reply.set_content(answer + "\n")
    deliver(guarded, [("answer", bytes(reply))])
    run_cycle(guarded, engine)
    assert _state(engine, claim)[:2] == (status, pending)
    with database.session_scope(engine) as session:
        events = [e.event for e in store.history(session, claim_id=claim.id or 0)]
    assert event in events


def test_a_bare_yes_to_an_offer_of_one_option_is_that_option(
    guarded: Settings, offered: tuple[Engine, Claim, Reply]
) -> None:
    engine, claim, offer = offered
    yes = (
        eml("consent-reply-to-offer.eml")
        .replace(b"<OFFER-ID>", offer.message_id.encode())
        .replace(b"I agree to option 2.", b"Yes")
    )
    deliver(guarded, [("yes", yes)])
    run_cycle(guarded, engine)
    assert _state(engine, claim)[0] == "consented"
    with database.session_scope(engine) as session:
        chosen = {r.chosen_remedy for r in store.claim_orders(session, claim_id=claim.id or 0)}
    assert chosen == {"best_price"}
