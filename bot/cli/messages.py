"""Messages outside the mailbox's own flow: ``quarantine`` lists those kept for a person,
``others`` those about something else than the outage,
``ingest`` runs local files through the pipeline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.common import Command, settings_of
from bot.storage import database, schema


def register(command: Command) -> None:
    command("quarantine", "list messages kept for a person to look at", _quarantine)
    command("others", "list messages about something else than the outage, for a person to answer", _others)
    feed = command("ingest", "run local messages (.eml, mbox, Maildir) through the pipeline", _ingest)
    feed.add_argument("paths", type=Path, nargs="+", metavar="PATH")


def _quarantine(args: argparse.Namespace) -> int:
    from bot.storage import store

    engine = schema.open_engine(settings_of(args), create=False)
    with database.session_scope(engine) as session:
        rows = store.quarantined(session)
        if not rows:
            print("no messages in quarantine")
        for message in rows:
            print(
                f"{message.id:>5}  {message.received_at:%Y-%m-%d %H:%M}  {message.sender or '?'}  "
                f"{message.subject or '(no subject)'}\n       reason: {message.reason}"
            )
    return 0


def _others(args: argparse.Namespace) -> int:
    """Deposits, withdrawals, logins...: no claim letter answers them, so they are listed with
    the accounts they name for staff to answer by hand."""
    import json

    from bot.storage import store

    engine = schema.open_engine(settings_of(args), create=False)
    with database.session_scope(engine) as session:
        rows = store.messages_with_status(session, status="not_complaint")
        if not rows:
            print("no messages about other topics")
        for message in rows:
            try:
                marks = json.loads(message.evidence) if message.evidence else []
            except ValueError:
                marks = []
            accounts = ", ".join(m["number"] for m in marks if m.get("kind") == "account") or "none named"
            print(
                f"{message.id:>5}  {message.received_at:%Y-%m-%d %H:%M}  {message.sender or '?'}  "
                f"{message.subject or '(no subject)'}\n       {message.reason}; accounts: {accounts}"
            )
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from bot.mail.local import ingest
    from bot.mail.worker import describe
    from bot.stages.draft import check_templates

    settings = settings_of(args)
    engine = schema.open_engine(settings)
    check_templates(settings.templates_dir)
    done = ingest(settings, engine, args.paths, progress=sys.stderr.isatty())
    print(describe(done).replace("cycle:", "ingest:"))
    return 0
