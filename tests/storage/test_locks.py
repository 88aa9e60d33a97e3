"""Named locks between workers: one holder at a time, handed to another when the holder is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.config import Settings
from bot.storage import database, locks, schema
from tests import ROOT
from tests.conftest import make_settings
from tests.mail.test_worker import wait_for

both_engines = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)

# A second worker: takes the lock, says so, and keeps it until it is killed.
HOLDER = """
import sys, time
from bot.storage import locks, database
from bot.config import load_settings
with locks.exclusive(database.make_engine(load_settings(None)), sys.argv[1]) as held:
    print("held" if held else "not held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def lock_settings(tmp_path: Path, database_url: str) -> Settings:
    settings = make_settings(tmp_path / "data", database_url=database_url)
    schema.open_engine(settings)
    return settings


def holds(engine: Engine, name: str) -> bool:
    with locks.exclusive(engine, name) as held:
        return held


@both_engines
def test_only_one_worker_holds_a_lock_and_the_next_gets_it_once_released(lock_settings: Settings) -> None:
    first, second = database.make_engine(lock_settings), database.make_engine(lock_settings)
    with locks.exclusive(first, "job:digest") as held:
        assert held
        assert not holds(second, "job:digest")
        assert not holds(first, "job:digest"), "a second holder in the same process is refused too"
        assert holds(second, "job:reminders"), "other names are other locks"
    assert holds(second, "job:digest")


@both_engines
def test_a_killed_holder_hands_the_lock_to_another_worker(lock_settings: Settings) -> None:
    name = "mailbox:127.0.0.1:complaint:INBOX"
    env = {
        **os.environ,
        "CLAIMSBOT_DATA_DIR": str(lock_settings.data_dir),
        "CLAIMSBOT_DATABASE_URL": lock_settings.database_url,
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, name], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        engine = database.make_engine(lock_settings)
        assert not holds(engine, name)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert wait_for(lambda: holds(engine, name), 10), "the lock must be free once its holder is dead"


def test_lock_keys_are_stable_signed_64_bit_numbers() -> None:
    assert locks.key("outbox") == locks.key("outbox") != locks.key("outbox ")
    assert all(-(2**63) <= locks.key(n) < 2**63 for n in ("outbox", "job:digest", "mailbox:h:u:INBOX"))
