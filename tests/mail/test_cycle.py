"""End to end through real IMAP (pymap and Dovecot), real SMTP (aiosmtpd) and the CLI."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import imapclient
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.claims import staff
from bot.cli import main
from bot.config import Settings
from bot.demo.run import deliver
from bot.demo.smtp_sink import SmtpSink
from bot.storage import database, store
from bot.storage.tables import Claim, ClaimOrder, InboundMessage, Reply
from tests.conftest import approve_all
from tests.messages import eml, variants

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)

ENGLISH = "en-alice-best-price.eml"
CHINESE_GBK = "zh-hans-gbk-under-gb2312-label.eml"


def write_config(settings: Settings, path: Path) -> Path:
    imap, smtp = settings.imap, settings.smtp
    path.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'database_url = "{settings.database_url}"\n'
        f'[imap]\nhost = "{imap.host}"\nport = {imap.port}\nssl = false\n'
        f'username = "{imap.username}"\n'
        f'[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config_file(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CLAIMSBOT_IMAP_PASSWORD", settings.imap.password.get_secret_value())
    return str(write_config(settings, tmp_path / "claimsbot.toml"))


def folder_count(settings: Settings, folder: str) -> int:
    with imapclient.IMAPClient(settings.imap.host, port=settings.imap.port, ssl=False, timeout=10) as c:
        c.login(settings.imap.username, settings.imap.password.get_secret_value())
        if not c.folder_exists(folder):
            return 0
        return int(c.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])


def test_complaints_become_claims_and_approved_replies_are_sent_once(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink, config_file: str
) -> None:
    deliver(settings, [(ENGLISH, eml(ENGLISH)), (CHINESE_GBK, eml(CHINESE_GBK))])

    assert main(["run", "--once", "--config", config_file]) == 0

    with database.session_scope(engine) as session:
        claims = {c.account_login: c for c in session.exec(select(Claim)).all()}
        assert set(claims) == {"81234567", "81234568"}
        tickets = {
            login: {o.ticket for o in session.exec(select(ClaimOrder).where(ClaimOrder.claim_id == c.id))}
            for login, c in claims.items()
        }
        drafts = {(r.claim_id, r.kind): r for r in session.exec(select(Reply)).all()}
    assert tickets == {"81234567": {"55667788", "55667789"}, "81234568": {"66778899", "66778900"}}
    english, chinese = claims["81234567"], claims["81234568"]
    assert (english.language, chinese.language) == ("en", "zh-Hans")
    assert chinese.claimant_name == "王喆"
    # Offers ready as the claims are registered are their acknowledgements: one letter each.
    assert sorted(drafts) == sorted((claim.id, "offer") for claim in (english, chinese))
    assert {r.status for r in drafts.values()} == {"draft"}
    assert "赔偿方案" in drafts[(chinese.id, "offer")].subject
    assert smtp_sink.deliveries == [], "nothing leaves before a person approves it"
    assert folder_count(settings, "INBOX") == 0
    assert folder_count(settings, "Processed") == 2

    with database.session_scope(engine) as session:
        staff.add_user(session, name="sam", role="supervisor", password="correct horse battery")
        staff.add_user(session, name="ann", role="agent", password="correct horse battery")
    offer_id = str(drafts[(english.id, "offer")].id)
    assert main(["approve", offer_id, "--by", "ann", "--config", config_file]) == 1, (
        "an agent approves no money"
    )
    assert main(["approve", offer_id, "--by", "nobody", "--config", config_file]) == 2
    for reply in drafts.values():
        assert main(["approve", str(reply.id), "--by", "sam", "--config", config_file]) == 0
    assert main(["run", "--once", "--config", config_file]) == 0

    delivered = [email.message_from_bytes(d.content, policy=policy.default) for d in smtp_sink.deliveries]
    assert sorted(str(m["To"]) for m in delivered) == ["alice.chen@example.com", "wangzhe@example.cn"]
    for claim, source in ((english, ENGLISH), (chinese, CHINESE_GBK)):
        complaint_id = email.message_from_bytes(eml(source))["Message-ID"]
        for sent in (m for m in delivered if m["To"] == claim.sender):
            assert sent["In-Reply-To"] == complaint_id
            assert complaint_id in sent["References"]
            assert claim.reference in sent["Subject"]
            assert sent["Auto-Submitted"] == "auto-replied"
            assert sent.get_body(("html",)) is not None
    offer = next(m for m in delivered if m["To"] == "wangzhe@example.cn" and "赔偿方案" in m["Subject"])
    chinese_body = offer.get_body(("plain",)).get_content()
    assert "王喆" in chinese_body and "66778899" in chinese_body and "English version" in chinese_body
    assert "卖出 2 手" in chinese_body and "1.13780" in chinese_body and "560.00美元" in chinese_body, (
        chinese_body
    )
    chinese_half = chinese_body.split("English version")[0]
    assert "收到" in chinese_half and "UTC+08:00的最高买价" in chinese_half and " UTC " not in chinese_half

    assert main(["run", "--once", "--config", config_file]) == 0
    with database.session_scope(engine) as session:
        assert len(session.exec(select(Claim)).all()) == 2
        assert len(session.exec(select(Reply)).all()) == 2
        assert {c.status for c in session.exec(select(Claim)).all()} == {"offer_sent"}
    assert len(smtp_sink.deliveries) == 2


def test_a_message_delivered_twice_opens_one_claim(settings: Settings, engine: Engine) -> None:
    from bot.mail.cycle import run_cycle

    deliver(settings, [(ENGLISH, eml(ENGLISH))])
    run_cycle(settings, engine)
    deliver(settings, [(ENGLISH, eml(ENGLISH))])
    report = run_cycle(settings, engine)

    assert (report.fetched, report.duplicates) == (1, 1)
    with database.session_scope(engine) as session:
        assert len(session.exec(select(Claim)).all()) == 1
        assert len(session.exec(select(Reply)).all()) == 2
    assert folder_count(settings, "INBOX") == 0


def test_a_message_that_breaks_the_batch_costs_only_itself(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.pipeline
    from bot.mail.cycle import run_cycle

    poison = eml("zh-hant-big5.eml")
    poisoner = email.utils.parseaddr(email.message_from_bytes(poison)["From"])[1].lower()
    real = bot.pipeline.match

    def match(*args: object, sender: str, **kwargs: object) -> object:
        if sender == poisoner:
            raise RuntimeError("a bug that only this message finds")
        return real(*args, sender=sender, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.pipeline, "match", match)
    deliver(settings, [(ENGLISH, eml(ENGLISH)), ("poison", poison), (CHINESE_GBK, eml(CHINESE_GBK))])
    report = run_cycle(settings, engine)

    assert report.outcomes == {"claim": 2, "quarantined": 1}
    with database.session_scope(engine) as session:
        messages = session.exec(select(InboundMessage).order_by(InboundMessage.uid)).all()
        assert [m.status for m in messages] == ["claim", "quarantined", "claim"]
        assert messages[1].raw == poison and "internal error" in messages[1].reason
        assert len(session.exec(select(Claim)).all()) == 2
    assert folder_count(settings, "INBOX") == 0


def test_malformed_message_is_kept_for_staff_and_the_cycle_goes_on(
    settings: Settings, engine: Engine, config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = eml("broken-unknown-charset.eml")
    deliver(
        settings, [("broken", broken), (ENGLISH, eml(ENGLISH)), ("mime", eml("broken-mime-boundary.eml"))]
    )

    assert main(["run", "--once", "--config", config_file]) == 0

    with database.session_scope(engine) as session:
        messages = session.exec(select(InboundMessage).order_by(InboundMessage.uid)).all()
        assert [m.status for m in messages] == ["quarantined", "claim", "quarantined"]
        assert messages[0].raw == broken
        assert "unknown charset" in messages[0].reason
        assert "broken MIME" in messages[2].reason
        assert len(session.exec(select(Claim)).all()) == 1
    capsys.readouterr()
    assert main(["quarantine", "--config", config_file]) == 0
    listing = capsys.readouterr().out
    assert "unknown charset 'x-unknown-8bit'" in listing and "dan.ho@example.com" in listing


def test_automated_mail_is_recorded_and_never_answered(settings: Settings, engine: Engine) -> None:
    from bot.mail.cycle import run_cycle

    deliver(settings, [("ooo", eml("auto-reply-out-of-office.eml")), ("bounce", eml("bounce-dsn.eml"))])
    report = run_cycle(settings, engine)

    assert report.outcomes == {"automated": 2}
    with database.session_scope(engine) as session:
        assert session.exec(select(Reply)).all() == []


def test_followups_join_their_claim_and_strangers_learn_nothing(settings: Settings, engine: Engine) -> None:
    from bot.mail.cycle import run_cycle

    deliver(settings, [(ENGLISH, eml(ENGLISH))])
    run_cycle(settings, engine)
    approve_all(engine)
    run_cycle(settings, engine)
    with database.session_scope(engine) as session:
        (claim,) = session.exec(select(Claim)).all()
        assert claim.status == "offer_sent"
        first_reply = session.exec(select(Reply).where(Reply.kind == "offer")).one()
        earlier = {r.id for r in session.exec(select(Reply)).all()}
    by_reference = eml("followup-with-reference.eml").replace(b"CLM-2026-000001", claim.reference.encode())
    by_thread = eml("followup-in-reply-to.eml").replace(b"<REPLY-ID>", first_reply.message_id.encode())
    stranger = eml("followup-from-stranger.eml").replace(b"CLM-2026-000001", claim.reference.encode())
    deliver(settings, [("ref", by_reference), ("thread", by_thread), ("stranger", stranger)])

    report = run_cycle(settings, engine)

    # A stranger's message naming the claim is a complaint of its own, as one naming a made-up
    # reference is: it learns nothing either way.
    assert report.outcomes == {"followup": 2, "claim": 1}
    with database.session_scope(engine) as session:
        assert len(session.exec(select(Claim)).all()) == 2
        replies = [r for r in session.exec(select(Reply).order_by(Reply.id)).all() if r.id not in earlier]
        assert session.get(Claim, claim.id).status == "consented"  # type: ignore[union-attr]
    # The reference alone proves nothing: that answer is held and the registered address asked;
    # the reply to the offer itself (In-Reply-To its Message-ID) consents.
    assert [(r.kind, r.to_address) for r in replies] == [
        ("consent_confirmation", "alice.chen@example.com"),
        ("consent_received", "alice.chen@example.com"),
    ]
    with database.session_scope(engine) as session:
        theirs = session.exec(select(Claim).where(Claim.sender == "mallory@example.net")).one()
        events = [e.event for e in store.history(session, claim_id=theirs.id or 0)]
    # As for any stranger who names no account of theirs: no letter, a person answers by hand.
    assert "reply_withheld" in events and not theirs.sender_verified
    with database.session_scope(engine) as session:
        chosen = {o.ticket: o.chosen_remedy for o in session.exec(select(ClaimOrder)).all()}
    assert chosen == {"55667788": "best_price", "55667789": "best_price"}, "'I agree, option 1' was consent"


def test_spoofed_sender_is_told_nothing_about_the_account(settings: Settings, engine: Engine) -> None:
    from bot.mail.cycle import run_cycle

    deliver(settings, [("spoof", eml("en-unverified-sender.eml"))])
    run_cycle(settings, engine)
    with database.session_scope(engine) as session:
        (reply,) = session.exec(select(Reply)).all()
        (claim,) = session.exec(select(Claim)).all()
        assert session.exec(select(ClaimOrder)).all() == []
    assert reply.kind == "unverified_sender" and reply.to_address == "bobby.lee.trading@example.net"
    assert claim.account_login is None and not claim.sender_verified
    for secret in ("81234570", "88990011", "Bob Lee", "EURUSD"):
        assert secret not in reply.body_text and secret not in reply.subject

    # As the letter asks, the client writes again from the registered address, quoting the reference.
    again = eml("en-unverified-sender.eml").replace(b"bobby.lee.trading@example.net", b"bob.lee@example.com")
    again = again.replace(b"Subject: ", f"Subject: Re: {claim.reference} ".encode(), 1)
    again = again.replace(b"Message-ID: <", b"Message-ID: <again-", 1)
    deliver(settings, [("again", again)])
    run_cycle(settings, engine)
    with database.session_scope(engine) as session:
        verified = session.exec(select(Claim).where(Claim.id != claim.id)).one()
        kinds = sorted(r.kind for r in session.exec(select(Reply).where(Reply.claim_id == verified.id)))
    assert verified.sender_verified and verified.account_login == "81234570"
    assert kinds == ["acknowledgement", "offer"] and verified.status == "assessed"


def test_claims_json_shows_explained_amounts(
    settings: Settings, engine: Engine, config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    deliver(settings, [(CHINESE_GBK, eml(CHINESE_GBK))])
    assert main(["run", "--once", "--config", config_file]) == 0
    capsys.readouterr()
    assert main(["claims", "--json", "--config", config_file]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    claim = json.loads(line)
    orders = {o["ticket"]: o for o in claim["orders"]}
    assert claim["account"] == "81234568" and claim["total"] == {"USD": "1739.00"}
    assert orders["66778899"]["category"] == 2
    assert {r["remedy"]: r["amount"] for r in orders["66778899"]["remedies"]} == {
        "best_price": "1179.00",
        "restore": "980.00",
    }
    assert "highest bid at 2019-06-26" in orders["66778899"]["explanation"]
    assert orders["66778900"]["adjusted_open_price"] == "1.13780"


def test_a_reused_message_id_on_another_message_is_kept_for_staff_not_dropped(
    settings: Settings, engine: Engine
) -> None:
    from bot.mail.cycle import run_cycle

    deliver(settings, [(ENGLISH, eml(ENGLISH))])
    run_cycle(settings, engine)
    deliver(settings, [("reused", eml("message-id-reused-by-another-sender.eml"))])
    report = run_cycle(settings, engine)

    assert report.outcomes == {"quarantined": 1}
    with database.session_scope(engine) as session:
        kept = session.exec(select(InboundMessage).where(InboundMessage.status == "quarantined")).one()
    assert "was already used by message #1" in kept.reason
    assert kept.raw == eml("message-id-reused-by-another-sender.eml")


def test_an_encoded_word_in_an_unknown_charset_does_not_stop_the_claim(
    settings: Settings, engine: Engine
) -> None:
    from bot.mail.cycle import run_cycle

    deliver(settings, [("ew", eml("encoded-word-unknown-charset.eml"))])
    report = run_cycle(settings, engine)
    assert report.outcomes == {"claim": 1}


def test_replies_still_go_out_when_the_mailbox_is_down(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink, imap_server: object
) -> None:
    from bot.mail.cycle import CycleFailed, run_cycle

    deliver(settings, [(ENGLISH, eml(ENGLISH))])
    run_cycle(settings, engine)
    approve_all(engine)
    imap_server.stop()  # type: ignore[attr-defined]

    with pytest.raises(CycleFailed) as failed:
        run_cycle(settings, engine)
    assert failed.value.report.sent == 2
    assert len(smtp_sink.deliveries) == 2


def test_ingest_reads_eml_mbox_and_maildir_exactly_once(
    settings: Settings, engine: Engine, config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.messages import TEST_MAIL

    paths = [
        str(TEST_MAIL / "html-only-outlook.eml"),
        str(TEST_MAIL / "export.mbox"),
        str(TEST_MAIL / "maildir"),
    ]
    assert main(["ingest", *paths, "--config", config_file]) == 0
    assert "ingest: 6 fetched, 0 already stored, outcomes: automated 1, claim 5" in capsys.readouterr().out
    assert main(["ingest", *paths, "--config", config_file]) == 0
    assert "ingest: 6 fetched, 6 already stored" in capsys.readouterr().out
    with database.session_scope(engine) as session:
        assert len(session.exec(select(Claim)).all()) == 5


def test_an_oversized_message_is_listed_for_staff_and_left_on_the_server(
    settings: Settings, engine: Engine
) -> None:
    from bot.mail.cycle import run_cycle

    small = settings.model_copy(update={"imap": settings.imap.model_copy(update={"max_message_bytes": 1000})})
    deliver(settings, [("big", eml(ENGLISH) + b"x" * 2000), ("ok", eml("en-unverified-sender.eml"))])
    report = run_cycle(small, engine)
    assert report.outcomes == {"quarantined": 1, "claim": 1}
    with database.session_scope(engine) as session:
        held = session.exec(select(InboundMessage).where(InboundMessage.status == "quarantined")).one()
    assert "over the 1,000-byte limit" in held.reason
    assert folder_count(settings, "INBOX") == 1
    assert run_cycle(small, engine).fetched == 0


def test_a_loop_that_slips_through_is_capped_per_sender_per_day(settings: Settings, engine: Engine) -> None:
    from bot.mail.cycle import run_cycle

    capped = settings.model_copy(
        update={"claims": settings.claims.model_copy(update={"max_replies_per_sender_per_day": 3})}
    )
    deliver(settings, variants("en-unverified-sender.eml", 6))
    run_cycle(capped, engine)
    with database.session_scope(engine) as session:
        assert len(session.exec(select(Reply)).all()) == 3
        assert len(session.exec(select(Claim)).all()) == 6


def test_a_new_uidvalidity_rereads_the_folder_without_reprocessing(
    settings: Settings, engine: Engine
) -> None:
    from bot.mail.cycle import run_cycle
    from bot.storage.tables import MailboxCursor

    deliver(settings, [(ENGLISH, eml(ENGLISH))])
    run_cycle(settings, engine)
    with database.session_scope(engine) as session:
        cursor = session.exec(select(MailboxCursor)).one()
        cursor.uidvalidity += 1  # as after the server rebuilt its index
        session.add(cursor)
    deliver(settings, [(ENGLISH, eml(ENGLISH)), (CHINESE_GBK, eml(CHINESE_GBK))])
    report = run_cycle(settings, engine)

    assert (report.fetched, report.duplicates, report.outcomes) == (2, 1, {"claim": 1})
    with database.session_scope(engine) as session:
        assert len(session.exec(select(Claim)).all()) == 2
    assert folder_count(settings, "INBOX") == 0


def test_auto_replies_to_our_replies_do_not_start_a_loop(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink
) -> None:
    from bot.mail.cycle import run_cycle

    deliver(settings, [(ENGLISH, eml(ENGLISH))])
    run_cycle(settings, engine)
    approve_all(engine)
    run_cycle(settings, engine)
    ours = smtp_sink.deliveries[0]
    sent = email.message_from_bytes(ours.content)
    bounce_back = eml("auto-reply-out-of-office.eml").replace(
        b"Message-ID: <ooo-123@example.com>",
        f"Message-ID: <ooo-back@example.com>\r\nIn-Reply-To: {sent['Message-ID']}".encode(),
    )
    deliver(settings, [("ooo", bounce_back), ("dsn", eml("bounce-dsn.eml"))])
    report = run_cycle(settings, engine)
    assert report.outcomes == {"automated": 2}
    with database.session_scope(engine) as session:
        assert len(store.replies(session)) == 2


class _Killed(BaseException):
    pass


def _killed(mailbox: object, uids: list[int], target: str) -> None:
    if uids:
        raise _Killed


def test_a_duplicate_left_in_the_inbox_by_a_run_that_ended_before_archiving_is_archived_next(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.mail import cycle
    from bot.mail.mailbox import Mailbox

    deliver(settings, [(ENGLISH, eml(ENGLISH)), (ENGLISH, eml(ENGLISH)), (CHINESE_GBK, eml(CHINESE_GBK))])
    # The run dies after its commit, before its move to the archive.
    with monkeypatch.context() as patched, pytest.raises(_Killed):
        patched.setattr(Mailbox, "archive", _killed)
        cycle.run_cycle(settings, engine)
    assert folder_count(settings, "INBOX") == 3

    second = cycle.run_cycle(settings, engine)

    assert second.fetched == 0
    assert folder_count(settings, "INBOX") == 0
    assert folder_count(settings, settings.imap.processed_folder) == 3
    with database.session_scope(engine) as session:
        assert len(session.exec(select(Claim)).all()) == 2


def test_what_a_run_left_in_the_shared_intake_is_stored_even_once_sharing_is_turned_off(
    settings: Settings, engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the shared intake is PostgreSQL's")
    from bot.mail import cycle, shared
    from bot.mail.mailbox import Mailbox
    from bot.storage import backlog

    deliver(settings, [(ENGLISH, eml(ENGLISH)), (CHINESE_GBK, eml(CHINESE_GBK))])
    # A run added the mail to the shared intake (and moved the cursor past it), then was killed.
    backlog.ensure(engine)
    with Mailbox(settings.imap) as mailbox:
        for batch in mailbox.new_messages(0, max_bytes=settings.imap.max_message_bytes):
            shared.enqueue(engine, settings, mailbox.uidvalidity, batch)
    assert shared.left(engine) == 2
    alone = settings.model_copy(
        update={"intake": settings.intake.model_copy(update={"share_stage_work": False})}
    )

    report = cycle.run_cycle(alone, engine)

    assert report.fetched == 2 and report.outcomes == {"claim": 2}
    assert shared.left(engine) == 0
    assert folder_count(settings, "INBOX") == 0
    assert folder_count(settings, settings.imap.processed_folder) == 2
