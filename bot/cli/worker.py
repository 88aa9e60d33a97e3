"""The worker: ``claimsbot run`` and the list of its scheduled jobs."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
from types import FrameType

from bot.cli.common import Command, fail, settings_of
from bot.mail.mailbox import MailboxError
from bot.storage import schema
from bot.storage.database import StoreError

log = logging.getLogger("claimsbot")


def register(command: Command) -> None:
    run = command("run", "poll the complaint mailbox on a schedule (or once)", _run)
    run.add_argument("--once", action="store_true", help="run one cycle and exit")
    command("jobs", "list the worker's scheduled jobs and their next run", _jobs)


# New container objects between two runs of the cyclic garbage collector: Python's default is 700.
COLLECT_EVERY = 10_000


def _collect_less() -> None:
    """A batch makes hundreds of thousands of objects, nearly all freed by their reference
    counts. With Python's defaults the collector took 2.0 s of a 20,000-message storm's 28 s of
    the worker's CPU, 1.2 s of it scanning the oldest generation, which holds what the worker
    keeps for its whole life (modules, settings, templates): that is frozen out of the scans,
    and the collector runs every ``COLLECT_EVERY`` new objects (0.5 s over the same storm)."""
    gc.freeze()
    gc.set_threshold(COLLECT_EVERY, *gc.get_threshold()[1:])


def _run(args: argparse.Namespace) -> int:
    from bot.mail import jobs
    from bot.mail.cycle import CycleFailed, run_cycle
    from bot.mail.worker import Worker, describe, poll_mailbox
    from bot.stages.draft import check_templates
    from bot.storage import runs
    from bot.storage.database import session_scope
    from bot.storage.tables import utcnow

    settings = settings_of(args)
    engine = schema.open_engine(settings)
    check_templates(settings.templates_dir)
    _collect_less()
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


def _jobs(args: argparse.Namespace) -> int:
    from datetime import UTC

    from bot.mail import jobs

    settings = settings_of(args)
    try:
        found = jobs.stored_jobs(schema.open_engine(settings, create=False))
    except StoreError as exc:
        return fail(str(exc))
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
