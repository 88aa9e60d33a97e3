"""``claimsbot demo``: sample complaints through the real pipeline, real IMAP and SMTP, one process."""

from __future__ import annotations

import contextlib
import tempfile
from email.message import EmailMessage
from email.utils import make_msgid
from importlib.resources import files
from pathlib import Path

import imapclient
from sqlalchemy import Engine

from bot.claims import approval, staff
from bot.config import Settings, settings_from_mapping
from bot.demo.book import load_sample_book
from bot.demo.imap_server import EmbeddedImapServer
from bot.demo.smtp_sink import SmtpSink
from bot.mail.cycle import run_cycle
from bot.storage import database, schema, store
from bot.storage.tables import Claim, ReplyStatus, StaffUser


def sample_messages() -> list[tuple[str, bytes]]:
    folder = files("bot.demo") / "mail"
    return sorted((p.name, p.read_bytes()) for p in folder.iterdir() if p.name.endswith(".eml"))


# Who the demo's letters come from (a made-up broker; [letters] in config.example.toml).
DEMO_LETTERS = {
    "broker_name": {
        "en": "Example Markets Ltd",
        "zh-Hans": "示例市场有限公司",
        "zh-Hant": "示例市場有限公司",
    },
    "contact": {
        "en": [
            "complaint@broker.example",
            "+852 0000 0000 (Monday to Friday, 09:00 to 18:00 Hong Kong time)",
        ],
        "zh-Hans": ["complaint@broker.example", "+852 0000 0000（星期一至五，香港时间 09:00 至 18:00）"],
        "zh-Hant": ["complaint@broker.example", "+852 0000 0000（星期一至五，香港時間 09:00 至 18:00）"],
    },
}


def demo_settings(data_dir: Path, imap: EmbeddedImapServer, smtp: SmtpSink) -> Settings:
    return settings_from_mapping(
        {
            "data_dir": str(data_dir),
            "poll_seconds": 5,
            "imap": {
                "host": imap.host,
                "port": imap.port,
                "ssl": False,
                "username": imap.username,
                "password": imap.password,
            },
            "smtp": {"host": smtp.host, "port": smtp.port, "security": "none"},
            "letters": DEMO_LETTERS,
        },
        source="demo",
    )


def deliver(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    """Put messages in the complaint mailbox, as the broker's mail server would."""
    with imapclient.IMAPClient(settings.imap.host, port=settings.imap.port, ssl=False, timeout=10) as client:
        client.login(settings.imap.username, settings.imap.password.get_secret_value())
        for _, raw in messages:
            client.append(settings.imap.folder, raw)


DEMO_PASSWORD = "demo-password-123"
DEMO_STAFF = (("demo-supervisor", "supervisor"), ("demo-manager", "manager"), ("demo-agent", "agent"))


def run_demo(data_dir: Path | None, *, serve: bool = False, port: int = 8080) -> int:
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="claimsbot-demo-"))
    with EmbeddedImapServer() as imap, SmtpSink() as smtp:
        settings = demo_settings(data_dir, imap, smtp)
        engine = schema.open_engine(settings)
        rows = load_sample_book(engine, data_dir / "book", settings.trade_server.tz)
        staff = _staff(engine)
        supervisor, manager = staff["demo-supervisor"], staff["demo-manager"]
        messages = sample_messages()
        deliver(settings, messages)
        print(
            f"IMAP server (pymap, in memory) on {imap.host}:{imap.port}; "
            f"SMTP sink (aiosmtpd) on {smtp.host}:{smtp.port}"
        )
        print(
            f"imported the sample trade book: {rows} rows from CSV in {data_dir / 'book'} "
            f"(server time {settings.trade_server.timezone})"
        )
        print(f"delivered {len(messages)} sample emails: {', '.join(n for n, _ in messages)}\n")

        first = run_cycle(settings, engine)
        print(
            f"cycle 1: read {first.fetched} messages: "
            + ", ".join(f"{v} {k}" for k, v in sorted(first.outcomes.items()))
        )
        _print_claims(engine)
        print(f"\ndemo-supervisor approved {_approve_all(engine, settings, supervisor)} drafted replies")
        second = run_cycle(settings, engine)
        print(f"cycle 2: {second.fetched} new messages, {second.sent} replies sent")
        _print_sent(engine, smtp)

        consenting = _consent_in_chinese(engine, settings)
        if consenting is not None:
            third = run_cycle(settings, engine)
            print(f"\ncycle 3: {third.fetched} new message (the client's consent, in Chinese)")
            print(f"demo-supervisor approved {_approve_all(engine, settings, supervisor)} drafted replies")
            with database.session_scope(engine) as session:
                approval.settle(
                    session,
                    settings,
                    manager,
                    consenting,
                    note="Credited to the trading account.",
                )
            print(
                "demo-manager settled the claim; demo-supervisor approved "
                f"{_approve_all(engine, settings, supervisor)} reply (not the person who wrote it)"
            )
            fourth = run_cycle(settings, engine)
            print(f"cycle 4: {fourth.sent} replies sent")
            _print_history(engine, consenting)
        last = run_cycle(settings, engine)
        print(f"\nlast cycle (nothing new): {last.fetched} new messages, {last.sent} replies sent")
        _print_quarantine(engine)
        print(f"\ndatabase and sent mail: {data_dir}")
        if serve:
            _serve(settings, engine, port)
    return 0


def _staff(engine: Engine) -> dict[str, StaffUser]:
    with database.session_scope(engine) as session:
        people = {
            name: store.staff_user(session, name=name)
            or staff.add_user(session, name=name, role=role, password=DEMO_PASSWORD)
            for name, role in DEMO_STAFF
        }
        for person in people.values():
            session.expunge(person)
    return people  # type: ignore[return-value]


def _approve_all(engine: Engine, settings: Settings, user: StaffUser) -> int:
    """What staff do in the approval page, done here so the demo runs unattended."""
    with database.session_scope(engine) as session:
        waiting = [r.id for r in approval.queue(session) if r.id is not None]
    for reply_id in waiting:
        with database.session_scope(engine) as session:
            approval.approve(session, settings, user, reply_id)
    return len(waiting)


def _consent_in_chinese(engine: Engine, settings: Settings) -> int | None:
    """The client of the first Chinese claim with an offer answers it, as a reply in Chinese."""
    with database.session_scope(engine) as session:
        offers = [
            r
            for r in store.replies(session, statuses=[ReplyStatus.SENT])
            if r.kind == "offer" and r.language.startswith("zh")
        ]
        if not offers:
            return None
        offer, claim_id = offers[0], offers[0].claim_id
        answer = EmailMessage()
        answer["From"] = offer.to_address
        answer["To"] = settings.smtp.from_address
        answer["Subject"] = f"回复：{offer.subject}"
        answer["Message-ID"] = make_msgid(domain="example.cn")
        answer["In-Reply-To"] = offer.message_id
        answer["References"] = f"{offer.references} {offer.message_id}".strip()
        answer.set_content("您好，\n\n同意方案 1，谢谢。\n\n发自我的iPhone\n", charset="utf-8")
    deliver(settings, [("consent.eml", bytes(answer))])
    print(f"\n{offer.to_address} answered the offer of claim {claim_id}: 同意方案 1")
    return claim_id


def _print_history(engine: Engine, claim_id: int) -> None:
    with database.session_scope(engine) as session:
        claim = session.get(Claim, claim_id)
        print(f"\nhistory of {claim.reference if claim else claim_id} (the audit log):")
        for event in store.history(session, claim_id=claim_id):
            move = f"{event.from_state} -> {event.to_state}" if event.to_state else event.event
            print(f"  {event.at:%H:%M:%S}  {event.actor:<16} {move:<36} {event.detail[:60]}")


def _serve(settings: Settings, engine: Engine, port: int) -> None:
    from bot.web.server import serve

    def ready(url: str) -> None:
        print(
            f"\napproval page: {url}\n  log in as demo-supervisor / {DEMO_PASSWORD} "
            "(also demo-manager and demo-agent, same password)"
        )
        print("Ctrl-C stops it.")

    with contextlib.suppress(KeyboardInterrupt):
        serve(settings, engine, settings.web.host, port, ready=ready, secure=False)


def _print_claims(engine: object) -> None:
    with database.session_scope(engine) as session:  # type: ignore[arg-type]
        for claim in store.claims(session):
            account = claim.account_login or "-"
            print(
                f"\n  {claim.reference}  {claim.language:<7} {claim.sender}  account {account}  "
                f"{claim.status}{'' if claim.sender_verified else ' (sender not verified)'}"
            )
            for row in store.claim_orders(session, claim_id=claim.id or 0):
                if row.outcome != "eligible":
                    print(f"      order {row.ticket}: {row.outcome}")
                    continue
                offers = []
                if row.best_price_amount is not None:
                    offers.append(
                        f"best price {row.best_price} -> {row.best_price_amount:,.2f} {row.currency}"
                    )
                if row.restore_amount is not None:
                    offers.append(f"restore -> {row.restore_amount:,.2f} {row.currency}")
                print(f"      order {row.ticket} (category {row.category}): {'; '.join(offers)}")


def _print_sent(engine: object, smtp: SmtpSink) -> None:
    with database.session_scope(engine) as session:  # type: ignore[arg-type]
        for reply in store.replies(session, statuses=[ReplyStatus.SENT]):
            print(f"  sent to {reply.to_address}: {reply.subject}\n      {reply.sent_path}")
    print(f"  the SMTP sink received {len(smtp.deliveries)} messages")


def _print_quarantine(engine: object) -> None:
    with database.session_scope(engine) as session:  # type: ignore[arg-type]
        held = store.quarantined(session)
        for message in held:
            print(f"quarantined for staff: {message.sender} '{message.subject}': {message.reason}")
