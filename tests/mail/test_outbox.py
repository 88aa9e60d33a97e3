from __future__ import annotations

import email
from email import policy
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from bot.claims import approval, moves, staff
from bot.config import Settings
from bot.demo.run import deliver
from bot.demo.smtp_sink import SmtpSink
from bot.mail.cycle import run_cycle
from bot.mail.outbox import send_approved
from bot.stages import letter_context
from bot.stages.draft import draft_html
from bot.storage import database, store
from bot.storage.tables import Claim, Reply, ReplyStatus, utcnow
from tests.conftest import approve_all, make_settings
from tests.messages import eml


def drafted_reply(settings: Settings, engine: Engine) -> int:
    deliver(settings, [("alice", eml("en-alice-best-price.eml"))])
    run_cycle(settings, engine)
    with database.session_scope(engine) as session:
        reply = session.exec(select(Reply).where(Reply.kind == "offer")).one()
        assert reply.id is not None
        return reply.id


def test_a_reply_interrupted_mid_send_is_held_for_a_person_not_sent_again(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink
) -> None:
    reply_id = drafted_reply(settings, engine)
    with database.session_scope(engine) as session:
        reply = session.get(Reply, reply_id)
        assert reply is not None
        reply.status = ReplyStatus.SENDING  # as left by a worker killed during the SMTP conversation
        session.add(reply)

    assert send_approved(engine, settings).sent == []
    with database.session_scope(engine) as session:
        assert session.get(Reply, reply_id).status == ReplyStatus.UNCERTAIN  # type: ignore[union-attr]
    assert smtp_sink.deliveries == []


def test_sent_reply_carries_loop_guards_and_its_own_message_id(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink
) -> None:
    reply_id = drafted_reply(settings, engine)
    with database.session_scope(engine) as session:
        store.decide_reply(session, reply_id=reply_id, approve=True, by="tester")
    sent = send_approved(engine, settings).sent

    assert [r.id for r in sent] == [reply_id]
    (delivery,) = smtp_sink.deliveries
    message = email.message_from_bytes(delivery.content, policy=policy.default)
    assert delivery.mail_from == settings.smtp.return_path != settings.imap.username
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["Message-ID"].endswith("@claims.broker.example>")
    kept = email.message_from_bytes(
        (settings.sent_dir / f"{reply_id:06d}.eml").read_bytes(), policy=policy.default
    )
    assert kept["Message-ID"] == message["Message-ID"]
    assert send_approved(engine, settings).sent == []
    assert len(smtp_sink.deliveries) == 1


def test_rejected_reply_is_never_sent(settings: Settings, engine: Engine, smtp_sink: SmtpSink) -> None:
    reply_id = drafted_reply(settings, engine)
    with database.session_scope(engine) as session:
        assert store.decide_reply(session, reply_id=reply_id, approve=False, by="tester") is not None
        assert store.decide_reply(session, reply_id=reply_id, approve=True, by="tester") is None
    assert send_approved(engine, settings).sent == []
    assert smtp_sink.deliveries == []


def test_a_refused_recipient_fails_that_reply_and_the_others_still_go(
    tmp_path: Path, imap_server: Any, engine_for: Any
) -> None:
    with SmtpSink(refuse=frozenset({"alice.chen@example.com"})) as sink:
        settings = make_settings(tmp_path / "d", imap_server, sink)
        engine = engine_for(settings)
        deliver(settings, [("alice", eml("en-alice-best-price.eml")), ("chan", eml("zh-hant-big5.eml"))])
        run_cycle(settings, engine)
        approve_all(engine)
        report = send_approved(engine, settings)

        assert (len(report.sent), report.failed) == (2, 2)
        assert [d.recipients for d in sink.deliveries] == [("chantaiman@example.hk",)] * 2
        with database.session_scope(engine) as session:
            failed = session.exec(select(Reply).where(Reply.status == ReplyStatus.FAILED)).all()
        assert {(r.to_address, r.failure[:3]) for r in failed} == {("alice.chen@example.com", "550")}
        assert send_approved(engine, settings).sent == []


def test_an_unreachable_smtp_server_leaves_replies_approved_for_the_next_cycle(
    tmp_path: Path, imap_server: Any, engine_for: Any
) -> None:
    with SmtpSink() as sink:
        settings = make_settings(tmp_path / "d", imap_server, sink)
        engine = engine_for(settings)
        deliver(settings, [("alice", eml("en-alice-best-price.eml"))])
        run_cycle(settings, engine)
        approve_all(engine)
    report = send_approved(engine, settings)  # the sink is stopped now
    assert (report.sent, report.retry, report.uncertain) == ([], 1, 0)
    assert "ConnectionRefusedError" in report.problem
    with database.session_scope(engine) as session:
        tried = session.exec(select(Reply).where(Reply.attempts == 1)).one()
        assert tried.status == ReplyStatus.APPROVED and tried.next_attempt_at is not None
        wait = (tried.next_attempt_at - utcnow()).total_seconds()
        assert settings.smtp.retry_seconds - 5 < wait <= settings.smtp.retry_seconds
    with SmtpSink() as sink:
        moved = settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"port": sink.port})})
        assert [r.id for r in send_approved(engine, moved).sent] != [tried.id], "it waits for its retry time"
        assert len(sink.deliveries) == 1
        with database.session_scope(engine) as session:
            session.get(Reply, tried.id).next_attempt_at = utcnow()  # type: ignore[union-attr]
        assert [r.id for r in send_approved(engine, moved).sent] == [tried.id]
        assert len(sink.deliveries) == 2


def test_a_reply_that_keeps_meeting_temporary_failures_is_shown_to_staff_as_failed(
    tmp_path: Path, imap_server: Any, engine_for: Any
) -> None:
    with SmtpSink() as sink:
        settings = make_settings(tmp_path / "d", imap_server, sink)
        engine = engine_for(settings)
        deliver(settings, [("alice", eml("en-alice-best-price.eml"))])
        run_cycle(settings, engine)
        approve_all(engine)
    for _ in range(settings.smtp.max_attempts):
        with database.session_scope(engine) as session:
            for reply in session.exec(select(Reply)).all():
                reply.next_attempt_at = None
        send_approved(engine, settings)
    with database.session_scope(engine) as session:
        first = session.exec(select(Reply).order_by(Reply.id)).first()
    assert first is not None and first.status == ReplyStatus.FAILED
    assert first.failure.startswith(f"gave up after {settings.smtp.max_attempts} attempts")


def test_staff_settle_an_uncertain_reply_without_a_second_copy(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink
) -> None:
    reply_id = drafted_reply(settings, engine)
    with database.session_scope(engine) as session:
        reply = session.get(Reply, reply_id)
        reply.status = ReplyStatus.SENDING  # type: ignore[union-attr]
        session.add(reply)
    send_approved(engine, settings)
    with database.session_scope(engine) as session:
        assert store.decide_reply(session, reply_id=reply_id, approve=True, by="x") is None
        settled = moves.resolve_reply(session, reply_id=reply_id, delivered=True, by="staff", consent_days=30)
        assert settled is not None and settled.status == ReplyStatus.SENT
        claim = session.get(Claim, settled.claim_id)
        assert claim is not None and claim.status == "offer_sent", (
            "a delivered offer starts the consent clock"
        )
        assert claim.consent_deadline is not None
    assert send_approved(engine, settings).sent == []
    assert smtp_sink.deliveries == []


def test_after_a_restore_an_approved_reply_already_in_sent_is_marked_sent_not_sent_again(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink
) -> None:
    reply_id = drafted_reply(settings, engine)
    with database.session_scope(engine) as session:
        assert store.decide_reply(session, reply_id=reply_id, approve=True, by="x") is not None
        again = moves.resolve_reply(session, reply_id=reply_id, delivered=False, by="staff", consent_days=30)
        assert again is None, "an approved reply is going anyway: only --sent applies to it"
        settled = moves.resolve_reply(session, reply_id=reply_id, delivered=True, by="staff", consent_days=30)
        assert settled is not None and settled.status == ReplyStatus.SENT
    assert send_approved(engine, settings).sent == []
    assert smtp_sink.deliveries == []


def test_a_message_refused_after_its_data_is_failed_not_marked_sent(
    tmp_path: Path, imap_server: Any, engine_for: Any
) -> None:
    with SmtpSink(reject_content=frozenset({"alice.chen@example.com"})) as sink:
        settings = make_settings(tmp_path / "d", imap_server, sink)
        engine = engine_for(settings)
        deliver(settings, [("alice", eml("en-alice-best-price.eml")), ("chan", eml("zh-hant-big5.eml"))])
        run_cycle(settings, engine)
        approve_all(engine)
        report = send_approved(engine, settings)
        assert (len(report.sent), report.failed) == (2, 2)
        with database.session_scope(engine) as session:
            failed = session.exec(select(Reply).where(Reply.status == ReplyStatus.FAILED)).all()
        assert {r.failure[:3] for r in failed} == {"554"}


def test_an_acknowledgement_approved_in_bulk_goes_with_the_html_drafted_from_its_context(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink
) -> None:
    drafted_reply(settings, engine)
    with database.session_scope(engine) as session:
        ann = staff.add_user(session, name="ann", role="agent", password="correct horse battery")
        ack = session.exec(select(Reply).where(Reply.kind == "acknowledgement")).one()
        expected = draft_html(
            ack.kind, ack.language, letter_context.decode(ack.context), templates_dir=settings.templates_dir
        )
        done, refused = approval.bulk_approve(session, settings, ann, [ack.id or 0])
        assert (len(done), refused) == (1, [])
    with database.session_scope(engine) as session:
        kept = session.get(Reply, ack.id)
        assert kept is not None and kept.status == ReplyStatus.APPROVED
        assert kept.body_html == "", "a bulk approval leaves the HTML part to the outbox"

    assert [r.id for r in send_approved(engine, settings).sent] == [ack.id]
    (delivery,) = smtp_sink.deliveries
    html = email.message_from_bytes(delivery.content, policy=policy.default).get_body(("html",))
    assert html is not None and expected in html.get_content().replace("\r\n", "\n")
    assert "Alice" in expected
