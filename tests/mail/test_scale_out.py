"""Several workers on one PostgreSQL database and one mailbox, as the scale-out deployment runs them."""

from __future__ import annotations

import email
import random
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, text
from sqlmodel import select

from bot.cli import main
from bot.config import Settings
from bot.demo.book import load_sample_book
from bot.demo.run import deliver
from bot.demo.smtp_sink import SmtpSink
from bot.mail.cycle import mailbox_lock, run_cycle
from bot.mail.outbox import send_approved
from bot.storage import database, locks, schema
from bot.storage.tables import Claim, InboundMessage, Reply, ReplyStatus
from tests.conftest import approve_all
from tests.mail.test_worker import start_worker, wait_for, worker_config
from tests.messages import from_each, variants
from tests.servers.dovecot import DovecotServer

COMPLAINTS = [
    "en-alice-best-price.eml",
    "zh-hans-gbk-under-gb2312-label.eml",
    "zh-hant-big5.eml",
    "en-unverified-sender.eml",
]
SETTLED = (ReplyStatus.SENT, ReplyStatus.UNCERTAIN)


def progress(engine: Engine) -> tuple[int, int]:
    """Messages stored, and replies not yet sent (or given up as uncertain)."""
    with database.session_scope(engine) as session:
        stored = session.exec(select(func.count(InboundMessage.id))).one()
        open_replies = session.exec(
            select(func.count(Reply.id)).where(Reply.status.not_in(SETTLED))  # type: ignore[attr-defined]
        ).one()
    return stored, open_replies


def lock_holder(engine: Engine, name: str) -> str | None:
    """The application_name of the PostgreSQL session holding the advisory lock ``name``."""
    unsigned = locks.key(name) & 0xFFFFFFFFFFFFFFFF
    with engine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.classid::bigint = :high AND l.objid::bigint = :low"
            ),
            {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF},
        )


def stored_some(log: Path) -> bool:
    """Whether the worker writing ``log`` has stored messages taken from the shared intake."""
    return bool(re.search(r"stored [1-9]\d* messages from the shared intake", log.read_text()))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("imap_server", ["dovecot"], indirect=True)
def test_three_workers_share_the_stage_work_store_each_complaint_once_and_send_nothing_twice_though_one_dies(
    settings: Settings, imap_server: DovecotServer, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    # Most from clients of their own, as in a storm: two workers never read one sender's
    # messages at once, so a handful of senders would leave only one of them working.
    messages = [raw for name in COMPLAINTS for _, raw in variants(name, 25)]
    messages += [raw for _, raw in from_each("en-unverified-sender.eml", 200)]
    random.Random(7).shuffle(messages)
    imap_server.fill(messages)
    shared = worker_config(settings, tmp_path / "shared.toml", batch_size=10)
    # What the killed worker had taken is taken by another within seconds.
    shared.write_text(shared.read_text() + "[jobs]\noutbox_seconds = 1\n[intake]\nretake_after_seconds = 2\n")
    assert main(["db", "upgrade", "--config", str(shared)]) == 0
    engine = schema.open_engine(settings)
    load_sample_book(engine, tmp_path / "book", settings.trade_server.tz)

    workers: dict[str, subprocess.Popen[bytes]] = {}
    for name in ("worker-1", "worker-2", "worker-3"):
        # Each worker names its database sessions, so the test can tell which holds the mailbox.
        config = tmp_path / f"{name}.toml"
        config.write_text(
            shared.read_text().replace(
                settings.database_url, f"{settings.database_url}?application_name={name}"
            )
        )
        workers[name] = start_worker(["run", "--config", str(config)], settings, tmp_path / f"{name}.log")
    reader = mailbox_lock(settings.imap)
    try:
        assert wait_for(lambda: progress(engine)[0] >= 100, 60), "the workers made no progress"
        # Killed once it has stored some itself: the reader takes its share of the stage work.
        victim, until = None, time.monotonic() + 20
        while (
            not (victim in workers and stored_some(tmp_path / f"{victim}.log")) and time.monotonic() < until
        ):
            victim = lock_holder(engine, reader)
            time.sleep(0.05)
        assert victim is not None and victim in workers, "one worker must be reading the mailbox"
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait(10)
        stored_at_kill = progress(engine)[0]

        deadline = time.monotonic() + 75
        while time.monotonic() < deadline:
            approve_all(engine)  # staff approve drafts while the workers run
            if progress(engine) == (len(messages), 0):
                break
            time.sleep(0.5)
        final = progress(engine)
    finally:
        logs = {}
        for name, worker in workers.items():
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
            logs[name] = (tmp_path / f"{name}.log").read_text()
    assert final == (len(messages), 0), f"stored, unsent: {final}\n" + "\n".join(
        f"--- {name}\n{log[-1500:]}" for name, log in logs.items()
    )
    assert stored_at_kill < len(messages), "the kill must come while there is mail left to read"
    readers = [name for name in workers if re.search(r"[1-9]\d* added to the shared intake", logs[name])]
    assert set(readers) - {victim}, "another worker must have carried on reading"
    storing = [name for name in workers if stored_some(tmp_path / f"{name}.log")]
    assert sorted(storing) == sorted(workers), "every worker, not only the reader, does stage work"
    assert any(
        re.search(r"fetched \([1-9]\d* of them taken from the shared intake\)", log) for log in logs.values()
    )

    with database.session_scope(engine) as session:
        stored = session.exec(select(InboundMessage)).all()
        claims = session.exec(select(func.count(Claim.id))).one()
        replies = session.exec(select(Reply)).all()
    assert len(stored) == len({m.content_hash for m in stored}) == len(messages)
    assert Counter(m.status for m in stored) == {"claim": len(messages)}
    assert len({m.claim_id for m in stored}) == claims == len(messages), "each complaint one claim"
    kinds = Counter((r.claim_id, r.kind) for r in replies)
    assert set(kinds.values()) == {1}, "no reply drafted twice"
    delivered = [email.message_from_bytes(d.content)["Message-ID"] for d in smtp_sink.deliveries]
    assert len(delivered) == len(set(delivered)), "no reply reached the SMTP server twice"
    sent = {r.message_id for r in replies if r.status == ReplyStatus.SENT}
    assert sent <= set(delivered)
    assert len(sent) + sum(r.status == ReplyStatus.UNCERTAIN for r in replies) == len(replies)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("imap_server", ["dovecot"], indirect=True)
@pytest.mark.parametrize("once", [False, True], ids=["run", "run --once"])
def test_workers_started_together_on_a_new_database_all_start(
    settings: Settings, imap_server: DovecotServer, smtp_sink: SmtpSink, tmp_path: Path, once: bool
) -> None:
    imap_server.fill([raw for _, raw in variants("en-alice-best-price.eml", 40)])
    config = worker_config(settings, tmp_path / "worker.toml", batch_size=10)
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    engine = database.make_engine(settings, create=False)
    # The tables made when first needed (the job store's, the job runs', the shared intake)
    # do not exist yet, nor the job runs' rows: every worker tries to make them at once.
    logs = [tmp_path / f"worker-{n}.log" for n in range(4)]
    command = ["-v", "run", *(["--once"] if once else []), "--config", str(config)]
    workers = [start_worker(command, settings, log) for log in logs]
    try:
        if once:
            ended = [worker.wait(timeout=60) for worker in workers]
        else:
            assert wait_for(lambda: all("polling INBOX every" in log.read_text() for log in logs), 60)
            assert wait_for(lambda: progress(engine)[0] == 40, 60)
            ended = [worker.poll() for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    texts = [log.read_text() for log in logs]
    assert ended == [0 if once else None] * len(workers), "\n".join(text[-3000:] for text in texts)
    assert not any("internal error" in text or "level=ERROR" in text for text in texts)
    assert progress(engine)[0] == 40


@pytest.mark.parametrize("imap_server", ["pymap"], indirect=True)
def test_a_cycle_leaves_the_mailbox_to_the_worker_reading_it_and_reads_it_once_free(
    settings: Settings, engine: Engine
) -> None:
    deliver(settings, variants("en-alice-best-price.eml", 2))
    other_worker = database.make_engine(settings)
    with locks.exclusive(other_worker, mailbox_lock(settings.imap)) as held:
        assert held
        report = run_cycle(settings, engine)
    assert report.fetched == 0 and not report.problems
    assert report.skipped == ["INBOX: another worker is reading it"]
    assert run_cycle(settings, engine).outcomes == {"claim": 2}


@pytest.mark.parametrize("imap_server", ["pymap"], indirect=True)
def test_replies_wait_while_another_worker_holds_the_outbox(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink
) -> None:
    deliver(settings, variants("en-alice-best-price.eml", 1))
    run_cycle(settings, engine)
    approve_all(engine)
    with locks.exclusive(database.make_engine(settings), "outbox") as held:
        assert held
        report = send_approved(engine, settings)
    assert report.busy and not report.sent and not smtp_sink.deliveries
    report = send_approved(engine, settings)
    assert report.sent and len(smtp_sink.deliveries) == len(report.sent)
