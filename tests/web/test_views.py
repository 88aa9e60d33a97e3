"""The claims view and the search every page carries."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import select
from starlette.testclient import TestClient

from bot.storage import database
from bot.storage.tables import Claim
from tests.web.conftest import Desk


def alices_claim(desk: Desk) -> Claim:
    with database.session_scope(desk.engine) as session:
        claim = session.exec(select(Claim).where(Claim.sender == "alice.chen@example.com")).one()
        session.expunge(claim)
    return claim


def test_search_by_reference_account_order_and_email_lands_on_the_claim(
    desk: Desk, app_for: Callable[[str | None], TestClient]
) -> None:
    claim = alices_claim(desk)
    ann = app_for("ann")
    for q in (claim.reference or "", "81234567", "55667788", "Alice.Chen@example.com"):
        answer = ann.get("/search", params={"q": q})
        assert answer.status_code == 303 and answer.headers["location"] == f"/claims/{claim.id}", q
    nothing = ann.get("/search", params={"q": "no such client"})
    assert nothing.status_code == 200 and "No claim matches" in nothing.text


def test_the_claims_view_counts_each_state_and_filters_by_url(
    desk: Desk, app_for: Callable[[str | None], TestClient]
) -> None:
    ann = app_for("ann")
    page = ann.get("/claims")
    assert page.status_code == 200 and 'name="q"' in page.text
    with database.session_scope(desk.engine) as session:
        claims = session.exec(select(Claim)).all()
        states = {c.status for c in claims}
    assert f"{len(claims)} claims" in page.text
    state = sorted(states)[0]
    filtered = ann.get("/claims", params={"state": state})
    rows = filtered.text.count("<tr data-claim=")
    assert (
        rows == sum(1 for c in claims if c.status == state) and f'value="{state}" selected' in filtered.text
    )
    assert app_for(None).get("/claims").status_code == 303
