from __future__ import annotations

import email
from email import policy

from sqlalchemy import Engine
from sqlmodel import select

from bot import store
from bot.config import Settings
from bot.demo.run import deliver
from bot.demo.smtp_sink import SmtpSink
from bot.outbox import send_approved
from bot.pipeline import run_cycle
from bot.tables import Reply, ReplyStatus
from tests.mail import eml


def drafted_reply(settings: Settings, engine: Engine) -> int:
    deliver(settings, [("alice", eml("en-alice-best-price.eml"))])
    run_cycle(settings, engine)
    with store.session_scope(engine) as session:
        (reply,) = session.exec(select(Reply)).all()
        assert reply.id is not None
        return reply.id


def test_a_reply_interrupted_mid_send_is_held_for_a_person_not_sent_again(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink
) -> None:
    reply_id = drafted_reply(settings, engine)
    with store.session_scope(engine) as session:
        reply = session.get(Reply, reply_id)
        assert reply is not None
        reply.status = ReplyStatus.SENDING  # as left by a worker killed during the SMTP conversation
        session.add(reply)

    assert send_approved(engine, settings.smtp, settings.sent_dir) == []
    with store.session_scope(engine) as session:
        assert session.get(Reply, reply_id).status == ReplyStatus.UNCERTAIN  # type: ignore[union-attr]
    assert smtp_sink.deliveries == []


def test_sent_reply_carries_loop_guards_and_its_own_message_id(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink
) -> None:
    reply_id = drafted_reply(settings, engine)
    with store.session_scope(engine) as session:
        store.decide_reply(session, reply_id=reply_id, approve=True, by="tester")
    sent = send_approved(engine, settings.smtp, settings.sent_dir)

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
    assert send_approved(engine, settings.smtp, settings.sent_dir) == []
    assert len(smtp_sink.deliveries) == 1


def test_rejected_reply_is_never_sent(settings: Settings, engine: Engine, smtp_sink: SmtpSink) -> None:
    reply_id = drafted_reply(settings, engine)
    with store.session_scope(engine) as session:
        assert store.decide_reply(session, reply_id=reply_id, approve=False, by="tester") is not None
        assert store.decide_reply(session, reply_id=reply_id, approve=True, by="tester") is None
    assert send_approved(engine, settings.smtp, settings.sent_dir) == []
    assert smtp_sink.deliveries == []
