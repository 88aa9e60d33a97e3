"""The worker's recurring jobs, run by APScheduler and kept in the database.

=============  ===========================================  ==========================================
job            when                                         what
=============  ===========================================  ==========================================
``poll``       every ``poll_seconds`` (and when IDLE sees   read new mail and process it
               mail)
``outbox``     every ``[jobs] outbox_seconds``              send approved replies, copy them to Sent
``reminders``  every ``[jobs] reminders_minutes``           one reminder per unanswered offer
``deadlines``  every ``[jobs] deadlines_minutes``           one delay letter before a deadline is missed
``digest``     daily at ``[digest] at`` in its time zone    the managers' digest (only with recipients)
=============  ===========================================  ==========================================

The jobs live in the ``apscheduler_jobs`` table of the claims database, so a restart keeps each
job's next run time: at start a job whose trigger is unchanged is left as it is, a changed one
is replaced, one no longer configured is removed. ``poll`` and ``outbox`` run at once at start,
as the worker always did. A run missed while the worker was down happens once (coalesced), if it
is at most ``[jobs] misfire_grace_seconds`` late.

Each run holds the database lock ``job:<name>`` (``bot.storage.locks``), so two workers on one
database never run the same job at once, and the job functions (``bot.mail.worker``,
``bot.claims.reminders``, ``bot.mail.digest_mail``) are safe to run twice. The scheduler only triggers.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, inspect

from bot.claims import reminders
from bot.config import Settings
from bot.mail.cycle import CycleReport, keep_sent_copies, take_share
from bot.mail.outbox import send_approved
from bot.mail.shared import sharing
from bot.mail.worker import Worker, describe, poll_mailbox
from bot.storage import database, locks, runs
from bot.storage.tables import utcnow

log = logging.getLogger(__name__)
TABLE = "apscheduler_jobs"
NAMES = ("poll", "outbox", "reminders", "deadlines", "digest")
RUN_AT_START = ("poll", "outbox")


@dataclass(frozen=True)
class JobInfo:
    id: str
    trigger: str
    next_run: datetime | None


class Runner:
    """What the jobs run with: the settings, the engine and the worker that polls."""

    def __init__(self, settings: Settings, engine: Engine, worker: Worker | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.worker = worker or Worker(settings, engine, work=poll_mailbox)
        runs.ensure_tables(engine)


# The job store keeps a reference to ``run_job`` and the job's name, never the settings or the
# engine (an engine cannot be pickled): ``start`` puts the process's runner here.
_runner: Runner | None = None


def run_job(name: str) -> None:
    """What the scheduler calls: one job under its lock, its outcome recorded, never raising."""
    runner = _runner
    if runner is None:
        log.error("job %s triggered before the worker started; skipped", name)
        return
    run_now(runner, name)


def run_now(runner: Runner, name: str) -> str:
    """Run one job now (under its lock) and return what it did."""
    with locks.exclusive(runner.engine, f"job:{name}") as held:
        if not held:
            if name == "poll" and sharing(runner.settings, runner.engine):
                return share(runner)
            log.info("job %s is running elsewhere; skipped", name, extra={"job": name})
            return "running elsewhere"
        with database.session_scope(runner.engine) as session:
            runs.started(session, name=name, at=utcnow())
        ok, detail = True, ""
        try:
            ok, detail = JOBS[name](runner)
        except Exception as exc:
            ok, detail = False, f"failed on our side ({exc.__class__.__name__}: {exc})"
            log.error("job %s failed: %s", name, exc.__class__.__name__, extra={"job": name})
            log.debug("details", exc_info=True)
        with database.session_scope(runner.engine) as session:
            runs.finished(session, name=name, ok=ok, detail=detail)
        return detail


def share(runner: Runner) -> str:
    """While another worker polls, store this worker's share of what it fetched (PostgreSQL)."""
    report = CycleReport()
    try:
        take_share(runner.settings, runner.engine, report)
    except Exception as exc:
        log.error("shared stage work failed: %s", exc.__class__.__name__, extra={"job": "poll"})
        log.debug("details", exc_info=True)
        return "shared stage work failed"
    if report.fetched:
        log.info(describe(report), extra={"job": "poll"})
    return f"{report.fetched} stored from the shared intake"


def poll(runner: Runner) -> tuple[bool, str]:
    runner.worker.cycle()
    return not runner.worker.problem, runner.worker.problem


def outbox(runner: Runner) -> tuple[bool, str]:
    outgoing = send_approved(runner.engine, runner.settings)
    copies = keep_sent_copies(runner.settings, outgoing)
    problems = "; ".join(p for p in (outgoing.problem, copies) if p)
    if outgoing.sent or outgoing.failed or outgoing.uncertain:
        log.info(
            "outbox: %s sent, %s refused, %s need a person",
            len(outgoing.sent),
            outgoing.failed,
            outgoing.uncertain,
            extra={"job": "outbox"},
        )
    if problems:
        log.warning("outbox: %s", problems, extra={"job": "outbox"})
    return not problems, problems or f"{len(outgoing.sent)} sent"


def _letters(runner: Runner, draft: Callable[..., list[reminders.Drafted]], what: str) -> tuple[bool, str]:
    with database.session_scope(runner.engine) as session:
        done = draft(session, runner.settings, now=utcnow())
    for item in done:
        log.info(
            "%s: %s%s",
            what,
            item.event,
            f", reply {item.reply_id} drafted" if item.reply_id else ", no reply drafted",
            extra={"claim": item.reference, "job": what},
        )
    return True, f"{len(done)} claims"


def remind(runner: Runner) -> tuple[bool, str]:
    return _letters(runner, reminders.draft_reminders, "reminders")


def warn_deadlines(runner: Runner) -> tuple[bool, str]:
    """Delay letters before deadlines are missed, and acknowledgements owed after all."""
    _letters(runner, reminders.draft_owed_acknowledgements, "deadlines")
    return _letters(runner, reminders.draft_delay_letters, "deadlines")


def send_digest(runner: Runner) -> tuple[bool, str]:
    from bot.mail.digest_mail import DigestError, send

    try:
        outcome = send(runner.settings, runner.engine, now=utcnow(), scheduled=True)
    except DigestError as exc:
        log.warning("digest not sent: %s", exc, extra={"job": "digest"})
        return False, str(exc)
    return True, outcome.detail


JOBS: dict[str, Callable[[Runner], tuple[bool, str]]] = {
    "poll": poll,
    "outbox": outbox,
    "reminders": remind,
    "deadlines": warn_deadlines,
    "digest": send_digest,
}


def triggers(settings: Settings) -> dict[str, BaseTrigger]:
    """Each configured job's trigger; no digest without recipients."""
    jobs = settings.jobs
    found: dict[str, BaseTrigger] = {
        "poll": IntervalTrigger(seconds=settings.poll_seconds, timezone=UTC),
        "outbox": IntervalTrigger(seconds=jobs.outbox_seconds, timezone=UTC),
        "reminders": IntervalTrigger(minutes=jobs.reminders_minutes, timezone=UTC),
        "deadlines": IntervalTrigger(minutes=jobs.deadlines_minutes, timezone=UTC),
    }
    if settings.digest.recipients:
        hour, minute = settings.digest.hour_minute
        found["digest"] = CronTrigger(hour=hour, minute=minute, timezone=settings.digest.tz)
    return found


def _same(old: BaseTrigger, new: BaseTrigger) -> bool:
    return (
        type(old) is type(new)
        and str(old) == str(new)
        and str(getattr(old, "timezone", "")) == str(getattr(new, "timezone", ""))
    )


class _Executor(ThreadPoolExecutor):
    """APScheduler's thread pool, except that a run handed over after it has shut down is let go
    with a debug line: its scheduler can wake for a due job between being told to stop and
    stopping (``_process_jobs`` checks for a pause, not a stop), and would log the refusal as
    an error with a traceback on every such stop."""

    _stopped = False

    def shutdown(self, wait: bool = True) -> None:
        self._stopped = True
        super().shutdown(wait)

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        if self._stopped:
            log.debug("job %s came due as the worker stopped; left to the next run", job.id)
            return
        super()._do_submit_job(job, run_times)


def make_scheduler(settings: Settings, engine: Engine) -> BackgroundScheduler:
    defaults = {
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": settings.jobs.misfire_grace_seconds,
    }
    store = SQLAlchemyJobStore(engine=engine, tablename=TABLE)
    # Made before the scheduler's start would: workers starting together take turns.
    locks.create_missing(engine, store.jobs_t.metadata)
    return BackgroundScheduler(
        jobstores={"default": store}, executors={"default": _Executor()}, job_defaults=defaults, timezone=UTC
    )


def start(
    settings: Settings, engine: Engine, *, worker: Worker | None = None, run_at_start: bool = True
) -> BackgroundScheduler:
    """Start the scheduler with the configured jobs, keeping the stored jobs' next run times."""
    global _runner
    _runner = Runner(settings, engine, worker)
    scheduler = make_scheduler(settings, engine)
    scheduler.start(paused=True)
    sync(scheduler, settings)
    if run_at_start:
        now = datetime.now(UTC)
        for name in RUN_AT_START:
            scheduler.modify_job(name, next_run_time=now)
    scheduler.resume()
    return scheduler


def sync(scheduler: BackgroundScheduler, settings: Settings) -> None:
    """Make the stored jobs match the settings, leaving unchanged ones (and their next run) alone."""
    wanted = triggers(settings)
    stored = {job.id: job for job in scheduler.get_jobs()}
    for job_id in stored.keys() - wanted.keys():
        scheduler.remove_job(job_id)
        log.info("job %s removed (no longer configured)", job_id)
    grace = settings.jobs.misfire_grace_seconds
    for name, trigger in wanted.items():
        job = stored.get(name)
        if job is not None and _same(job.trigger, trigger) and job.func_ref == f"{__name__}:run_job":
            if job.misfire_grace_time != grace:
                scheduler.modify_job(name, misfire_grace_time=grace)
            continue
        scheduler.add_job(run_job, trigger, args=[name], id=name, name=name, replace_existing=True)


def wake_poll(scheduler: BackgroundScheduler, worker: Worker) -> None:
    """New mail: poll now (a poll already running runs once more)."""
    worker.request()
    with contextlib.suppress(JobLookupError, SchedulerNotRunningError):  # stopping
        scheduler.modify_job("poll", next_run_time=datetime.now(UTC))


def stored_jobs(engine: Engine) -> list[JobInfo] | None:
    """The jobs in the database with their next run, without starting a scheduler; None when no
    worker has run on this database yet."""
    if not inspect(engine).has_table(TABLE):
        return None
    jobstore = SQLAlchemyJobStore(engine=engine, tablename=TABLE)
    jobs: list[Job] = jobstore.get_all_jobs()
    return [JobInfo(job.id, str(job.trigger), job.next_run_time) for job in jobs]


def serve_forever(scheduler: BackgroundScheduler, worker: Worker, stop: threading.Event) -> None:
    """Wait until ``stop`` is set, then let running jobs finish and stop the scheduler."""
    while not stop.wait(1.0):
        pass
    worker.stop.set()
    # Paused first, no run is handed to the executors while they shut down (APScheduler would
    # log "cannot schedule new futures after shutdown" with a traceback); one already on its
    # way is let go by ``_Executor``.
    scheduler.pause()
    scheduler.shutdown(wait=True)
