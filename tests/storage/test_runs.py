"""The job runs' record, written by several workers at once on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlmodel import Session

from bot.storage import database, runs, schema
from bot.storage.tables import utcnow
from tests.conftest import make_settings

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def test_two_workers_recording_a_jobs_first_run_at_once_both_succeed(
    tmp_path: Path, database_url: str
) -> None:
    engine = schema.open_engine(make_settings(tmp_path / "data", database_url=database_url))
    runs.ensure_tables(engine)
    failures: list[Exception] = []

    def second() -> None:
        try:
            with database.session_scope(engine) as session:
                runs.started(session, name="poll", at=utcnow())
        except Exception as exc:
            failures.append(exc)

    # The first has inserted the row and not committed: the second finds no row to update,
    # and its insert waits for the first's commit.
    with Session(engine) as first:
        runs.started(first, name="poll", at=utcnow())
        other = threading.Thread(target=second)
        other.start()
        other.join(1.0)
        assert other.is_alive(), "the second waits on the first's row"
        first.commit()
    other.join(10)
    assert failures == []
    with database.session_scope(engine) as session:
        assert set(runs.last_runs(session)) == {"poll"}
    engine.dispose()
