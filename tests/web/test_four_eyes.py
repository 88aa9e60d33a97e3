"""Four eyes through the page: judged on the text that is sent, not only the drafted amount, and a
reply waiting for its second approval rejected only by those who could approve it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from starlette.testclient import TestClient

from bot.storage.tables import ReplyStatus
from tests.web.conftest import Desk
from tests.web.test_app import post

Client = Callable[..., TestClient]


def test_an_edited_acknowledgement_that_promises_money_waits_for_a_second_manager(
    app_for: Client, desk: Desk
) -> None:
    ack = desk.reply_id("acknowledgement")
    page = f"/replies/{ack}"
    assert desk.reply(ack).amount is None
    promise = desk.reply(ack).body_text + "\nWe will credit your account with 50,000 US dollars.\n"
    sam, ann, mia = app_for("sam"), app_for("ann"), app_for("mia")

    assert post(sam, f"{page}/approve", page, text=promise).status_code == 303
    reply = desk.reply(ack)
    assert (reply.status, reply.first_approved_by, reply.edited_by) == (
        ReplyStatus.SECOND_APPROVAL,
        "sam",
        "sam",
    )
    assert (reply.amount, reply.currency) == (Decimal("50000"), "USD")
    assert "states <strong>50,000 USD</strong>" in mia.get(page).text

    agent = post(ann, f"{page}/approve", page)
    assert agent.status_code == 403 and "needs a manager; ann is agent" in agent.text
    assert desk.reply(ack).status == ReplyStatus.SECOND_APPROVAL
    assert post(mia, f"{page}/approve", page).status_code == 303
    assert (desk.reply(ack).status, desk.reply(ack).decided_by) == (ReplyStatus.APPROVED, "mia")


def test_only_a_second_manager_rejects_an_offer_waiting_for_its_second_approval(
    app_for: Client, desk: Desk
) -> None:
    offer = desk.reply_id("offer", "zh-Hans")
    page = f"/replies/{offer}"
    ann, sam, mia, max_ = app_for("ann"), app_for("sam"), app_for("mia"), app_for("max")
    assert post(mia, f"{page}/approve", page).status_code == 303

    for refused_by in (ann, sam, mia):
        refused = post(refused_by, f"{page}/reject", page, reason="I would rather not")
        assert (
            refused.status_code == 403
            and "needs a manager who neither approved nor edited it" in refused.text
        )
    assert desk.reply(offer).status == ReplyStatus.SECOND_APPROVAL
    assert "Only a manager who neither approved nor edited it may reject it now" in ann.get(page).text

    assert post(max_, f"{page}/reject", page, reason="wrong remedy").status_code == 303
    assert (desk.reply(offer).status, desk.reply(offer).decided_by) == (ReplyStatus.REJECTED, "max")
