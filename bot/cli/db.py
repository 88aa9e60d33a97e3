"""``claimsbot db upgrade``: the database schema."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import CONFIG_HELP, Command, settings_of
from bot.storage import database


def register(command: Command) -> None:
    db = command("db", "manage the database schema", _db_upgrade, config=False)
    db_actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_actions.add_parser("upgrade", help="create or upgrade the schema to this version's")
    upgrade.add_argument("--config", type=Path, help=CONFIG_HELP)


def _db_upgrade(args: argparse.Namespace) -> int:
    """Apply the Alembic migrations the database lacks (``alembic upgrade head``)."""
    from bot.storage import migrations

    before, after = (
        ", ".join(sorted(r)) for r in migrations.upgrade(database.make_engine(settings_of(args)))
    )
    if before == after:
        print(f"database schema already at revision {after}")
    else:
        print(f"database schema upgraded from revision {before or '(none)'} to {after}")
    return 0
