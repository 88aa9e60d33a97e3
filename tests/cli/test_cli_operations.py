"""The operations commands on a database built by the real pipeline: ``digest``, ``export
complaints``, ``status``, and the worker's structured logs, which never show a password."""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.cli import main
from bot.config import Settings
from bot.demo.run import deliver
from bot.demo.smtp_sink import SmtpSink
from bot.mail import digest_mail
from bot.pipeline import process_message
from bot.storage import database, runs, schema, store
from bot.storage.tables import utcnow
from tests import ROOT
from tests.conftest import approve_all, make_settings
from tests.messages import eml

SAMPLES = ("en-alice-best-price.eml", "zh-hans-gbk-under-gb2312-label.eml", "broken-unknown-charset.eml")


def write_config(settings: Settings, path: Path) -> Path:
    path.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'[smtp]\nhost = "{settings.smtp.host}"\nport = {settings.smtp.port}\nsecurity = "none"\n'
        f'[digest]\nrecipients = ["ops-managers@broker.example", "head.of.dealing@broker.example"]\n'
    )
    return path


@pytest.fixture
def desk(
    tmp_path: Path, smtp_sink: SmtpSink, engine_for: Callable[[Settings], Engine]
) -> tuple[Settings, Path]:
    """Two claims (one English, one Chinese) and one quarantined message, and a settings file."""
    settings = make_settings(
        tmp_path / "data",
        smtp=smtp_sink,
        digest={"recipients": ["ops-managers@broker.example", "head.of.dealing@broker.example"]},
    )
    engine = engine_for(settings)
    for uid, name in enumerate(SAMPLES, start=1):
        with database.session_scope(engine) as session:
            process_message(
                eml(name), session=session, settings=settings, folder="INBOX", uidvalidity=1, uid=uid
            )
    return settings, write_config(settings, tmp_path / "c.toml")


def references(settings: Settings) -> list[str]:
    engine = schema.open_engine(settings)
    with database.session_scope(engine) as session:
        return [c.reference or "" for c in store.claims(session)]


def test_digest_preview_writes_the_figures_and_the_chart(
    desk: tuple[Settings, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, config = desk
    page = tmp_path / "digest.html"
    assert main(["digest", "--preview", str(page), "--config", str(config)]) == 0
    assert "2 new claims, 4 drafts waiting, 0 overdue" in capsys.readouterr().out
    html = page.read_text(encoding="utf-8")
    assert "data:image/png;base64,iVBORw0KGgo" in html and "cid:" not in html
    assert "摘要：新增索偿 2 宗，待批覆函 4 封，逾期 0 宗" in html

    message_file = tmp_path / "digest.eml"
    assert main(["digest", "--preview", str(message_file), "--config", str(config)]) == 0
    message = email.message_from_bytes(message_file.read_bytes(), policy=default)
    assert message["Subject"].endswith("2 new, 4 drafts waiting, 0 overdue")
    assert any(part.get_content_type() == "image/png" for part in message.walk())
    # A preview is not a digest sent: the next one still counts from the last one sent.
    assert main(["digest", "--preview", str(tmp_path / "x.pdf"), "--config", str(config)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_digest_send_arrives_with_the_chart_and_a_scheduled_one_goes_once(
    desk: tuple[Settings, Path], smtp_sink: SmtpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = desk
    assert main(["digest", "--send", "--config", str(config)]) == 0
    assert (
        "digest sent to ops-managers@broker.example, head.of.dealing@broker.example"
        in capsys.readouterr().out
    )
    [delivery] = smtp_sink.deliveries
    assert set(delivery.recipients) == {"ops-managers@broker.example", "head.of.dealing@broker.example"}
    received = email.message_from_bytes(delivery.content, policy=default)
    assert isinstance(received, EmailMessage)
    [png] = [p for p in received.walk() if p.get_content_type() == "image/png"]
    assert png.get_content().startswith(b"\x89PNG")

    engine = schema.open_engine(settings)
    at = utcnow()
    first = digest_mail.send(settings, engine, now=at, scheduled=True)
    again = digest_mail.send(settings, engine, now=at + timedelta(seconds=5), scheduled=True)
    assert first.sent and not again.sent and "already sent" in again.detail
    with database.session_scope(engine) as session:
        last = runs.last_digest(session)
        # The next digest counts from where this one's figures stopped, not from its slot.
        assert last is not None and last.period_end == at
    assert len(smtp_sink.deliveries) == 2
    # That digest counted new claims from the one sent by hand: none since.
    second = email.message_from_bytes(smtp_sink.deliveries[1].content, policy=default)
    assert ": 0 new," in second["Subject"]


def test_digest_send_without_an_smtp_server_is_one_line(
    desk: tuple[Settings, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = desk
    config.write_text(config.read_text().replace(f"port = {settings.smtp.port}", "port = 1"))
    assert main(["digest", "--send", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("claimsbot: error: SMTP 127.0.0.1:1") and err.count("\n") == 1
    # Refused before anything was handed over: the next attempt may send it.
    engine = schema.open_engine(settings)
    from bot.storage import runs

    with database.session_scope(engine) as session:
        assert runs.last_digest(session) is None


def test_export_complaints_prints_the_header_and_one_row_per_claim(
    desk: tuple[Settings, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = desk
    today = utcnow().astimezone(settings.deadlines.tz).date()
    period = ["--from", str(today - timedelta(days=1)), "--to", str(today)]
    assert main(["export", "complaints", *period, "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("complaint_id,channel,incident,received_date,status")
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(references(settings))
    assert all(",email,quote-server-2019-06-26," in line and ",Open," in line for line in lines[1:])

    out = tmp_path / "register.csv"
    assert main(["export", "complaints", *period, "--out", str(out), "--config", str(config)]) == 0
    assert "2 complaints written to" in capsys.readouterr().out
    assert out.read_bytes().count(b"\r\n") == 3

    assert (
        main(["export", "complaints", "--from", "2024-13-01", "--to", "2024-12-01", "--config", str(config)])
        == 2
    )
    assert (
        main(["export", "complaints", "--from", "2024-12-02", "--to", "2024-12-01", "--config", str(config)])
        == 2
    )
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("claimsbot: error: ") for line in err)
    assert "before --from" in err[1]


def test_status_prints_the_last_poll_queues_quarantine_and_claims(
    desk: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = desk
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "last poll:        never" in out
    assert "replies:          draft 4" in out
    assert "oldest draft:     reply 1 (acknowledgement" in out
    assert "quarantine:       1 messages" in out
    assert "claims:           assessed 2" in out
    assert "deadlines:        0 overdue, 0 due within 2 days" in out
    ocr = next(line for line in out.splitlines() if line.startswith("screenshot OCR:"))
    assert ("Tesseract (chi_sim+chi_tra+eng)" in ocr) == bool(shutil.which("tesseract")), ocr

    missing = config.with_name("elsewhere.toml")
    missing.write_text(f'data_dir = "{settings.data_dir / "nowhere"}"\n')
    assert main(["status", "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("claimsbot: error: no database at") and err.count("\n") == 1


@pytest.mark.parametrize("imap_server", ["pymap"], indirect=True)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_worker_logs_one_line_per_event_without_passwords_or_bodies(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    deliver(settings, [("alice", eml("en-alice-best-price.eml"))])
    config = tmp_path / "w.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'[imap]\nhost = "{settings.imap.host}"\nport = {settings.imap.port}\nssl = false\n'
        f'username = "{settings.imap.username}"\n'
        f'[smtp]\nhost = "{settings.smtp.host}"\nport = {settings.smtp.port}\nsecurity = "none"\n'
    )
    password = settings.imap.password.get_secret_value()
    smtp_password = "smtp-secret-never-logged"
    variables = {**os.environ, "CLAIMSBOT_IMAP_PASSWORD": password, "CLAIMSBOT_SMTP_PASSWORD": smtp_password}
    command = [sys.executable, "-m", "bot", "-v", "run", "--once", "--config", str(config)]
    first = subprocess.run(command, cwd=ROOT, env=variables, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]
    approve_all(engine)  # the second run sends the approved replies, and logs each
    done = subprocess.run(command, cwd=ROOT, env=variables, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert any(
        line.startswith("ts=") and "event=" in line and " claim=CLM-" in line
        for line in first.stderr.splitlines()
    )
    assert any("event=" in line and "sent" in line and " reply=" in line for line in lines), done.stderr
    assert lines and all(line.startswith("ts=") and " level=" in line and " event=" in line for line in lines)
    assert password not in done.stderr and smtp_password not in done.stderr
    body = eml("en-alice-best-price.eml").decode(errors="replace")
    sentence = next(line for line in body.splitlines() if len(line) > 40 and ":" not in line[:20])
    assert sentence not in done.stderr
    with database.session_scope(engine) as session:
        assert len(store.claims(session)) == 1
    status = subprocess.run(
        [sys.executable, "-m", "bot", "status", "--config", str(config)],
        cwd=ROOT,
        env=variables,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "last poll:" in status.stdout and "never" not in status.stdout.splitlines()[0]


def test_the_log_format_masks_every_secret_of_the_settings() -> None:
    import logging

    from bot.cli.logs import KeyValueFormatter, secrets_of
    from bot.config import settings_from_mapping

    settings = settings_from_mapping(
        {
            "imap": {"password": "imap-pass-123"},
            "smtp": {
                "oauth2": {
                    "provider": "microsoft",
                    "tenant": "t",
                    "client_id": "c",
                    "client_secret": "entra-789",
                }
            },
            "database_url": "postgresql://claims:db-pass-456@db.internal/claims",
        },
        source="test",
    )
    formatter = KeyValueFormatter()
    formatter.secrets = secrets_of(settings)
    record = logging.LogRecord(
        "bot.test", logging.WARNING, __file__, 1, "login %s to %s failed\nsecond line", None, None
    )
    record.args = ("imap-pass-123 entra-789", "postgresql://claims:db-pass-456@db.internal/claims")
    record.claim = "CLM-2019-000001"
    line = formatter.format(record)
    assert "imap-pass-123" not in line and "db-pass-456" not in line and "\n" not in line
    assert "entra-789" not in line
    assert line.startswith("ts=") and "level=WARNING" in line and "claim=CLM-2019-000001" in line


def test_others_lists_messages_about_other_topics_with_the_accounts_they_name(
    desk: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = desk
    assert main(["others", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "no messages about other topics"
    engine = schema.open_engine(settings)
    with database.session_scope(engine) as session:
        process_message(
            eml("deposit-asks-about-the-outage.eml"),
            session=session,
            settings=settings,
            folder="INBOX",
            uidvalidity=1,
            uid=99,
        )
    assert main(["others", "--config", str(config)]) == 0
    (head, detail) = capsys.readouterr().out.splitlines()
    assert "chenjing.dep@example.cn" in head and "入金未到账" in head
    assert "about a deposit, not the outage" in detail and detail.endswith("accounts: 81234599")
