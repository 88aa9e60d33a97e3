"""The whole path of one message, in-process, against the sample trade book."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.pipeline import process_message
from bot.reports.report import claim_summaries
from bot.storage import database
from bot.storage.tables import Claim, InboundMessage
from tests.conftest import make_settings
from tests.messages import eml


def ingest(engine: Engine, tmp_path: Path, raw: bytes, uid: int = 1) -> InboundMessage:
    settings = make_settings(tmp_path / "book")
    with database.session_scope(engine) as session:
        inbound = process_message(
            raw, session=session, settings=settings, folder="INBOX", uidvalidity=1, uid=uid
        )
        assert inbound is not None
        session.expunge(inbound)
    return inbound


def summary(engine: Engine, claim_id: int | None) -> dict[str, Any]:
    """The claim as ``claimsbot claims --json`` shows it."""
    with database.session_scope(engine) as session:
        claim = session.get(Claim, claim_id or 0)
        assert claim is not None
        return next(s for s in claim_summaries(session) if s["reference"] == claim.reference)


@pytest.mark.parametrize(
    ("name", "ticket"),
    [
        ("attachment-mt4-statement.eml", "55667788"),
        ("attachment-pdf-statement.eml", "55667789"),
        ("attachment-xlsx-orders.eml", "55667788"),
    ],
)
def test_an_order_only_in_an_attachment_is_claimed_and_staff_see_where_it_was(
    book_engine: Engine, tmp_path: Path, name: str, ticket: str
) -> None:
    inbound = ingest(book_engine, tmp_path, eml(name))
    claim = summary(book_engine, inbound.claim_id)
    eligible = [o["ticket"] for o in claim["orders"] if o["eligible"]]
    assert eligible == [ticket] and claim["accounts"] == ["81234567"]
    marks = {e["number"]: e["evidence"] for e in json.loads(inbound.evidence)}
    assert marks[ticket].startswith("attachment ")
