"""The approval page in a real browser: Chromium driven by Playwright against uvicorn, with the
approved reply then sent by the outbox to the real SMTP sink."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from bot.mail.outbox import send_approved
from bot.storage import database
from bot.storage.tables import Claim, ReplyStatus
from tests.conftest import open_second_account
from tests.messages import eml
from tests.web.conftest import Served, log_in


def test_a_supervisor_edits_and_approves_an_offer_and_the_outbox_sends_the_edit(
    page: Page, served: Served
) -> None:
    offer = served.desk.reply_id("offer")
    log_in(page, served, "sam")
    page.locator(f'tr[data-reply="{offer}"] a[href="/replies/{offer}"]').click()
    expect(page.get_by_role("heading", name=f"Reply #{offer}: offer")).to_be_visible()
    expect(page.locator('mark.account[title^="account"]').first).to_have_text("81234567")
    preview = page.frame_locator("iframe.preview")
    expect(preview.locator("body")).to_contain_text("Option 1")

    text = page.locator("textarea#text")
    text.fill(text.input_value().replace("Kind regards", "Warm regards"))
    page.get_by_role("button", name="Approve").click()

    expect(page.get_by_role("status")).to_contain_text(f"Reply {offer} approved")
    assert served.desk.reply(offer).status == ReplyStatus.APPROVED
    report = send_approved(served.desk.engine, served.desk.settings)
    assert [r.id for r in report.sent] == [offer]
    (delivery,) = served.smtp.deliveries
    assert delivery.recipients == ("alice.chen@example.com",)
    sent = email.message_from_bytes(delivery.content, policy=policy.default)
    plain = sent.get_body(preferencelist=("plain",))
    html = sent.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "Warm regards" in plain.get_content() and "Kind regards" not in plain.get_content()
    assert "Warm regards" in html.get_content()


def test_an_agent_who_tries_to_approve_an_offer_is_told_why_and_nothing_changes(
    page: Page, served: Served
) -> None:
    offer = served.desk.reply_id("offer")
    log_in(page, served, "ann")
    page.goto(f"{served.url}replies/{offer}")
    expect(page.get_by_text("Your role (agent) cannot approve this reply")).to_be_visible()

    with page.expect_response(f"**/replies/{offer}/approve") as answer:
        page.get_by_role("button", name="Approve").click()
    assert answer.value.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("needs a supervisor or manager; ann is agent")
    assert served.desk.reply(offer).status == ReplyStatus.DRAFT
    send_approved(served.desk.engine, served.desk.settings)
    assert served.smtp.deliveries == []


def test_staff_see_a_claim_over_two_accounts_and_where_an_attachments_order_was_read(
    page: Page, served: Served, tmp_path: Path
) -> None:
    open_second_account(served.desk.engine)
    served.desk.ingest(eml("outlook-table-two-accounts.eml"), uid=900)
    served.desk.ingest(eml("attachment-pdf-statement.eml"), uid=901)
    with database.session_scope(served.desk.engine) as session:
        claims = session.exec(select(Claim).order_by(Claim.id.desc())).all()  # type: ignore[union-attr]
        statement, both = claims[0].id, claims[1].id
    log_in(page, served, "sam")

    page.goto(f"{served.url.rstrip('/')}/claims/{both}")
    facts = page.locator("section.claim")
    expect(facts.locator("dt", has_text="Accounts")).to_be_visible()
    expect(facts).to_contain_text("81234567, 81234599")
    row = page.locator("section.orders tr", has_text="55669901")
    expect(row.locator("td").nth(1)).to_have_text("81234599")
    page.screenshot(path=str(tmp_path / "claim-two-accounts.png"), full_page=True)

    page.goto(f"{served.url.rstrip('/')}/claims/{statement}")
    evidence = page.locator("li", has=page.locator("mark", has_text="55667789"))
    expect(evidence).to_contain_text("attachment statement.pdf")


def test_searching_from_any_page_lands_on_the_claim(page: Page, served: Served) -> None:
    with database.session_scope(served.desk.engine) as session:
        claim = session.exec(select(Claim).where(Claim.sender == "wangzhe@example.cn")).one()
        reference, claim_id = claim.reference or "", claim.id
    log_in(page, served, "ann")
    for q in (reference, "81234568", "66778899", "wangzhe@example.cn"):
        page.get_by_role("searchbox", name="Search claims").fill(q)
        page.get_by_role("searchbox", name="Search claims").press("Enter")
        expect(page).to_have_url(f"{served.url.rstrip('/')}/claims/{claim_id}")
        expect(page.get_by_role("heading", name=f"Claim {reference}")).to_be_visible()


def test_on_a_390_pixel_phone_the_queue_and_a_claim_need_no_sideways_scroll(
    browser: Browser, served: Served, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    try:
        log_in(phone, served, "sam")
        for path in ("/?view=all", f"/claims/{served.desk.reply(served.desk.reply_id('offer')).claim_id}"):
            phone.goto(served.url.rstrip("/") + path)
            width = phone.evaluate("document.scrollingElement.scrollWidth")
            phone.screenshot(path=str(tmp_path / f"phone{len(path)}.png"), full_page=True)
            assert width <= 390, f"{path} is {width} px wide"
    finally:
        context.close()
