"""Backup and restore as docs/operations.md says to do them: ``claimsbot backup DIR`` while the
worker writes, then, the data directory lost, the copy put back; every claim the backup saw is
there, with its messages."""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli import main
from bot.config import Settings
from bot.demo.book import load_sample_book
from bot.pipeline import process_message
from bot.storage import database, schema
from bot.storage.intake import LARGE_MESSAGE, stored_bytes
from bot.storage.tables import Claim, InboundMessage
from tests.conftest import make_settings
from tests.messages import variants

MESSAGE = "en-alice-best-price.eml"


def claims_of(settings: Settings) -> set[str]:
    engine = schema.open_engine(settings, create=False)
    with database.session_scope(engine) as session:
        found = {c.reference or "" for c in session.exec(select(Claim)).all()}
    engine.dispose()
    return found


def test_a_backup_taken_while_the_worker_writes_restores_every_claim_it_saw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path / "data")
    engine = schema.open_engine(settings)
    load_sample_book(engine, tmp_path / "book", settings.trade_server.tz)
    config = tmp_path / "claimsbot.toml"
    config.write_text(f'data_dir = "{settings.data_dir}"\n', encoding="utf-8")
    messages = variants(MESSAGE, 400)
    # One message large enough to be kept as a file in data_dir/messages.
    big_name, big = messages[0]
    messages[0] = (
        big_name,
        big.replace(b"\r\n\r\n", b"\r\nX-Padding: " + b"p" * (LARGE_MESSAGE + 10) + b"\r\n\r\n", 1),
    )
    started, stop = threading.Event(), threading.Event()
    written: list[int] = []

    def worker() -> None:
        for uid, (_, raw) in enumerate(messages, start=1):
            if stop.is_set():
                return
            with database.session_scope(engine) as session:
                process_message(
                    raw, session=session, settings=settings, folder="INBOX", uidvalidity=1, uid=uid
                )
            written.append(uid)
            if uid == 10:
                started.set()

    writer = threading.Thread(target=worker)
    writer.start()
    assert started.wait(60)
    seen_before = claims_of(settings)
    assert main(["backup", str(tmp_path / "backup"), "--config", str(config)]) == 0
    assert len(written) < len(messages), "the worker was still writing when the backup ended"
    writer.join(300)
    engine.dispose()
    said = capsys.readouterr().out
    assert "integrity checked" in said and "messages: 1 new files copied" in said

    shutil.rmtree(settings.data_dir)  # the disk is lost
    settings.data_dir.mkdir(parents=True)
    for name in ("claimsbot.db", "messages", "sent"):
        kept = tmp_path / "backup" / name
        if kept.is_dir():
            shutil.copytree(kept, settings.data_dir / name)
        elif kept.exists():
            shutil.copy2(kept, settings.data_dir / name)
    restored = claims_of(settings)
    assert seen_before <= restored and len(restored) >= 10
    engine = schema.open_engine(settings, create=False)
    with database.session_scope(engine) as session:
        kept = session.exec(select(InboundMessage)).all()
        assert any(m.raw_path for m in kept), "the large message was a file, and came back"
        for message in kept:
            assert hashlib.sha256(stored_bytes(message)).hexdigest() == message.content_hash


def test_a_backup_without_a_database_says_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "claimsbot.toml"
    config.write_text(f'data_dir = "{tmp_path / "nowhere"}"\n', encoding="utf-8")
    assert main(["backup", str(tmp_path / "backup"), "--config", str(config)]) == 2
    assert "no database at" in capsys.readouterr().err


def test_a_backup_copies_no_link_out_of_the_data_directory_and_leaves_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    schema.open_engine(settings).dispose()
    (settings.data_dir / "messages").mkdir(parents=True)
    (settings.data_dir / "messages" / "kept.eml").write_bytes(b"From: a@example.com\r\n\r\nhi\r\n")
    (settings.data_dir / "messages" / "evil.eml").symlink_to("/etc/hostname")
    config = tmp_path / "claimsbot.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\ndatabase_url = "{settings.database_url}"\n', encoding="utf-8"
    )
    assert main(["backup", str(tmp_path / "backup"), "--config", str(config)]) == 0
    assert "integrity checked" in capsys.readouterr().out, "a SQLite URL is copied, not left to pg_dump"
    assert sorted(p.name for p in (tmp_path / "backup").rglob("*")) == [
        "claimsbot.db",
        "kept.eml",
        "messages",
    ]
