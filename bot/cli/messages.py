"""Messages outside the mailbox's own flow: ``quarantine`` lists those kept for a person,
``ingest`` runs local files through the pipeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import Command, settings_of
from bot.storage import database, schema


def register(command: Command) -> None:
    command("quarantine", "list messages kept for a person to look at", _quarantine)
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


def _ingest(args: argparse.Namespace) -> int:
    from bot.mail.cycle import ingest
    from bot.mail.worker import describe
    from bot.stages.draft import check_templates

    settings = settings_of(args)
    engine = schema.open_engine(settings)
    check_templates(settings.templates_dir)
    print(describe(ingest(settings, engine, args.paths)).replace("cycle:", "ingest:"))
    return 0
