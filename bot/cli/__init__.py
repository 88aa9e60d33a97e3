"""The ``claimsbot`` command. Every failure a user can cause ends in one line, never a traceback.

Each module here is one group of subcommands with a ``register`` that adds them to the parser;
``main`` turns the errors a user can cause into that one line. The top layer: may import any
part of the bot, and nothing imports it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli import db, demo, letters, logs, messages, records, replies, reports, web, worker
from bot.cli.common import CONFIG_HELP
from bot.cli.examples import EXAMPLES
from bot.config import ConfigError
from bot.mail.mailbox import MailboxError
from bot.mail.outbox import OutboxError
from bot.records.importer import ImportProblem
from bot.stages.draft import TemplateProblem
from bot.storage.database import StoreError

log = logging.getLogger("claimsbot")
EXPECTED = (ConfigError, MailboxError, OutboxError, StoreError, TemplateProblem, ImportProblem)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, quiet=args.command in {"demo", "extract"})
    try:
        return int(args.handler(args))
    except EXPECTED as exc:
        print(f"claimsbot: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except Exception as exc:
        log.debug("internal error", exc_info=True)
        print(
            f"claimsbot: internal error: {exc.__class__.__name__} (run with -v for details)", file=sys.stderr
        )
        return 70


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claimsbot", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, handler: object, config: bool = True) -> argparse.ArgumentParser:
        example = EXAMPLES.get(name)
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}" if example else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if config:
            sub.add_argument("--config", type=Path, help=CONFIG_HELP)
        sub.set_defaults(handler=handler)
        return sub

    for group in (worker, replies, messages, records, reports, letters, demo, web, db):
        group.register(command)
    return parser


def _configure_logging(verbose: bool, *, quiet: bool = False) -> None:
    logs.configure(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    for noisy in ("mailparser", "imapclient", "pymap", "mail.log", "apscheduler", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
