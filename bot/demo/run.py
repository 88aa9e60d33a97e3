"""``claimsbot demo``: sample complaints through the real pipeline, real IMAP and SMTP, one process."""

from __future__ import annotations

import tempfile
from importlib.resources import files
from pathlib import Path

import imapclient

from bot import store
from bot.config import Settings, settings_from_mapping
from bot.cycle import run_cycle
from bot.demo.book import load_sample_book
from bot.demo.imap_server import EmbeddedImapServer
from bot.demo.smtp_sink import SmtpSink
from bot.tables import ReplyStatus


def sample_messages() -> list[tuple[str, bytes]]:
    folder = files("bot.demo") / "mail"
    return sorted((p.name, p.read_bytes()) for p in folder.iterdir() if p.name.endswith(".eml"))


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
        },
        source="demo",
    )


def deliver(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    """Put messages in the complaint mailbox, as the broker's mail server would."""
    with imapclient.IMAPClient(settings.imap.host, port=settings.imap.port, ssl=False, timeout=10) as client:
        client.login(settings.imap.username, settings.imap.password.get_secret_value())
        for _, raw in messages:
            client.append(settings.imap.folder, raw)


def run_demo(data_dir: Path | None) -> int:
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="claimsbot-demo-"))
    with EmbeddedImapServer() as imap, SmtpSink() as smtp:
        settings = demo_settings(data_dir, imap, smtp)
        engine = store.open_engine(settings)
        rows = load_sample_book(engine, data_dir / "book", settings.trade_server.tz)
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
        with store.session_scope(engine) as session:
            drafts = store.replies(session, statuses=[ReplyStatus.DRAFT])
            for reply in drafts:
                store.decide_reply(session, reply_id=reply.id or 0, approve=True, by="demo-staff")
        print(f"\nstaff approved {len(drafts)} drafted replies")
        second = run_cycle(settings, engine)
        print(f"cycle 2: {second.fetched} new messages, {second.sent} replies sent")
        _print_sent(engine, smtp)
        third = run_cycle(settings, engine)
        print(f"\ncycle 3 (nothing new): {third.fetched} new messages, {third.sent} replies sent")
        _print_quarantine(engine)
    print(f"\ndatabase and sent mail: {data_dir}")
    return 0


def _print_claims(engine: object) -> None:
    with store.session_scope(engine) as session:  # type: ignore[arg-type]
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
    with store.session_scope(engine) as session:  # type: ignore[arg-type]
        for reply in store.replies(session, statuses=[ReplyStatus.SENT]):
            print(f"  sent to {reply.to_address}: {reply.subject}\n      {reply.sent_path}")
    print(f"  the SMTP sink received {len(smtp.deliveries)} messages")


def _print_quarantine(engine: object) -> None:
    with store.session_scope(engine) as session:  # type: ignore[arg-type]
        held = store.quarantined(session)
        for message in held:
            print(f"quarantined for staff: {message.sender} '{message.subject}': {message.reason}")
