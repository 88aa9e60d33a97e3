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

# A second worker: takes the lock (``exclusive``, or ``member`` of a group), says so, and keeps
# it until it is killed.
HOLDER = """
import sys, time
from bot.storage import locks, database
from bot.config import load_settings
engine = database.make_engine(load_settings(None))
lock = locks.member(engine, sys.argv[1], "w") if sys.argv[2:] else locks.exclusive(engine, sys.argv[1])
with lock as held:
    print("held" if held else "not held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def lock_settings(tmp_path: Path, database_url: str) -> Settings:
    settings = make_settings(tmp_path / "data", database_url=database_url)
    schema.open_engine(settings)
    return settings


def start_holder(settings: Settings, *args: str) -> subprocess.Popen[str]:
    """``HOLDER`` in a process of its own, once it holds the lock."""
    env = {
        **os.environ,
        "CLAIMSBOT_DATA_DIR": str(settings.data_dir),
        "CLAIMSBOT_DATABASE_URL": settings.database_url,
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


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
    holder = start_holder(lock_settings, name)
    try:
        engine = database.make_engine(lock_settings)
        assert not holds(engine, name)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert wait_for(lambda: holds(engine, name), 10), "the lock must be free once its holder is dead"


def test_lock_keys_are_stable_signed_64_bit_numbers() -> None:
    assert locks.key("outbox") == locks.key("outbox") != locks.key("outbox ")
    assert all(-(2**63) <= locks.key(n) < 2**63 for n in ("outbox", "job:digest", "mailbox:h:u:INBOX"))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_members_of_a_group_are_counted_and_a_killed_member_is_not(lock_settings: Settings) -> None:
    engine = database.make_engine(lock_settings)
    group = "intake:helpers"
    assert locks.members(engine, group) == 0
    with locks.member(engine, group, "worker-1") as one, locks.member(engine, group, "worker-2") as two:
        assert one and two
        assert locks.members(engine, group) == 2
        assert locks.members(engine, "another group") == 0
        assert holds(engine, f"{group}:worker-1"), "a member's lock is not the lock of its name"
        with locks.member(engine, group, "worker-1") as again:
            assert not again, "one member counts once"
    assert locks.members(engine, group) == 0
    holder = start_holder(lock_settings, group, "member")
    try:
        assert locks.members(engine, group) == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert wait_for(lambda: locks.members(engine, group) == 0, 10), "a dead member is not counted"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_members_are_none_where_nothing_is_shared(lock_settings: Settings) -> None:
    engine = database.make_engine(lock_settings)
    with locks.member(engine, "intake:helpers", "worker-1") as held:
        assert not held
        assert locks.members(engine, "intake:helpers") == 0
