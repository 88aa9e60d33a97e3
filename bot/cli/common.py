"""What every command shares: its settings, the one-line failure, and how it adds itself to the parser."""

from __future__ import annotations

import argparse
import sys
from typing import Protocol

from bot.cli import logs
from bot.config import Settings, load_settings

NEW_PASSWORD_VARIABLE = "CLAIMSBOT_NEW_USER_PASSWORD"
CONFIG_HELP = "settings file (TOML); else CLAIMSBOT_* variables"


class Command(Protocol):
    """Adds a subcommand (with ``--config`` unless told not to) that runs ``handler``."""

    def __call__(
        self, name: str, help_text: str, handler: object, config: bool = True
    ) -> argparse.ArgumentParser: ...


def reply_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a reply number") from None
    if not 0 < value < 2**31:
        raise argparse.ArgumentTypeError(f"{text} is not a reply number")
    return value


def settings_of(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    logs.hide_secrets(settings)
    return settings


def fail(message: str) -> int:
    print(f"claimsbot: error: {message}", file=sys.stderr)
    return 2
