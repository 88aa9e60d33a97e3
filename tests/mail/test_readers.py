"""Reading a batch ahead in another process: it reads exactly what reading here would, the
worker stores a large batch through it, and what it does not take is read where it is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.config import Settings
from bot.demo.run import deliver
from bot.mail import readers
from bot.mail.cycle import run_cycle
from bot.mail.mailbox import Fetched
from bot.storage import database
from bot.storage.intake import LARGE_MESSAGE
from bot.storage.tables import Claim, InboundMessage
from tests.conftest import make_settings
from tests.messages import eml, variants

SAMPLES = ["en-alice-best-price.eml", "zh-hans-gbk-under-gb2312-label.eml", "zh-hant-big5.eml"]


def test_what_another_process_reads_is_what_reading_here_gives(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    batch = [Fetched(uid, eml(SAMPLES[uid % 3]), 0) for uid in range(readers.READ_AHEAD_FROM)]
    ahead = readers.ReadAhead(settings)
    try:
        found = ahead.result(ahead.start(batch))
    finally:
        ahead.close()
    own = frozenset({settings.smtp.from_address.lower(), settings.imap.username.lower()})
    here = readers.read_all([f.raw or b"" for f in batch], own, settings.claims.reference_prefix)
    assert found is not None and found == here
    assert {r.complaint is not None for r in found} == {True}


def test_small_batches_and_large_messages_are_read_where_they_are_stored(tmp_path: Path) -> None:
    ahead = readers.ReadAhead(make_settings(tmp_path))
    small = [Fetched(uid, eml(SAMPLES[0]), 0) for uid in range(readers.READ_AHEAD_FROM - 1)]
    large = [*small, Fetched(99, b"x" * (LARGE_MESSAGE + 1), 0)]
    assert ahead.start(small) is None and ahead.start(large) is None and ahead.start(None) is None
    assert ahead.result(None) is None
    ahead.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_worker_stores_a_large_batch_read_in_another_process(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[int] = []
    real = readers.ReadAhead.result

    def result(reading: Any) -> Any:
        found = real(reading)
        taken.append(len(found or []))
        return found

    monkeypatch.setattr(readers.ReadAhead, "result", staticmethod(result))
    count = readers.READ_AHEAD_FROM + 5
    deliver(settings, variants(SAMPLES[1], count))
    report = run_cycle(settings, engine)

    assert taken == [count], "the one batch was read in the other process"
    assert report.outcomes == {"claim": count}
    with database.session_scope(engine) as session:
        assert len(session.exec(select(InboundMessage)).all()) == count
        assert len(session.exec(select(Claim)).all()) == count
