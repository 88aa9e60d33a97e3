"""New rows built in one step (``tables.Row``) are the rows SQLModel's constructor would build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm.base import manager_of_class
from sqlmodel import SQLModel, select

from bot.storage import database, schema
from bot.storage.tables import Claim, ClaimEvent, Reply, ReplyStatus, Row, utcnow
from tests.conftest import make_settings


def _by_sqlmodel(model: type[SQLModel], **values: Any) -> Any:
    """The same row through SQLModel's own constructor, which ``Row`` stands in for."""
    row = manager_of_class(model).new_instance()
    SQLModel.__init__(row, **values)
    return row


def test_a_row_built_in_one_step_holds_what_sqlmodel_would_give_it(tmp_path: Path) -> None:
    now = utcnow()
    values: dict[str, Any] = {
        "claim_id": 1,
        "kind": "offer",
        "language": "en",
        "to_address": "alice@example.com",
        "subject": "s",
        "body_text": "b",
        "message_id": "<m@x>",
        "status": ReplyStatus.DRAFT,
        "created_at": now,
    }
    fast, slow = Reply(**values), _by_sqlmodel(Reply, **values)
    assert isinstance(fast, Row)
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_fields_set == slow.model_fields_set == set(values)


def test_rows_built_in_one_step_are_written_with_every_default(tmp_path: Path) -> None:
    engine = schema.open_engine(make_settings(tmp_path))
    with database.session_scope(engine) as session:
        claim = Claim(incident="outage", status="received", sender="a@b.c", created_at=utcnow())
        session.add(claim)
        session.flush()
        session.add(ClaimEvent(claim_id=claim.id, at=utcnow(), actor="bot", event="x"))
    with database.session_scope(engine) as session:
        event = session.exec(select(ClaimEvent)).one()
        assert (event.detail, event.from_state, event.to_state) == ("", None, None)
        stored = session.exec(select(Claim)).one()
        given = {
            "incident": "outage",
            "status": "received",
            "sender": "a@b.c",
            "created_at": claim.created_at,
        }
        expected = _by_sqlmodel(Claim, **given, id=claim.id).model_dump()
        # Fields with neither a value nor a default (a closing time, say) are NULL either way.
        assert stored.model_dump() == {name: None for name in Claim.model_fields} | expected


def test_a_field_the_table_does_not_have_is_refused() -> None:
    with pytest.raises(TypeError, match="ClaimEvent has no field actr"):
        ClaimEvent(claim_id=1, actr="bot")
