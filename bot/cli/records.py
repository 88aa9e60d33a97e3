"""``claimsbot import``: the broker's trade records, from CSV files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.common import Command, settings_of
from bot.storage import schema


def register(command: Command) -> None:
    load = command("import", "load trade records from CSV files (kind recognised from the header)", _import)
    load.add_argument("files", type=Path, nargs="+", metavar="FILE")


def _import(args: argparse.Namespace) -> int:
    from bot.records.importer import MAX_ERRORS_SHOWN, import_file

    settings = settings_of(args)
    engine = schema.open_engine(settings)
    rejected = 0
    for path in args.files:
        report = import_file(engine, path, settings.trade_server.tz, progress=sys.stderr.isatty())
        print(report.summary())
        for error in report.errors[:MAX_ERRORS_SHOWN]:
            print(f"  {error}")
        if len(report.errors) > MAX_ERRORS_SHOWN:
            print(f"  ... and {len(report.errors) - MAX_ERRORS_SHOWN} more rejected rows")
        rejected += len(report.errors)
    return 1 if rejected else 0
