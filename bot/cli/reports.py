"""What the bot knows, read out: ``claims``, ``extract``, ``digest``, ``export``, ``status``, ``health``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.cli.common import CONFIG_HELP, Command, fail, settings_of
from bot.storage import database, schema
from bot.storage.database import StoreError


def register(command: Command) -> None:
    listing = command("claims", "list claims with their orders and amounts", _claims)
    listing.add_argument("--json", action="store_true", help="print one JSON object per claim, one per line")
    extract = command("extract", "show what the extractor reads in one .eml file", _extract, config=False)
    extract.add_argument("file", type=Path)
    extract.add_argument("--json", action="store_true", help="print one JSON object")
    digest = command("digest", "the managers' daily digest: look at it, or send it now", _digest)
    digest_action = digest.add_mutually_exclusive_group(required=True)
    digest_action.add_argument(
        "--preview", type=Path, metavar="FILE", help="write it to FILE.eml (as sent) or FILE.html"
    )
    digest_action.add_argument("--send", action="store_true", help="send it now to [digest] recipients")
    export = command("export", "export data for reporting", _export, config=False)
    export_what = export.add_subparsers(dest="export_command", required=True, metavar="WHAT")
    complaints = export_what.add_parser(
        "complaints", help="the complaints register as CSV, one row per claim received in the period"
    )
    complaints.add_argument("--config", type=Path, help=CONFIG_HELP)
    complaints.add_argument(
        "--from", dest="start", required=True, metavar="DATE", help="first day, YYYY-MM-DD"
    )
    complaints.add_argument("--to", dest="end", required=True, metavar="DATE", help="last day, YYYY-MM-DD")
    complaints.add_argument(
        "--out", type=Path, metavar="FILE", help="write to FILE (default: standard output)"
    )
    command("status", "last poll, queue sizes, quarantine, oldest draft, claims, overdue", _status)
    health = command(
        "health",
        "exit 0 if the worker polls and sends as it should, 1 if not (for systemd, containers)",
        _health,
    )
    health.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def _claims(args: argparse.Namespace) -> int:
    from bot.reports.report import claim_summaries

    engine = schema.open_engine(settings_of(args), create=False)
    with database.session_scope(engine) as session:
        summaries = claim_summaries(session)
    for summary in summaries:
        if args.json:
            print(json.dumps(summary, ensure_ascii=False))
            continue
        totals = ", ".join(f"{amount} {ccy}" for ccy, amount in summary["total"].items()) or "-"
        print(
            f"{summary['reference']}  {summary['status']:<17} {summary['language']:<7} "
            f"{summary['sender']}  account {summary['account'] or '-'}  total {totals}"
        )
        for order in summary["orders"]:
            offers = "; ".join(f"{r['remedy']} {r['amount']} {r['currency']}" for r in order["remedies"])
            print(
                f"    {order['ticket']}  {order['reason'] or 'eligible, category ' + str(order['category'])}"
                f"{'  ' + offers if offers else ''}"
            )
    if not summaries and not args.json:
        print("no claims")
    return 0


def _extract(args: argparse.Namespace) -> int:
    from bot.stages.extract import extract
    from bot.stages.parse import Unreadable, parse

    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        print(f"claimsbot: error: {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        found = extract(parse(raw))
    except Unreadable as exc:
        print(f"claimsbot: error: {args.file}: unreadable: {exc}", file=sys.stderr)
        return 1
    summary = {
        "language": found.language,
        "name": found.name,
        "accounts": found.account_numbers(),
        "orders": found.order_numbers(),
        "request": found.request,
        "consent": found.consent.answer,
        "evidence": {
            "name": found.name_evidence,
            "accounts": {c.value: c.evidence for c in found.accounts if c.confidence >= 0.5},
            "orders": {c.value: c.evidence for c in found.orders if c.confidence >= 0.5},
            "request": found.request_evidence,
            "consent": found.consent.evidence,
        },
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for key in ("language", "name", "accounts", "orders", "request"):
            print(f"{key:<9} {summary[key]}")
    return 0


def _digest(args: argparse.Namespace) -> int:
    from bot.mail import digest_mail
    from bot.storage.tables import utcnow

    settings = settings_of(args)
    try:
        engine = schema.open_engine(settings, create=False)
        if args.preview:
            figures = digest_mail.write_preview(settings, engine, args.preview, now=utcnow())
            print(
                f"digest written to {args.preview}: {figures.new_claims} new claims, "
                f"{figures.drafts_waiting} drafts waiting, {figures.overdue} overdue"
            )
            return 0
        outcome = digest_mail.send(settings, engine, now=utcnow(), scheduled=False)
    except (StoreError, digest_mail.DigestError) as exc:
        return fail(str(exc))
    print(outcome.detail)
    return 0


def _export(args: argparse.Namespace) -> int:
    from datetime import date

    from bot.reports.export import export_complaints

    try:
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError as exc:
        return fail(f"dates are YYYY-MM-DD: {exc}")
    if end < start:
        return fail(f"--to {end} is before --from {start}")
    settings = settings_of(args)
    deadline = settings.deadlines
    try:
        engine = schema.open_engine(settings, create=False)
        out = args.out.open("w", encoding="utf-8", newline="") if args.out else sys.stdout
    except StoreError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"{args.out}: cannot write: {exc.strerror or exc}")
    try:
        with database.session_scope(engine) as session:
            rows = export_complaints(
                session, start, end, out, deadline.rules, tz=deadline.tz, holidays=deadline.holidays
            )
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"{rows} complaints written to {args.out}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from bot.reports import status
    from bot.storage.tables import utcnow

    settings = settings_of(args)
    try:
        engine = schema.open_engine(settings, create=False)
    except StoreError as exc:
        return fail(str(exc))
    for line in status.lines(status.gather(settings, engine, now=utcnow()), settings.deadlines.tz):
        print(line)
    return 0


def _health(args: argparse.Namespace) -> int:
    from bot.reports import health
    from bot.storage.tables import utcnow

    settings = settings_of(args)
    # A database that cannot be opened ends in main's one-line error, exit 1: unhealthy too.
    found = health.check(settings, schema.open_engine(settings, create=False), now=utcnow())
    if args.json:
        print(json.dumps(found.as_dict()))
    else:
        state = "healthy" if found.healthy else "unhealthy"
        print(f"{state}: {found.why}; {found.backlog} replies waiting to be sent")
    return 0 if found.healthy else 1
