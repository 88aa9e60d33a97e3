"""The workspace's rules as the page applies them, without a browser: what bulk approval takes,
what the staff page may change, and odd input that must get a clear answer, not a 500."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.claims import approval
from bot.storage import database
from bot.storage.tables import Reply, ReplyStatus, StaffUser
from tests.web.conftest import Desk
from tests.web.test_app import post

Client = Callable[..., TestClient]


def drafts(desk: Desk, kind: str) -> list[int]:
    with database.session_scope(desk.engine) as session:
        stmt = select(Reply.id).where(Reply.kind == kind, Reply.status == ReplyStatus.DRAFT)
        return [i for i in session.exec(stmt).all() if i is not None]


def matching(client: TestClient, query: str, **fields: str) -> object:
    page = client.get(f"/?{query}").text
    upto = page.split('name="upto" value="')[1].split('"')[0] if 'name="upto"' in page else "0"
    form = {"scope": "matching", "from": query, "upto": upto, "confirm": "yes", **fields}
    return post(client, "/bulk-approve", f"/?{query}", **form)


def test_approve_all_that_match_takes_only_the_acknowledgements_of_the_view_and_the_count_seen(
    app_for: Client, desk: Desk
) -> None:
    sam = app_for("sam")
    offers = sam.get("/?kind=offer").text
    assert "bulk-matching" not in offers, "a view of offers offers no bulk approval of acknowledgements"
    acknowledgements = drafts(desk, "acknowledgement")
    assert matching(sam, "kind=offer", expected="99").status_code == 303  # type: ignore[attr-defined]
    assert drafts(desk, "acknowledgement") == acknowledgements, "nothing outside the view"

    fewer = matching(sam, "kind=acknowledgement", expected=str(len(acknowledgements) - 1))
    assert fewer.status_code == 403 and "more than the" in fewer.text  # type: ignore[attr-defined]
    assert drafts(desk, "acknowledgement") == acknowledgements, "refused whole"

    confirm = sam.get("/bulk-approve/confirm?from=kind%3Dacknowledgement&upto=2147483647&expected=1").text
    assert f"Approve {len(acknowledgements)} acknowledgements?" in confirm, "the count is the server's"

    done = matching(sam, "kind=acknowledgement", expected=str(len(acknowledgements)))
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert drafts(desk, "acknowledgement") == []
    assert f"{len(acknowledgements)} acknowledgements approved." in sam.get("/").text


def test_a_failure_in_the_middle_of_a_bulk_approval_changes_nothing(
    app_for: Client, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    acknowledgements = drafts(desk, "acknowledgement")
    assert len(acknowledgements) >= 2
    real, calls = approval.approve, []

    def fails_the_second(*args: object, **kw: object) -> Reply:
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(approval, "approve", fails_the_second)
    ann = app_for("ann", raise_server_exceptions=False)
    answer = post(ann, "/bulk-approve", "/", reply=[str(i) for i in acknowledgements[:2]])
    assert answer.status_code == 500 and "nothing was changed" in answer.text  # type: ignore[attr-defined]
    assert drafts(desk, "acknowledgement") == acknowledgements


def test_the_staff_page_cannot_make_or_reset_a_manager(app_for: Client, desk: Desk) -> None:
    mia = app_for("mia")
    refused = {
        "add a manager": {"action": "add", "name": "mia2", "role": "manager", "password": "x" * 16},
        "promote to manager": {"action": "role", "name": "ann", "role": "manager"},
        "reset a manager's password": {"action": "password", "name": "max", "password": "y" * 16},
        "disable oneself": {"action": "disable", "name": "mia"},
    }
    for what, form in refused.items():
        answer = post(mia, "/users", "/users", **form)
        assert answer.status_code == 403, what  # type: ignore[attr-defined]
    assert post(mia, "/users", "/users", action="role", name="ann", role="supervisor").status_code == 303  # type: ignore[attr-defined]
    assert (
        post(mia, "/users", "/users", action="add", name="amy", role="agent", password="z" * 16).status_code
        == 303
    )  # type: ignore[attr-defined]
    for bad in ("", "me", "None", "x" * 121):
        answer = post(mia, "/users", "/users", action="add", name=bad, role="agent", password="z" * 16)
        assert answer.status_code == 403, repr(bad)  # type: ignore[attr-defined]
    sam = app_for("sam")
    assert (
        post(sam, "/users", "/", action="add", name="eve", role="agent", password="z" * 16).status_code == 403
    )  # type: ignore[attr-defined]
    changes = mia.get("/users").text
    assert "role changed" in changes and "supervisor" in changes and "amy" in changes


@pytest.mark.parametrize("zone", ["Asia", "x" * 300, "+05:99", "+24:00", "../../etc/passwd"])
def test_a_time_zone_that_is_not_one_is_refused_and_a_stored_bad_one_does_not_break_the_page(
    app_for: Client, desk: Desk, zone: str
) -> None:
    sam = app_for("sam")
    answer = post(sam, "/me", "/me", language="zh-Hant", timezone=zone)
    assert answer.status_code == 403 and "unknown time zone" in answer.text  # type: ignore[attr-defined]
    with database.session_scope(desk.engine) as session:
        user = session.exec(select(StaffUser).where(StaffUser.name == "sam")).one()
        assert (user.language, user.timezone) == ("", "")
        user.timezone = zone
    assert sam.get("/").status_code == 200
    assert sam.get("/me").status_code == 200


def test_odd_input_gets_an_answer_not_a_server_error(app_for: Client, desk: Desk) -> None:
    sam = app_for("sam")
    for amount in ("1e30", "-1e30", "9" * 5000, "NaN", "Infinity"):
        page = sam.get(f"/?min_amount={amount}")
        assert page.status_code == 200 and "is not a number; it was ignored" in page.text, amount
    assert sam.get("/replies/" + "9" * 5000).status_code == 404
    assert sam.get("/claims/" + "9" * 11).status_code == 404
    assert sam.get("/claims?owner=" + "x" * 5000 + "&account=" + "1" * 5000).status_code == 200
    assert sam.get("/bulk-approve/confirm?from=" + "%" * 3000 + "&upto=x&expected=-1").status_code == 200


def test_an_edit_is_shown_to_the_second_approver_as_what_it_changed(app_for: Client, desk: Desk) -> None:
    offer = desk.reply_id("offer")
    sam = app_for("sam")
    drafted = desk.reply(offer).body_text
    edited = drafted.replace("Kind regards", "Warm regards")
    assert post(sam, f"/replies/{offer}/approve", f"/replies/{offer}", text=edited).status_code == 303  # type: ignore[attr-defined]
    page = app_for("mia").get(f"/replies/{offer}").text
    assert "What sam's edit changed" in page
    assert '<span class="del">- Kind regards' in page and '<span class="ins">+ Warm regards' in page


def test_the_queue_has_a_view_for_second_approvals_and_for_failed_and_uncertain_mail(
    app_for: Client, desk: Desk
) -> None:
    large = desk.reply_id("offer", "zh-Hans")
    assert desk.reply(large).amount is not None and desk.reply(large).amount > 1000  # type: ignore[operator]
    mia = app_for("mia")
    assert post(mia, f"/replies/{large}/approve", f"/replies/{large}").status_code == 303  # type: ignore[attr-defined]
    assert desk.reply(large).status == ReplyStatus.SECOND_APPROVAL
    second = mia.get("/?view=second").text
    assert re.findall(r'<tr data-reply="(\d+)"', second.split("<h2>")[0]) == [str(large)]
    with database.session_scope(desk.engine) as session:
        failed = session.get(Reply, desk.reply_id("acknowledgement"))
        assert failed is not None
        failed.status, failed.failure = ReplyStatus.FAILED, "550 mailbox unavailable"
    shown = mia.get("/?view=failed").text
    assert f'<tr data-reply="{failed.id}"' in shown.split("<h2>")[0] and "bulk-matching" not in shown
    assert 'href="/?view=failed" aria-current="page">failed <span class="count">1</span>' in shown


def test_after_a_move_the_claim_page_goes_on_to_the_next_claim_of_the_view_it_came_from(
    app_for: Client, desk: Desk
) -> None:
    sam = app_for("sam")
    listed = re.findall(r'<tr data-claim="(\d+)"', sam.get("/claims?state=assessed").text)
    assert len(listed) >= 2, "newest first"
    first, second = listed[:2]
    page = f"/claims/{first}?state=assessed"
    assert f'href="/claims/{second}?state=assessed" rel="next"' in sam.get(page).text
    moved = post(sam, f"/claims/{first}/escalate", page, reason="needs a look", **{"from": "state=assessed"})
    assert moved.headers["location"] == f"/claims/{second}?state=assessed"  # type: ignore[attr-defined]
    alone = post(sam, f"/claims/{second}/escalate", f"/claims/{second}", reason="and this one")
    assert alone.headers["location"] == f"/claims/{second}", "opened from no view: stay"  # type: ignore[attr-defined]
