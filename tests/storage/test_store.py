from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage import database, schema, store
from bot.storage.tables import InboundMessage, MessageStatus, utcnow
from tests.conftest import make_settings

MAX_IMAP_NUMBER = 4_294_967_295  # UIDs and UIDVALIDITY are unsigned 32-bit (RFC 3501 nz-number)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_the_largest_imap_uids_are_stored(tmp_path: Path, database_url: str) -> None:
    engine = schema.open_engine(make_settings(tmp_path / "d", database_url=database_url))
    with database.session_scope(engine) as session:
        store.advance_cursor(session, folder="INBOX", uidvalidity=MAX_IMAP_NUMBER, uid=MAX_IMAP_NUMBER)
        session.add(
            InboundMessage(
                content_hash="h",
                raw=b"x",
                folder="INBOX",
                uidvalidity=MAX_IMAP_NUMBER,
                uid=MAX_IMAP_NUMBER,
                received_at=utcnow(),
                status=MessageStatus.CLAIM,
            )
        )
    with database.session_scope(engine) as session:
        cursor = store.cursor_for(session, folder="INBOX")
        assert cursor is not None and (cursor.uidvalidity, cursor.last_uid) == (
            MAX_IMAP_NUMBER,
            MAX_IMAP_NUMBER,
        )
        assert [m.uid for m in store.unarchived(session, folder="INBOX", uidvalidity=MAX_IMAP_NUMBER)] == [
            MAX_IMAP_NUMBER
        ]
