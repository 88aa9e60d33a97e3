"""``claimsbot demo``: the whole pipeline on built-in sample data."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import Command


def register(command: Command) -> None:
    demo = command("demo", "run the whole pipeline on built-in sample data", _demo, config=False)
    demo.add_argument("--data-dir", type=Path, help="where to keep the database and sent mail")
    demo.add_argument("--serve", action="store_true", help="then leave the approval page running")
    demo.add_argument("--port", type=int, default=8080, help="port of the approval page (0: any free)")


def _demo(args: argparse.Namespace) -> int:
    from bot.demo.run import run_demo

    return run_demo(args.data_dir, serve=args.serve, port=args.port)
