"""``claimsbot db upgrade``: the database schema; ``claimsbot backup DIR``: a copy to restore."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import CONFIG_HELP, Command, fail, settings_of
from bot.storage import database


def register(command: Command) -> None:
    db = command("db", "manage the database schema", _db_upgrade, config=False)
    db_actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_actions.add_parser("upgrade", help="create or upgrade the schema to this version's")
    upgrade.add_argument("--config", type=Path, help=CONFIG_HELP)
    copy = command(
        "backup",
        "copy the database (SQLite, online) and the kept message files to DIR, while the worker runs",
        _backup,
    )
    copy.add_argument("directory", type=Path, metavar="DIR", help="where the copy goes (created if missing)")


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


def _backup(args: argparse.Namespace) -> int:
    from bot.storage.backup import BackupError, backup

    try:
        report = backup(settings_of(args), args.directory)
    except BackupError as exc:
        return fail(str(exc))
    if report.database:
        print(f"database copied to {report.database} (integrity checked)")
    if report.note:
        print(report.note)
    for folder, count in report.files.items():
        print(f"{folder}: {count} new files copied")
    return 0
