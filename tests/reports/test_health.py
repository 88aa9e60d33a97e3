"""``claimsbot health`` from the jobs' heartbeat: a poll running, late, failed, and replies the
mail server keeps refusing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from bot.config import Settings
from bot.reports import health
from bot.storage import database, runs, store
from bot.storage.tables import Reply, ReplyStatus, utcnow
from tests.claims.conftest import open_claim
from tests.conftest import make_settings


def beat(engine: Engine, name: str, *, started: int, finished: int | None, ok: bool = True) -> None:
    now = utcnow()
    runs.ensure_tables(engine)
    with database.session_scope(engine) as session:
        runs.started(session, name=name, at=now - timedelta(seconds=started))
    if finished is not None:
        with database.session_scope(engine) as session:
            runs.finished(session, name=name, ok=ok, detail="" if ok else "IMAP refused")
        with database.session_scope(engine) as session:
            session.execute(
                runs.job_run.update()
                .where(runs.job_run.c.name == name)
                .values(finished_at=now - timedelta(seconds=finished))
            )


def test_health_follows_the_poll_and_the_mail_server(book_engine: Engine, tmp_path: Path) -> None:
    settings: Settings = make_settings(tmp_path / "data", poll_seconds=60)
    check = lambda: health.check(settings, book_engine, now=utcnow())  # noqa: E731
    assert not check().healthy and "not polled" in check().why
    beat(book_engine, "poll", started=30, finished=20)
    assert check().healthy
    beat(book_engine, "poll", started=600, finished=590)
    assert not check().healthy and "no poll for 590 s" in check().why
    beat(book_engine, "poll", started=5, finished=None)
    assert check().healthy and "running" in check().why, "a poll in progress"
    beat(book_engine, "poll", started=3600, finished=None)
    assert not check().healthy, "a poll stuck for an hour"
    beat(book_engine, "poll", started=30, finished=20, ok=False)
    assert not check().healthy and check().why == "the last poll failed: IMAP refused"
    assert "why" not in check().public()

    beat(book_engine, "poll", started=30, finished=20)
    claim_id = open_claim(book_engine, settings)
    with database.session_scope(book_engine) as session:
        reply = next(r for r in store.replies(session) if r.claim_id == claim_id)
        reply.status, reply.failure = ReplyStatus.APPROVED, "535 5.7.3 Authentication unsuccessful"
        session.add(reply)
    assert not check().healthy and "535 5.7.3" in check().why and check().backlog == 1
    with database.session_scope(book_engine) as session:
        session.get(Reply, reply.id).failure = ""  # type: ignore[union-attr]
    assert check().healthy
