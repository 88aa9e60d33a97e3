"""The managers' digest, read from a database built through the real pipeline.

One database for the module (the tests only read it): seven claims opened by the pipeline
from sample messages, moved through their lifecycle by the staff functions, six quarantined
messages; then every timestamp is set to a known moment in March 2024 and every amount to a
known value, so each figure below can be checked by hand.
"""

from __future__ import annotations

import email
import smtplib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, update
from sqlmodel import select

from bot.claims import approval, moves, staff
from bot.claims.deadlines import BROKER
from bot.claims.lifecycle import State
from bot.config import DigestSettings, Settings
from bot.demo.book import load_sample_book
from bot.demo.smtp_sink import SmtpSink
from bot.pipeline import process_message
from bot.reports import digest, digest_letter
from bot.storage import database, schema, store
from bot.storage.tables import Claim, ClaimEvent, ClaimOrder, InboundMessage, Reply, ReplyStatus
from tests.conftest import make_settings
from tests.messages import eml, variants

HK = ZoneInfo("Asia/Hong_Kong")
NOW = datetime(2024, 3, 15, 0, 30, tzinfo=UTC)  # Friday 15 March, 08:30 in Hong Kong
SINCE = datetime(2024, 3, 14, 0, 30, tzinfo=UTC)  # the digest a day before
D = Decimal


def hk(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=HK).astimezone(UTC)


# ticket -> (currency, best price amount, restore amount): as if Wang's account were in HKD.
AMOUNTS = {
    "55667788": ("USD", D("1234.56"), None),
    "55667789": ("USD", D("444.50"), D("2000.05")),
    "66778899": ("HKD", D("11790.00"), D("9800.00")),
    "66778900": ("HKD", D("5600.40"), None),
    "77889900": ("USD", D("529.00"), D("612.30")),
    "88990011": ("USD", D("26.60"), None),
}
# claim -> (created, closed): A settled, W consented, C refused, B waiting for information,
# E escalated, R rejected, K assessed (its offer not sent).
TIMES = {
    "A": (hk(3, 2), hk(3, 12, 15)),
    "W": (hk(3, 2, 11), None),
    "C": (hk(3, 6), None),
    "B": (hk(2, 20), None),
    "E": (hk(2, 28), None),
    "R": (SINCE, hk(3, 14, 18)),
    "K": (hk(3, 14, 12), None),
}


def bob_from_his_registered_address() -> bytes:
    message = EmailMessage()
    message["From"] = "Bob Lee <bob.lee@example.com>"
    message["To"] = "complaint@broker.example"
    message["Subject"] = "Outage claim"
    message["Date"] = "Thu, 27 Jun 2019 12:30:00 +0800"
    message["Message-ID"] = "<bob-registered@example.com>"
    message.set_content("Hi, my account is 81234570 and order 88990011 was affected by the outage.\nBob\n")
    return bytes(message)


@dataclass
class Built:
    engine: Engine
    settings: Settings
    claims: dict[str, int]
    references: dict[str, str]
    quarantined: list[int]


def _ingest(engine: Engine, settings: Settings, raw: bytes, uid: int) -> InboundMessage:
    with database.session_scope(engine) as session:
        inbound = process_message(
            raw, session=session, settings=settings, folder="INBOX", uidvalidity=1, uid=uid
        )
        assert inbound is not None
        session.flush()
        session.expunge(inbound)
        return inbound


def build(tmp_path: Path) -> Built:
    settings = make_settings(
        tmp_path / "data", claims={"max_replies_per_sender_per_day": 50, "max_replies_per_sender": 500}
    )
    engine = schema.open_engine(settings)
    load_sample_book(engine, tmp_path / "csv", settings.trade_server.tz)
    alice_again = [raw for _, raw in variants("en-alice-best-price.eml", 2)]
    sources = {
        "A": eml("en-alice-best-price.eml"),
        "W": eml("zh-hans-gbk-under-gb2312-label.eml"),
        "C": eml("zh-hant-big5.eml"),
        "B": eml("en-unverified-sender.eml"),
        "E": alice_again[0],
        "R": alice_again[1],
        "K": bob_from_his_registered_address(),
    }
    claims = {}
    for uid, (label, raw) in enumerate(sources.items(), start=1):
        claim_id = _ingest(engine, settings, raw, uid).claim_id
        assert claim_id is not None
        claims[label] = claim_id
    unreadable = [
        eml("broken-unknown-charset.eml"),
        eml("attachment-only.eml"),
        eml("broken-mime-boundary.eml"),
        eml("mail-parser-malformed-1.eml"),
        eml("message-id-reused-by-another-sender.eml"),
        variants("broken-unknown-charset.eml", 1)[0][1],
    ]
    quarantined = []
    for uid, raw in enumerate(unreadable, start=100):
        inbound = _ingest(engine, settings, raw, uid)
        assert inbound.status == "quarantined" and inbound.id is not None
        quarantined.append(inbound.id)

    with database.session_scope(engine) as session:
        for ticket, (currency, best, restore) in AMOUNTS.items():
            session.exec(  # type: ignore[call-overload]
                update(ClaimOrder)
                .where(ClaimOrder.ticket == ticket, ClaimOrder.outcome == "eligible")
                .values(currency=currency, best_price_amount=best, restore_amount=restore)
            )
        meg = staff.add_user(session, name="meg", role="manager", password="correct horse battery")
        sam = staff.add_user(session, name="sam", role="supervisor", password="correct horse battery")
        for reply in store.replies(session):
            if reply.claim_id in (claims["A"], claims["W"], claims["C"]):
                store.decide_reply(session, reply_id=reply.id or 0, approve=True, by="sam")
        for label in ("A", "W", "C"):
            claim = session.get(Claim, claims[label])
            assert claim is not None and claim.status == State.ASSESSED
            moves.move(session, claim, State.OFFER_SENT, actor="bot", reason="offer sent")
        chosen = {
            "55667788": "best_price",
            "55667789": "restore",
            "66778899": "restore",
            "66778900": "best_price",
        }
        for label in ("A", "W"):
            for row in store.claim_orders(session, claim_id=claims[label]):
                store.choose_remedy(
                    session, claim_order_id=row.id or 0, remedy=chosen[row.ticket], by="client"
                )
            claim = session.get(Claim, claims[label])
            assert claim is not None
            moves.move(session, claim, State.CONSENTED, actor="client", reason="agreed")
        refusing = session.get(Claim, claims["C"])
        assert refusing is not None
        moves.move(session, refusing, State.REFUSED, actor="client", reason="not enough")
        approval.settle(session, settings, meg, claims["A"], note="credited")
        assert session.get(Claim, claims["E"]).status == State.ESCALATED  # type: ignore[union-attr]
        approval.reject_claim(session, settings, sam, claims["R"], reason="Both orders were claimed before.")

    with database.session_scope(engine) as session:
        for label, (created, closed) in TIMES.items():
            claim_id = claims[label]
            offered = created + timedelta(days=1) if label in ("A", "W", "C") else None
            session.exec(  # type: ignore[call-overload]
                update(Claim)
                .where(Claim.id == claim_id)
                .values(created_at=created, closed_at=closed, offered_at=offered)
            )
            session.exec(  # type: ignore[call-overload]
                update(ClaimEvent)
                .where(ClaimEvent.claim_id == claim_id)
                .values(at=created + timedelta(minutes=5))
            )
            for reply in session.exec(select(Reply).where(Reply.claim_id == claim_id)).all():
                letter = reply.kind in ("settled", "rejected")
                reply.created_at = closed if letter and closed else created + timedelta(minutes=10)
                session.add(reply)
        for day, message_id in enumerate(quarantined, start=9):
            session.exec(  # type: ignore[call-overload]
                update(InboundMessage).where(InboundMessage.id == message_id).values(received_at=hk(3, day))
            )
        references = {label: session.get(Claim, claim_id).reference for label, claim_id in claims.items()}  # type: ignore[union-attr]
    return Built(engine, settings, claims, references, quarantined)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("digest"))


@pytest.fixture(scope="module")
def gathered(built: Built) -> digest.Digest:
    with database.session_scope(built.engine) as session:
        return digest.gather(session, since=SINCE, now=NOW, rules=BROKER, tz=HK, warn_days=2)


def test_claims_are_counted_by_state_and_new_since_the_last_digest(gathered: digest.Digest) -> None:
    assert gathered.by_state == {
        "received": 0,
        "acknowledged": 0,
        "needs_information": 1,
        "assessed": 1,
        "offer_sent": 0,
        "consented": 1,
        "refused": 1,
        "settled": 1,
        "rejected": 1,
        "escalated": 1,
    }
    # R was created exactly at the last digest (counted), K the day after; none before.
    assert gathered.new_claims == 2
    assert gathered.open_claims == 5


def test_amounts_are_summed_per_currency_to_the_cent(gathered: digest.Digest) -> None:
    # Offered: the larger remedy per order of A (settled), W (consented) and C (refused), not
    # K, whose offer was never sent: 1234.56 + 2000.05 + 612.30 USD; 11790.00 + 5600.40 HKD.
    assert gathered.offered == {"USD": D("3846.91"), "HKD": D("17390.40")}
    # Consented (W, waiting to be carried out): restore 9800.00 + best price 5600.40.
    assert gathered.consented == {"HKD": D("15400.40")}
    # Settled (A): best price 1234.56 + restore 2000.05.
    assert gathered.settled == {"USD": D("3234.61")}
    assert gathered.currencies == ["HKD", "USD"]


def test_claims_past_or_near_their_deadline_are_listed_with_their_references(
    built: Built, gathered: digest.Digest
) -> None:
    ref = built.references
    late = [(c.reference, c.standing, c.state, c.due_by.astimezone(HK).date()) for c in gathered.late]
    assert late == [
        (ref["B"], "overdue", "needs_information", date(2024, 3, 5)),
        (ref["E"], "overdue", "escalated", date(2024, 3, 13)),
        (ref["W"], "due_soon", "consented", date(2024, 3, 16)),
    ]
    assert (gathered.overdue, gathered.due_soon) == (2, 1)


def test_quarantine_escalations_and_the_oldest_draft_are_reported(
    built: Built, gathered: digest.Digest
) -> None:
    assert gathered.quarantined == 6
    with database.session_scope(built.engine) as session:
        stored = [session.get(InboundMessage, i) for i in built.quarantined]
        expected = [(m.sender, m.subject, m.reason) for m in reversed(stored) if m is not None][:5]
    assert [(m.sender, m.subject, m.reason) for m in gathered.newest_quarantined] == expected
    assert [m.received_at for m in gathered.newest_quarantined] == [
        hk(3, day) for day in (14, 13, 12, 11, 10)
    ]
    assert "unknown charset" in gathered.newest_quarantined[0].reason

    assert [(c.reference, c.since) for c in gathered.escalated] == [(built.references["E"], hk(2, 28, 10, 5))]
    assert "no order can be assessed" in gathered.escalated[0].reason

    # Waiting: A's settlement letter, B's reply, E's and K's acknowledgements, K's offer and
    # R's rejection letter (rejecting R withdrew its acknowledgement, still a draft then).
    assert gathered.drafts_waiting == 6
    oldest = gathered.oldest_draft
    assert oldest is not None
    assert (oldest.kind, oldest.reference, oldest.created_at) == (
        "unverified_sender",
        built.references["B"],
        hk(2, 20, 10, 10),
    )
    assert oldest.age == timedelta(days=23, hours=22, minutes=20)
    with database.session_scope(built.engine) as session:
        reply = session.get(Reply, oldest.reply_id)
        assert reply is not None and reply.status == ReplyStatus.DRAFT


def test_claims_per_day_and_the_backlog_cover_the_last_fortnight(gathered: digest.Digest) -> None:
    expected = [
        (2, 2, 4),
        (3, 0, 4),
        (4, 0, 4),
        (5, 0, 4),
        (6, 1, 5),
        (7, 0, 5),
        (8, 0, 5),
        (9, 0, 5),
        (10, 0, 5),
        (11, 0, 5),
        (12, 0, 4),
        (13, 0, 4),
        (14, 2, 5),
        (15, 0, 5),
    ]
    assert [(d.day, d.new, d.backlog) for d in gathered.per_day] == [
        (date(2024, 3, day), new, backlog) for day, new, backlog in expected
    ]


def test_the_chart_is_a_small_png(gathered: digest.Digest) -> None:
    png = digest_letter.chart_png(gathered)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1024
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (600, 250)


def test_the_digest_arrives_by_smtp_with_its_figures_and_the_chart_inline(
    built: Built, gathered: digest.Digest, smtp_sink: SmtpSink
) -> None:
    message = digest_letter.compose_digest(
        gathered,
        from_address="claimsbot@broker.example",
        to=["ops-managers@broker.example", "head.of.dealing@broker.example"],
        message_id_domain="claims.broker.example",
    )
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        smtp.send_message(message)
    [delivery] = smtp_sink.deliveries
    assert set(delivery.recipients) == {"ops-managers@broker.example", "head.of.dealing@broker.example"}
    received = email.message_from_bytes(delivery.content, policy=default)
    assert isinstance(received, EmailMessage)
    assert received["Subject"] == "Claims digest 2024-03-15: 2 new, 6 drafts waiting, 2 overdue"
    assert received["Auto-Submitted"] == "auto-generated"

    text_part, html_part = received.get_body(("plain",)), received.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    figures = [
        "摘要：新增索偿 2 宗，待批覆函 6 封，逾期 2 宗",
        "3,846.91 USD",
        "17,390.40 HKD",
        "15,400.40 HKD",
        "3,234.61 USD",
        *(built.references[label] for label in ("B", "E", "W")),
        "23 d 22 h",
    ]
    for figure in figures:
        assert figure in text, figure
        assert figure in html, figure
    assert "Figures at 2024-03-15 08:30 (Asia/Hong_Kong)" in text

    [image] = [part for part in received.walk() if part.get_content_type() == "image/png"]
    png = image.get_content()
    assert png.startswith(b"\x89PNG") and len(png) > 1024
    assert image.get_content_disposition() == "inline"
    cid = str(image["Content-ID"]).strip().strip("<>")
    assert f'src="cid:{cid}"' in html
    # The image belongs with the HTML: multipart/related inside multipart/alternative.
    assert received.get_content_type() == "multipart/alternative"
    related = received.get_payload()[1]  # type: ignore[index]
    assert related.get_content_type() == "multipart/related"


def test_what_clients_wrote_is_escaped_in_the_html(built: Built, gathered: digest.Digest) -> None:
    hostile = digest.HeldMessage(NOW, "x@example.net", '<img src="http://tracker.example/p.gif">', "<b>")
    changed = digest.Digest(**{**gathered.__dict__, "newest_quarantined": [hostile]})
    message = digest_letter.compose_digest(
        changed,
        from_address="claimsbot@broker.example",
        to=["m@broker.example"],
        message_id_domain="x.example",
    )
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "tracker.example" in html and '<img src="http://tracker' not in html
    assert "&lt;img src=" in html and "&lt;b&gt;" in html


def test_a_digest_needs_a_recipient(gathered: digest.Digest) -> None:
    with pytest.raises(ValueError, match="recipient"):
        digest_letter.compose_digest(
            gathered, from_address="a@b.example", to=[], message_id_domain="b.example"
        )


def test_a_daily_digest_counts_from_the_previous_scheduled_time() -> None:
    assert digest.since_last(NOW, (8, 0), HK) == hk(3, 14, 8)
    assert digest.since_last(NOW, (9, 0), HK) == hk(3, 13, 9)
    assert digest.since_last(hk(3, 15, 8), (8, 0), HK) == hk(3, 14, 8)


def test_the_digest_settings_check_addresses_and_the_time_of_day() -> None:
    settings = DigestSettings.model_validate(
        {"recipients": "a@broker.example; b@broker.example", "at": "7:05"}
    )
    assert settings.recipients == ["a@broker.example", "b@broker.example"]
    assert (settings.at, settings.hour_minute, settings.tz) == ("07:05", (7, 5), HK)
    with pytest.raises(ValidationError, match="not an email address"):
        DigestSettings(recipients=["managers"])
    with pytest.raises(ValidationError, match="HH:MM"):
        DigestSettings(at="25:00")


def test_escalations_are_grouped_by_reason_with_at_most_five_claims_each(gathered: digest.Digest) -> None:
    def escalated(n: int, reason: str) -> digest.EscalatedClaim:
        return digest.EscalatedClaim(f"CLM-2024-{n:06d}", hk(2, 1 + n % 27, 9), reason)

    many = [escalated(n, "client disputes the trade records") for n in range(1, 9)]
    few = [escalated(n, "  needs a manager's\n  view ") for n in range(20, 22)]
    changed = digest.Digest(**{**gathered.__dict__, "escalated": [*few, *many, escalated(30, "")]})
    groups = changed.escalated_by_reason
    assert [(g.reason, g.count, len(g.oldest)) for g in groups] == [
        ("client disputes the trade records", 8, 5),
        ("needs a manager's view", 2, 2),
        ("(no reason given)", 1, 1),
    ]
    assert [c.reference for c in groups[0].oldest] == [f"CLM-2024-{n:06d}" for n in range(1, 6)], "the oldest"
    message = digest_letter.compose_digest(
        changed,
        from_address="claimsbot@broker.example",
        to=["m@broker.example"],
        message_id_domain="x.example",
    )
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    section = text.split("ESCALATED")[1].split("QUARANTINED")[0]
    assert "client disputes the trade records: 8 claims (the 5 oldest below)" in section
    assert section.count("CLM-2024-") == 5 + 2 + 1
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert html.split("Escalated</h2>")[1].split("Quarantined")[0].count("<li>") == 8


def test_the_new_figures_on_the_seven_claims(built: Built, gathered: digest.Digest) -> None:
    # Assessed, not offered: K's one order (Bob's best price), its offer never sent.
    assert gathered.assessed == {"USD": D("26.60")}
    # Resolved in [14 March 08:30, 15 March 08:30): R, rejected at 18:00 on the 14th; A settled on the 12th.
    assert gathered.resolved == {"settled": 0, "rejected": 1}
    # Resolution: R in 9 h 30 min, A in 10 d 5 h; nearest rank of two: the first, then the second.
    assert gathered.resolution == digest.Spread(
        2, timedelta(hours=9, minutes=30), timedelta(days=10, hours=5)
    )
    assert gathered.first_response == digest.Spread(0, None, None)  # no reply was sent
    # Business days after the day of receipt up to Friday 15 March: K (14 March) 1; C (Wed 6 March)
    # 7; W (Sat 2 March) 10; E (Wed 28 Feb) 12; B (Tue 20 Feb) 18.
    assert [b.count for b in gathered.backlog_by_age] == [0, 1, 0, 3, 1]
    # The approvals recorded were moved to each claim's creation, none in the period.
    assert gathered.approvals == []
    assert gathered.oldest_quarantined is not None and gathered.oldest_quarantined.received_at == hk(3, 9)
    assert [c.claim_id for c in gathered.late] == [built.claims[label] for label in ("B", "E", "W")]
