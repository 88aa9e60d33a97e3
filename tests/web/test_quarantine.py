"""Quarantined mail in the page: read safely, released into the pipeline once, or discarded."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import select
from starlette.testclient import TestClient

from bot.storage import database, intake
from bot.storage.tables import Claim, InboundMessage
from tests.messages import variants
from tests.web.conftest import Desk
from tests.web.test_app import post


def held_good_message(desk: Desk) -> int:
    """A readable complaint set aside (as one that killed the worker twice is)."""
    (_, raw), *_ = variants("en-alice-best-price.eml", 1)
    with database.session_scope(desk.engine) as session:
        message = intake.hold_for_staff(
            session,
            desk.settings,
            raw,
            reason="killed the worker twice",
            folder="INBOX",
            uidvalidity=1,
            uid=77,
        )
        session.flush()
        return message.id or 0


def claims(desk: Desk) -> int:
    with database.session_scope(desk.engine) as session:
        return len(session.exec(select(Claim)).all())


def test_release_puts_a_held_message_through_the_pipeline_once(
    desk: Desk, app_for: Callable[[str | None], TestClient]
) -> None:
    message_id = held_good_message(desk)
    before = claims(desk)
    ann, sam = app_for("ann"), app_for("sam")
    page = f"/quarantine/{message_id}"
    assert "killed the worker twice" in ann.get("/quarantine").text
    agent = post(ann, f"{page}/release", page)
    assert agent.status_code == 403 and "only a supervisor" in agent.text  # type: ignore[attr-defined]

    released = post(sam, f"{page}/release", page)
    assert released.status_code == 303 and released.headers["location"].startswith("/claims/")  # type: ignore[attr-defined]
    assert claims(desk) == before + 1
    again = post(sam, f"{page}/release", page)
    assert again.status_code == 403 and "not quarantined" in again.text  # type: ignore[attr-defined]
    assert claims(desk) == before + 1
    with database.session_scope(desk.engine) as session:
        message = session.get(InboundMessage, message_id)
        assert message is not None and message.status == "claim" and "released by sam" in message.reason


def test_the_raw_message_is_shown_as_text_and_discarding_needs_a_reason(
    desk: Desk, app_for: Callable[[str | None], TestClient]
) -> None:
    with database.session_scope(desk.engine) as session:
        held = session.exec(select(InboundMessage).where(InboundMessage.status == "quarantined")).first()
        assert held is not None
        message_id = held.id
    sam = app_for("sam")
    page = f"/quarantine/{message_id}"
    shown = sam.get(page).text
    assert '<pre class="body">' in shown and "x-unknown-8bit" in shown
    assert post(sam, f"{page}/discard", page, reason="").status_code == 403  # type: ignore[attr-defined]
    assert post(sam, f"{page}/discard", page, reason="spam").status_code == 303  # type: ignore[attr-defined]
    with database.session_scope(desk.engine) as session:
        message = session.get(InboundMessage, message_id)
        assert (
            message is not None
            and message.status == "discarded"
            and "discarded by sam: spam" in message.reason
        )
