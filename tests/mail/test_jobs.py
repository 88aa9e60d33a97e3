"""The worker's jobs in APScheduler, kept in the claims database: they survive a restart with
their next run times, a run missed while the worker was down happens once, and
``claimsbot jobs`` lists them."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import Engine, text

from bot.cli import main
from bot.config import Settings
from bot.mail import jobs
from bot.storage import database, schema
from tests.conftest import make_settings

CONFIG = """data_dir = "{data_dir}"
[digest]
recipients = ["managers@broker.example"]
at = "07:30"
timezone = "Asia/Hong_Kong"
[deadlines]
timezone = "Asia/Hong_Kong"
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", digest={"recipients": ["managers@broker.example"], "at": "07:30"})


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return schema.open_engine(settings)


def scheduled(engine: Engine, settings: Settings) -> dict[str, datetime]:
    """Start a scheduler on the database (nothing runs at start), note its jobs, stop it."""
    scheduler = jobs.start(settings, engine, run_at_start=False)
    try:
        return {job.id: job.next_run_time for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown()


def stored_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM apscheduler_jobs")).scalar_one())


def test_a_restart_keeps_every_job_and_its_next_run_without_duplicates(
    settings: Settings, engine: Engine
) -> None:
    first = scheduled(engine, settings)
    assert set(first) == {"poll", "outbox", "reminders", "deadlines", "digest"}
    time.sleep(0.05)
    second = scheduled(engine, settings)
    assert second == first
    assert stored_rows(engine) == 5


def test_a_changed_setting_replaces_only_its_job_and_an_unconfigured_job_is_removed(
    settings: Settings, engine: Engine
) -> None:
    first = scheduled(engine, settings)
    changed = settings.model_copy(
        update={
            "jobs": settings.jobs.model_copy(update={"reminders_minutes": 5}),
            "digest": settings.digest.model_copy(update={"recipients": []}),
        }
    )
    second = scheduled(engine, changed)
    assert set(second) == {"poll", "outbox", "reminders", "deadlines"}
    assert second["deadlines"] == first["deadlines"]
    assert second["reminders"] != first["reminders"]
    assert stored_rows(engine) == 4


def test_the_digest_runs_at_the_configured_local_time(settings: Settings, engine: Engine) -> None:
    runs = scheduled(engine, settings)
    local = runs["digest"].astimezone(settings.digest.tz)
    assert (local.hour, local.minute) == (7, 30)
    assert runs["digest"] - datetime.now(UTC) <= timedelta(days=1)


def test_runs_missed_while_the_worker_was_down_happen_once(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.model_copy(update={"jobs": settings.jobs.model_copy(update={"reminders_minutes": 1})})
    calls: list[datetime] = []
    monkeypatch.setitem(
        jobs.JOBS, "reminders", lambda runner: (calls.append(datetime.now(UTC)), (True, ""))[1]
    )
    scheduled(engine, settings)
    # The worker was down for ten minutes: ten runs of a one-minute job were missed.
    stored = SQLAlchemyJobStore(engine=engine, tablename=jobs.TABLE)
    job = stored.lookup_job("reminders")
    assert job is not None
    job.next_run_time = datetime.now(UTC) - timedelta(minutes=10)
    stored.update_job(job)

    scheduler = jobs.start(settings, engine, run_at_start=False)
    try:
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        job = scheduler.get_job("reminders")
    finally:
        scheduler.shutdown()
    assert len(calls) == 1
    assert job.next_run_time > datetime.now(UTC)
    with database.session_scope(engine) as session:
        from bot.storage import runs

        last = runs.last_runs(session)["reminders"]
    assert last.ok and last.finished_at is not None


def test_a_job_another_worker_is_running_is_skipped(settings: Settings, engine: Engine) -> None:
    from bot.storage import locks

    runner = jobs.Runner(settings, engine)
    with locks.exclusive(engine, "job:deadlines") as held:
        assert held
        assert jobs.run_now(runner, "deadlines") == "running elsewhere"
    assert jobs.run_now(runner, "deadlines") == "0 claims"


def test_claimsbot_jobs_lists_each_job_with_its_next_run_in_utc_and_local_time(
    settings: Settings, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(data_dir=settings.data_dir))
    assert main(["jobs", "--config", str(config)]) == 0
    assert "no jobs scheduled yet" in capsys.readouterr().out

    runs = scheduled(engine, settings)
    assert main(["jobs", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "next run (UTC)" in out[0] and "Asia/Hong_Kong" in out[0]
    rows = {line.split()[0]: line for line in out[1:]}
    assert set(rows) == set(runs)
    digest = runs["digest"]
    assert f"{digest.astimezone(UTC):%Y-%m-%d %H:%M:%S}" in rows["digest"]
    assert f"{digest.astimezone(settings.digest.tz):%Y-%m-%d} 07:30:00" in rows["digest"]
    assert "cron[hour='7', minute='30']" in rows["digest"]
    assert "interval[0:01:00]" in rows["poll"]


def test_the_job_store_counts_no_job_twice_after_many_restarts(settings: Settings, engine: Engine) -> None:
    for _ in range(3):
        scheduled(engine, settings)
    with engine.connect() as connection:
        ids = connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all()
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 5


def test_a_run_due_as_the_worker_stops_is_let_go_without_an_error(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = jobs.make_scheduler(settings, engine)
    scheduler.start(paused=True)
    job = scheduler.add_job(jobs.run_job, "interval", seconds=60, args=["poll"], id="due-as-it-stops")
    executor = scheduler._lookup_executor("default")
    scheduler.shutdown(wait=True)
    # What the scheduler's thread does when it wakes between the stop and its end.
    with caplog.at_level(logging.DEBUG):
        executor.submit_job(job, [datetime.now(UTC)])
    assert "came due as the worker stopped" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
