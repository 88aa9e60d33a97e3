"""The shared intake on PostgreSQL: the order rows are taken in, and what a dead or stuck taker leaves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot.config import Settings
from bot.reports import status
from bot.storage import backlog, database, locks, runs, schema
from bot.storage.tables import utcnow
from tests.conftest import make_settings

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
LEASE = timedelta(minutes=10)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url=database_url)


@pytest.fixture
def shared(settings: Settings) -> Engine:
    engine = schema.open_engine(settings)
    backlog.ensure(engine)
    return engine


def add(engine: Engine, *senders: str) -> None:
    with database.session_scope(engine) as session:
        backlog.add(
            session,
            folder="INBOX",
            uidvalidity=7,
            messages=[(uid, f"message {uid}".encode(), sender) for uid, sender in enumerate(senders, 1)],
        )


def take(engine: Engine, by: str, limit: int = 10, lease: timedelta = LEASE) -> list[int]:
    return [w.uid for w in backlog.take(engine, by=by, limit=limit, retake_after=lease)]


@pytest.mark.parametrize(
    ("make", "table"), [(backlog.ensure, backlog.backlog.name), (runs.ensure_tables, runs.job_run.name)]
)
def test_workers_starting_together_on_a_new_database_all_find_the_tables_made_when_needed(
    settings: Settings, make: Callable[[Engine], None], table: str
) -> None:
    engines = [schema.open_engine(settings) for _ in range(6)]
    together = threading.Barrier(len(engines))
    failures: list[Exception] = []

    def start(engine: Engine) -> None:
        together.wait()
        try:
            make(engine)
        except Exception as exc:
            failures.append(exc)

    workers = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert inspect(engines[0]).has_table(table)
    for engine in engines:
        engine.dispose()


def test_a_clients_second_email_waits_while_the_first_is_taken(shared: Engine) -> None:
    add(shared, "alice@example.com", "bob@example.com", "alice@example.com", "carol@example.com")
    with locks.exclusive(shared, backlog.taker("one")), locks.exclusive(shared, backlog.taker("two")):
        assert take(shared, "one", limit=1) == [1]
        assert take(shared, "two") == [2, 4], "alice's second email is not taken while her first is"
        assert take(shared, "two") == []
        with database.session_scope(shared) as session:
            rows = backlog.lock_mine(session, [1, 2, 3], by="one")
            backlog.done(session, rows)
        assert take(shared, "two") == [3]


def test_rows_a_killed_worker_took_are_retaken_at_once_one_at_a_time(shared: Engine) -> None:
    add(shared, "a@example.com", "b@example.com")
    with locks.exclusive(shared, backlog.taker("survivor")):
        with locks.exclusive(shared, backlog.taker("victim")):
            assert take(shared, "victim") == [1, 2]
            assert take(shared, "survivor") == [], "a live taker's rows are its own"
        first, second = (backlog.take(shared, by="survivor", limit=10, retake_after=LEASE) for _ in range(2))
    assert [(w.uid, w.retaken, w.retakes) for w in first + second] == [(1, True, 1), (2, True, 1)]


def test_rows_a_stuck_worker_holds_past_the_lease_are_retaken(shared: Engine) -> None:
    add(shared, "a@example.com")
    with locks.exclusive(shared, backlog.taker("stuck")), locks.exclusive(shared, backlog.taker("next")):
        assert take(shared, "stuck") == [1]
        assert take(shared, "next", lease=timedelta(seconds=0)) == [1]
        with database.session_scope(shared) as session:
            assert backlog.lock_mine(session, [1], by="stuck") == set(), "the stuck worker's store is refused"


def test_a_retake_given_back_does_not_count_against_the_message(shared: Engine) -> None:
    add(shared, "a@example.com")
    assert take(shared, "gone") == [1]
    (retaken,) = backlog.take(shared, by="back", limit=10, retake_after=LEASE)
    assert retaken.retakes == 1
    backlog.give_back(shared, [retaken], by="back")
    (fresh,) = backlog.take(shared, by="back", limit=10, retake_after=LEASE, retake=False)
    assert (fresh.retaken, fresh.retakes) == (False, 0)


def test_two_batches_naming_one_order_are_stored_one_after_the_other(shared: Engine) -> None:
    with database.session_scope(shared) as first:
        backlog.name_locks(first, {"number:55667788", "sender:a@example.com"})
        with Session(shared) as second:
            second.execute(text("SET LOCAL lock_timeout = '200ms'"))
            backlog.name_locks(second, {"sender:b@example.com"})
            with pytest.raises(OperationalError, match="lock timeout"):
                backlog.name_locks(second, {"number:55667788", "sender:b@example.com"})


def test_status_says_how_many_fetched_messages_wait_and_are_being_read(
    settings: Settings, shared: Engine
) -> None:
    add(shared, "a@example.com", "b@example.com", "c@example.com")
    with locks.exclusive(shared, backlog.taker("one")):
        take(shared, "one", limit=2)
        found = status.gather(settings, shared, now=utcnow())
    assert found.intake == (3, 2)
    assert "shared intake:    3 messages fetched and waiting, 2 of them being read" in status.lines(
        found, UTC
    )
