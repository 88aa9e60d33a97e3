"""The claim's rules under test: settings with a high four-eyes limit, one person of each role,
and a claim opened by the real pipeline from the demo's first email."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.claims import staff as staff_rules
from bot.config import Settings
from bot.pipeline import process_message
from bot.storage import database
from bot.storage.tables import StaffUser
from tests.conftest import make_settings
from tests.messages import DEMO_MAIL

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", approval={"four_eyes_amount": "100000"})


@pytest.fixture
def staff(book_engine: Engine) -> dict[str, StaffUser]:
    with database.session_scope(book_engine) as session:
        people = {
            name: staff_rules.add_user(session, name=name, role=role, password=PASSWORD)
            for name, role in [
                ("ann", "agent"),
                ("sam", "supervisor"),
                ("meg", "manager"),
                ("max", "manager"),
            ]
        }
        for user in people.values():
            session.expunge(user)
    return people


def open_claim(engine: Engine, settings: Settings) -> int:
    raw = (DEMO_MAIL / "en-alice-best-price.eml").read_bytes()
    with database.session_scope(engine) as session:
        inbound = process_message(
            raw, session=session, settings=settings, folder="INBOX", uidvalidity=1, uid=1
        )
        assert inbound is not None and inbound.claim_id is not None
        return inbound.claim_id
