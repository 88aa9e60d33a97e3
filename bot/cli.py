"""The ``claimsbot`` command. Every failure a user can cause ends in one line, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bot.config import ConfigError, Settings, load_settings
from bot.draft import TemplateProblem
from bot.importer import ImportProblem
from bot.mailbox import MailboxError
from bot.outbox import OutboxError
from bot.store import StoreError

log = logging.getLogger("claimsbot")
EXPECTED = (ConfigError, MailboxError, OutboxError, StoreError, TemplateProblem, ImportProblem)
NEW_PASSWORD_VARIABLE = "CLAIMSBOT_NEW_USER_PASSWORD"


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
    parser = argparse.ArgumentParser(prog="claimsbot", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, handler: object, config: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if config:
            sub.add_argument("--config", type=Path, help="settings file (TOML); else CLAIMSBOT_* variables")
        sub.set_defaults(handler=handler)
        return sub

    run = command("run", "poll the complaint mailbox on a schedule (or once)", _run)
    run.add_argument("--once", action="store_true", help="run one cycle and exit")
    queue = command("queue", "list replies waiting for approval", _queue)
    queue.add_argument("--all", action="store_true", help="include approved, sent and rejected replies")
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        sub = command(name, f"{verb} a drafted reply", _approve if name == "approve" else _reject)
        sub.add_argument("reply_id", type=_reply_id, metavar="ID")
        sub.add_argument(
            "--by",
            required=True,
            metavar="NAME",
            help="the staff user deciding: their role decides what they may approve",
        )
        if name == "reject":
            sub.add_argument("--reason", required=True, help="why (recorded in the claim history)")
    settle = command("resolve", "settle a reply whose sending was interrupted or refused", _resolve)
    settle.add_argument("reply_id", type=_reply_id, metavar="ID")
    what = settle.add_mutually_exclusive_group(required=True)
    what.add_argument("--sent", action="store_true", help="it reached the client: mark it sent")
    what.add_argument("--resend", action="store_true", help="it did not: send it at the next cycle")
    settle.add_argument("--by", default="staff", help="who decides (recorded in the claim history)")
    command("quarantine", "list messages kept for a person to look at", _quarantine)
    feed = command("ingest", "run local messages (.eml, mbox, Maildir) through the pipeline", _ingest)
    feed.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    load = command("import", "load trade records from CSV files (kind recognised from the header)", _import)
    load.add_argument("files", type=Path, nargs="+", metavar="FILE")
    listing = command("claims", "list claims with their orders and amounts", _claims)
    listing.add_argument("--json", action="store_true", help="print one JSON object per claim, one per line")
    demo = command("demo", "run the whole pipeline on built-in sample data", _demo, config=False)
    demo.add_argument("--data-dir", type=Path, help="where to keep the database and sent mail")
    demo.add_argument("--serve", action="store_true", help="then leave the approval page running")
    demo.add_argument("--port", type=int, default=8080, help="port of the approval page (0: any free)")
    extract = command("extract", "show what the extractor reads in one .eml file", _extract, config=False)
    extract.add_argument("file", type=Path)
    extract.add_argument("--json", action="store_true", help="print one JSON object")
    web = command("serve", "serve the staff approval page (put it behind TLS)", _serve)
    web.add_argument("--host", help="address to listen on (default: [web] host)")
    web.add_argument("--port", type=int, help="port to listen on (default: [web] port; 0: any free port)")
    users = command("users", "manage the staff who log in to the approval page", _users_add, config=False)
    user_actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add_user = user_actions.add_parser(
        "add", help=f"add a person; the password is asked twice, or read from {NEW_PASSWORD_VARIABLE}"
    )
    add_user.add_argument("--config", type=Path, help="settings file (TOML); else CLAIMSBOT_* variables")
    add_user.add_argument("name", metavar="NAME")
    add_user.add_argument("--role", required=True, help="agent, supervisor or manager")
    db = command("db", "manage the database schema", _db_upgrade, config=False)
    db_actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_actions.add_parser("upgrade", help="create or upgrade the schema to this version's")
    upgrade.add_argument("--config", type=Path, help="settings file (TOML); else CLAIMSBOT_* variables")
    command("jobs", "list the worker's scheduled jobs and their next run", _jobs)
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
    complaints.add_argument("--config", type=Path, help="settings file (TOML); else CLAIMSBOT_* variables")
    complaints.add_argument(
        "--from", dest="start", required=True, metavar="DATE", help="first day, YYYY-MM-DD"
    )
    complaints.add_argument("--to", dest="end", required=True, metavar="DATE", help="last day, YYYY-MM-DD")
    complaints.add_argument(
        "--out", type=Path, metavar="FILE", help="write to FILE (default: standard output)"
    )
    command("status", "last poll, queue sizes, quarantine, oldest draft, claims, overdue", _status)
    return parser


def _configure_logging(verbose: bool, *, quiet: bool = False) -> None:
    from bot import logs

    logs.configure(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    for noisy in ("mailparser", "imapclient", "pymap", "mail.log", "apscheduler", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


def _reply_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a reply number") from None
    if not 0 < value < 2**31:
        raise argparse.ArgumentTypeError(f"{text} is not a reply number")
    return value


def _settings(args: argparse.Namespace) -> Settings:
    from bot import logs

    settings = load_settings(args.config)
    logs.hide_secrets(settings)
    return settings


def _fail(message: str) -> int:
    print(f"claimsbot: error: {message}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    from bot import jobs, runs
    from bot.cycle import CycleFailed, run_cycle
    from bot.draft import check_templates
    from bot.store import open_engine, session_scope
    from bot.tables import utcnow
    from bot.worker import Worker, describe, poll_mailbox

    settings = _settings(args)
    engine = open_engine(settings)
    check_templates(settings.templates_dir)
    if args.once:
        runs.ensure_tables(engine)
        with session_scope(engine) as session:
            runs.started(session, name="poll", at=utcnow())
        try:
            report = run_cycle(settings, engine)
        except CycleFailed as failed:
            with session_scope(engine) as session:
                runs.finished(session, name="poll", ok=False, detail=str(failed))
            print(describe(failed.report))
            raise MailboxError(str(failed)) from None
        with session_scope(engine) as session:
            runs.finished(session, name="poll", ok=True, detail=describe(report))
        print(describe(report))
        for problem in report.problems:
            print(f"claimsbot: warning: {problem}", file=sys.stderr)
        return 0

    worker = Worker(settings, engine, work=poll_mailbox)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("stopping after the current cycle and the jobs running now")
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler = jobs.start(settings, engine, worker=worker)
    if settings.imap.idle:
        wake = lambda: jobs.wake_poll(scheduler, worker)  # noqa: E731
        threading.Thread(target=worker.watch_for_mail, args=(wake,), name="idle", daemon=True).start()
    woken = ", woken by IDLE where the server offers it" if settings.imap.idle else ""
    log.info(
        "polling %s every %ss%s; jobs: %s",
        settings.imap.folder,
        settings.poll_seconds,
        woken,
        ", ".join(job.id for job in scheduler.get_jobs()),
    )
    jobs.serve_forever(scheduler, worker, stopping)
    return 0


def _queue(args: argparse.Namespace) -> int:
    from bot import store
    from bot.tables import ReplyStatus

    engine = store.open_engine(_settings(args), create=False)
    statuses = (
        None
        if args.all
        else [ReplyStatus.DRAFT, ReplyStatus.APPROVED, ReplyStatus.UNCERTAIN, ReplyStatus.FAILED]
    )
    with store.session_scope(engine) as session:
        rows = store.replies(session, statuses=statuses)
        if not rows:
            print("no replies waiting for approval")
        for reply in rows:
            print(
                f"{reply.id:>5}  {reply.status:<9} {reply.kind:<18} {reply.language:<8} "
                f"{reply.to_address}  {reply.subject}"
            )
            if reply.failure and reply.status in (
                ReplyStatus.UNCERTAIN,
                ReplyStatus.FAILED,
                ReplyStatus.APPROVED,
            ):
                print(f"       {reply.failure}")
    return 0


def _decide(args: argparse.Namespace, approve: bool) -> int:
    """The same rules as the approval page: the named person's role decides what they may approve."""
    from bot import approval, store

    settings = _settings(args)
    engine = store.open_engine(settings, create=False)
    try:
        with store.session_scope(engine) as session:
            user = store.staff_user(session, name=args.by)
            if user is None or not user.active:
                print(
                    f"claimsbot: error: no staff user {args.by!r}; add one with claimsbot users add",
                    file=sys.stderr,
                )
                return 2
            if approve:
                reply = approval.approve(session, settings, user, args.reply_id)
            else:
                reply = approval.reject(session, user, args.reply_id, reason=args.reason)
            summary = f"reply {reply.id} {reply.status}: {reply.subject}"
    except approval.NotAllowed as exc:
        print(f"claimsbot: error: {exc}", file=sys.stderr)
        return 1
    print(summary)
    return 0


def _approve(args: argparse.Namespace) -> int:
    return _decide(args, approve=True)


def _reject(args: argparse.Namespace) -> int:
    return _decide(args, approve=False)


def _resolve(args: argparse.Namespace) -> int:
    from bot import store

    settings = _settings(args)
    engine = store.open_engine(settings, create=False)
    with store.session_scope(engine) as session:
        reply = store.resolve_reply(
            session,
            reply_id=args.reply_id,
            delivered=args.sent,
            by=args.by,
            consent_days=settings.claims.consent_days,
        )
    if reply is None:
        print(f"claimsbot: error: reply {args.reply_id} is not uncertain or refused", file=sys.stderr)
        return 1
    print(f"reply {reply.id} {reply.status}: {reply.subject}")
    return 0


def _quarantine(args: argparse.Namespace) -> int:
    from bot import store

    engine = store.open_engine(_settings(args), create=False)
    with store.session_scope(engine) as session:
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
    from bot import store
    from bot.cycle import ingest
    from bot.draft import check_templates
    from bot.worker import describe

    settings = _settings(args)
    engine = store.open_engine(settings)
    check_templates(settings.templates_dir)
    print(describe(ingest(settings, engine, args.paths)).replace("cycle:", "ingest:"))
    return 0


def _import(args: argparse.Namespace) -> int:
    from bot import store
    from bot.importer import MAX_ERRORS_SHOWN, import_file

    settings = _settings(args)
    engine = store.open_engine(settings)
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


def _claims(args: argparse.Namespace) -> int:
    from bot import store
    from bot.report import claim_summaries

    engine = store.open_engine(_settings(args), create=False)
    with store.session_scope(engine) as session:
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


def _demo(args: argparse.Namespace) -> int:
    from bot.demo.run import run_demo

    return run_demo(args.data_dir, serve=args.serve, port=args.port)


def _extract(args: argparse.Namespace) -> int:
    from bot.extract import extract
    from bot.parse import Unreadable, parse

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


def _serve(args: argparse.Namespace) -> int:
    from bot import store
    from bot.draft import check_templates
    from bot.web import serve

    settings = _settings(args)
    engine = store.open_engine(settings)
    check_templates(settings.templates_dir)
    host = args.host or settings.web.host
    port = settings.web.port if args.port is None else args.port
    if not 0 <= port <= 65535:
        print(f"claimsbot: error: --port {port} is not a TCP port (0 to 65535)", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        print(f"approval page at {url} (Ctrl-C stops it)", flush=True)

    try:
        serve(settings, engine, host, port, ready=ready)
    except OSError as exc:
        print(f"claimsbot: error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _users_add(args: argparse.Namespace) -> int:
    """Add a person who may log in; every problem is one line and exit code 2."""
    from bot import approval, store

    def fail(message: str) -> int:
        print(f"claimsbot: error: {message}", file=sys.stderr)
        return 2

    if not args.name.strip():
        return fail("the name is empty")
    if args.role not in approval.ROLES:
        return fail(f"unknown role {args.role!r}; roles are: {', '.join(approval.ROLES)}")
    password = os.environ.get(NEW_PASSWORD_VARIABLE, "")
    if not password:
        import getpass

        try:
            password = getpass.getpass(f"password for {args.name}: ")
            again = getpass.getpass("the same password again: ")
        except EOFError:
            return fail(f"no password given (type it, or set {NEW_PASSWORD_VARIABLE})")
        if password != again:
            return fail("the two passwords differ; nothing was changed")
    try:
        engine = store.open_engine(_settings(args), create=False)
        with store.session_scope(engine) as session:
            user = approval.add_user(session, name=args.name.strip(), role=args.role, password=password)
    except (ValueError, StoreError) as exc:
        return fail(str(exc))
    print(f"added {user.name} ({user.role})")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    """Apply the Alembic migrations the database lacks (``alembic upgrade head``)."""
    from bot import migrations, store

    before, after = (", ".join(sorted(r)) for r in migrations.upgrade(store.make_engine(_settings(args))))
    if before == after:
        print(f"database schema already at revision {after}")
    else:
        print(f"database schema upgraded from revision {before or '(none)'} to {after}")
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from datetime import UTC

    from bot import jobs, store

    settings = _settings(args)
    try:
        found = jobs.stored_jobs(store.open_engine(settings, create=False))
    except StoreError as exc:
        return _fail(str(exc))
    if found is None:
        print("no jobs scheduled yet: `claimsbot run` schedules them")
        return 0
    zone = settings.deadlines.tz
    print(f"{'job':<10} {'trigger':<40} {'next run (UTC)':<20} next run ({zone})")
    for job in found:
        utc = f"{job.next_run.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if job.next_run else "paused"
        local = f"{job.next_run.astimezone(zone):%Y-%m-%d %H:%M:%S}" if job.next_run else "paused"
        print(f"{job.id:<10} {job.trigger:<40} {utc:<20} {local}")
    return 0


def _digest(args: argparse.Namespace) -> int:
    from bot import digest_mail, store
    from bot.tables import utcnow

    settings = _settings(args)
    try:
        engine = store.open_engine(settings, create=False)
        if args.preview:
            figures = digest_mail.write_preview(settings, engine, args.preview, now=utcnow())
            print(
                f"digest written to {args.preview}: {figures.new_claims} new claims, "
                f"{figures.drafts_waiting} drafts waiting, {figures.overdue} overdue"
            )
            return 0
        outcome = digest_mail.send(settings, engine, now=utcnow(), scheduled=False)
    except (StoreError, digest_mail.DigestError) as exc:
        return _fail(str(exc))
    print(outcome.detail)
    return 0


def _export(args: argparse.Namespace) -> int:
    from datetime import date

    from bot import store
    from bot.export import export_complaints

    try:
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError as exc:
        return _fail(f"dates are YYYY-MM-DD: {exc}")
    if end < start:
        return _fail(f"--to {end} is before --from {start}")
    settings = _settings(args)
    deadline = settings.deadlines
    try:
        engine = store.open_engine(settings, create=False)
        out = args.out.open("w", encoding="utf-8", newline="") if args.out else sys.stdout
    except StoreError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{args.out}: cannot write: {exc.strerror or exc}")
    try:
        with store.session_scope(engine) as session:
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
    from bot import status, store
    from bot.tables import utcnow

    settings = _settings(args)
    try:
        engine = store.open_engine(settings, create=False)
    except StoreError as exc:
        return _fail(str(exc))
    for line in status.lines(status.gather(settings, engine, now=utcnow()), settings.deadlines.tz):
        print(line)
    return 0
