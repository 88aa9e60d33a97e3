"""The staff workspace in Chromium (Playwright against uvicorn), as an agent, a supervisor and a
manager work it: the views by role, bulk approval of all that match, the claim's state deciding
its actions, quarantine release, the page in Chinese with local times, the keyboard, and staff
management."""

from __future__ import annotations

import re
from datetime import timedelta, timezone

from playwright.sync_api import Browser, Page, expect
from sqlmodel import func, select

from bot.storage import database
from bot.storage.tables import Claim, InboundMessage, Reply, ReplyStatus
from tests.scale import fill
from tests.web.conftest import PASSWORD, Served, log_in
from tests.web.test_quarantine import held_good_message


def url(served: Served, path: str) -> str:
    return served.url.rstrip("/") + path


def count(served: Served, *conditions: object) -> int:
    with database.session_scope(served.desk.engine) as session:
        return int(session.exec(select(func.count()).select_from(Reply).where(*conditions)).one())  # type: ignore[arg-type]


def kinds_listed(page: Page) -> set[str]:
    return set(
        page.locator("table.queue tr[data-kind]").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    )


def test_an_agents_waiting_for_me_holds_no_offers_and_a_supervisors_does(page: Page, served: Served) -> None:
    log_in(page, served, "ann")
    mine = kinds_listed(page)
    assert mine and "offer" not in mine
    page.get_by_role("link", name="all waiting").click()
    assert "offer" in kinds_listed(page), "the offers are there, only not in the agent's own view"
    page.get_by_role("button", name="Log out", exact=True).click()
    log_in(page, served, "sam")
    assert "offer" in kinds_listed(page)


def test_approving_all_500_matching_acknowledgements_takes_one_confirmation(
    page: Page, served: Served
) -> None:
    fill(served.desk.engine, 500, first=1000)
    waiting = count(served, Reply.kind == "acknowledgement", Reply.status == ReplyStatus.DRAFT)
    assert waiting >= 500
    log_in(page, served, "ann")
    page.get_by_label("Kind").select_option("acknowledgement")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("table.queue tbody tr").count() == 100, "a page at a time"
    bulk = page.locator("form.bulk-matching")
    bulk.get_by_role("checkbox").check()
    bulk.get_by_role("button", name=f"Approve all {waiting} acknowledgements").click()
    expect(page.get_by_role("status")).to_contain_text(f"{waiting} acknowledgements approved.")
    assert count(served, Reply.kind == "acknowledgement", Reply.status == ReplyStatus.APPROVED) == waiting
    assert count(served, Reply.kind == "offer", Reply.status == ReplyStatus.APPROVED) == 0
    expect(page).to_have_url(url(served, "/?kind=acknowledgement"))


def test_a_settled_claim_offers_no_state_action(page: Page, served: Served) -> None:
    claim_id = served.desk.reply(served.desk.reply_id("offer")).claim_id
    log_in(page, served, "mia")
    page.goto(url(served, f"/claims/{claim_id}"))
    page.get_by_label("Reason for escalating").fill("client phoned; settle by hand")
    page.get_by_role("button", name="Escalate").click()
    expect(page.locator("dd.state")).to_have_attribute("data-state", "escalated")
    page.get_by_label("Note to the client").fill("Both orders were re-priced in your account.")
    settle = page.get_by_role("button", name="Settle")
    settle.click()
    (
        expect(page.locator("dd.state")).to_have_attribute("data-state", "escalated"),
        "not without the box ticked",
    )
    page.get_by_label("The remedies have been carried out").check()
    settle.click()
    expect(page.get_by_role("status")).to_contain_text("Claim settled.")
    expect(page.locator("dd.state")).to_have_attribute("data-state", "settled")
    actions = page.locator("section.actions")
    expect(actions.locator("p.none")).to_contain_text("None: the claim is settled.")
    assert actions.locator("form").count() == 0
    assert served.desk.claim(claim_id).status == "settled"


def test_quarantine_release_puts_a_message_through_the_pipeline_once(page: Page, served: Served) -> None:
    message_id = held_good_message(served.desk)
    with database.session_scope(served.desk.engine) as session:
        before = session.exec(select(func.count()).select_from(Claim)).one()
    log_in(page, served, "sam")
    page.get_by_role("link", name="Quarantine").click()
    page.locator(f'tr[data-message="{message_id}"] a').click()
    expect(page.locator("pre.body")).to_contain_text("Alice")
    page.get_by_role("button", name="Release into the pipeline").click()
    expect(page.get_by_role("status")).to_contain_text(f"Message #{message_id} went through the pipeline")
    expect(page).to_have_url(re.compile(r"/claims/\d+$"))
    page.goto(url(served, f"/quarantine/{message_id}"))
    assert page.get_by_role("button", name="Release into the pipeline").count() == 0, "once"
    with database.session_scope(served.desk.engine) as session:
        assert session.exec(select(func.count()).select_from(Claim)).one() == before + 1
        message = session.get(InboundMessage, message_id)
        assert message is not None and message.status == "claim"


def test_the_chinese_interface_shows_chinese_labels_and_local_times(browser: Browser, served: Served) -> None:
    context = browser.new_context(locale="zh-TW")
    page = context.new_page()
    try:
        page.goto(served.url)
        expect(page.get_by_role("heading", level=1)).to_have_text("登入"), "the browser's language first"
        page.locator('input[name="name"]').fill("sam")
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator("form.login button").click()
        expect(page.get_by_role("heading", level=1)).not_to_have_text("Replies waiting for approval")
        page.goto(url(served, "/me"))
        page.locator('select[name="language"]').select_option("zh-Hans")
        page.locator('input[name="timezone"]').fill("Asia/Shanghai")
        page.locator("form.settings button").click()
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        claim_id = served.desk.reply(served.desk.reply_id("offer")).claim_id
        page.goto(url(served, f"/claims/{claim_id}"))
        expect(page.locator("section.orders h2")).to_have_text("订单")
        received = served.desk.claim(claim_id).created_at.astimezone(timezone(timedelta(hours=8)))
        expect(page.locator("section.claim")).to_contain_text(f"{received:%Y-%m-%d %H:%M} CST")
        assert "UTC" not in page.locator("section.claim dl").inner_text()
    finally:
        context.close()
    english = browser.new_context(locale="en-US").new_page()
    log_in(english, served, "sam")
    expect(english.locator("html")).to_have_attribute("lang", "zh-Hans"), "the choice is kept with the person"
    english.context.close()


def press(page: Page, key: str) -> None:
    """A key, once the page's script has its listeners (it sets ``data-keys`` on <html>)."""
    expect(page.locator("html")).to_have_attribute("data-keys", "on")
    page.keyboard.press(key)


def test_the_keyboard_moves_through_the_queue_and_approves(page: Page, served: Served) -> None:
    log_in(page, served, "ann")
    page.goto(url(served, "/?kind=acknowledgement"))
    first, second = page.locator("table.queue tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.reply)"
    )[:2]
    press(page, "j")
    press(page, "j")
    expect(page.locator("tr.selected")).to_have_attribute("data-reply", second)
    press(page, "k")
    expect(page.locator("tr.selected")).to_have_attribute("data-reply", first)
    press(page, "Enter")
    expect(page).to_have_url(url(served, f"/replies/{first}?kind=acknowledgement"))
    press(page, "a")
    expect(page).to_have_url(url(served, f"/replies/{second}?kind=acknowledgement"))
    expect(page.get_by_role("status")).to_contain_text(f"Reply {first} approved")
    press(page, "a")
    expect(page.get_by_role("status")).to_contain_text(f"Reply {second} approved")
    assert [served.desk.reply(int(i)).status for i in (first, second)] == [ReplyStatus.APPROVED] * 2
    press(page, "/")
    expect(page.get_by_role("searchbox")).to_be_focused()
    press(page, "Escape")
    press(page, "?")
    expect(page.get_by_role("heading", name="Keyboard shortcuts")).to_be_visible()


def test_a_manager_disables_a_person_on_the_staff_page_and_their_open_session_ends(
    browser: Browser, page: Page, served: Served
) -> None:
    agent = browser.new_context().new_page()
    log_in(agent, served, "ann")
    log_in(page, served, "mia")
    page.get_by_role("link", name="Staff").click()
    page.locator('tr[data-user="ann"]').get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("ann is disabled; 1 open sessions ended.")
    expect(page.locator('tr[data-user="ann"]')).to_contain_text("disabled")
    agent.reload()
    expect(agent).to_have_title("Log in · claimsbot")
    agent.context.close()


def test_on_a_390_pixel_phone_no_view_needs_sideways_scroll(browser: Browser, served: Served) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    try:
        log_in(phone, served, "mia")
        for path in ("/", "/?view=all", "/claims", "/quarantine", "/users", "/me", "/keys"):
            phone.goto(url(served, path))
            width = phone.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide"
    finally:
        context.close()
