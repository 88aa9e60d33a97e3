"""Server-side sessions: the cookie only names a session, and the table decides whether it still
counts, so logging out, logging out everywhere, a new login, ``session_hours`` and a deactivated
account end it at once; and the cookie is Secure except in the demo."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.demo import run
from bot.storage import access, database, store
from bot.storage.tables import utcnow
from bot.web import create_app, start_in_thread, stop
from bot.web.guard import SESSION_COOKIE
from tests.web.conftest import PASSWORD, Desk, csrf_of

Client = Callable[..., TestClient]


def session_id_in(cookie: str) -> str | None:
    """The session id a cookie carries (Starlette signs the cookie; it does not encrypt it)."""
    values = json.loads(base64.b64decode(cookie.split(".")[0]))
    return values.get("sid")


def replayed(app_for: Client, cookie: str) -> TestClient:
    """Another browser holding a copy of ``cookie``, as someone who copied it would."""
    thief = app_for()
    thief.cookies.set(SESSION_COOKIE, cookie)
    return thief


def post(client: TestClient, path: str, page: str = "/") -> httpx.Response:
    return client.post(path, data={"csrf": csrf_of(client.get(page).text)})


def sessions_of(desk: Desk, name: str) -> list[access.StaffSession]:
    with database.session_scope(desk.engine) as session:
        stmt = select(access.StaffSession).where(access.StaffSession.user_name == name)
        return list(session.exec(stmt).all())


def test_a_cookie_copied_before_logout_no_longer_logs_in(app_for: Client) -> None:
    client = app_for("sam")
    saved = client.cookies[SESSION_COOKIE]
    assert replayed(app_for, saved).get("/").status_code == 200, "the copy works while sam is logged in"

    assert post(client, "/logout").status_code == 303

    answer = replayed(app_for, saved).get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_log_out_everywhere_ends_every_session_of_that_person_and_no_one_else(app_for: Client) -> None:
    laptop, phone, mia = app_for("sam"), app_for("sam"), app_for("mia")
    page = laptop.get("/").text
    assert 'action="/logout-everywhere"' in page and "Log out everywhere" in page

    ended = post(laptop, "/logout-everywhere")
    assert ended.status_code == 303 and ended.headers["location"] == "/login"
    assert "You are logged out everywhere: 2 sessions ended." in laptop.get("/login").text

    assert laptop.get("/").status_code == 303 and phone.get("/").status_code == 303
    assert mia.get("/").status_code == 200
    assert post(laptop, "/logout-everywhere", "/login").headers["location"].startswith("/login?next=")


def test_each_login_gets_a_new_session_id_and_the_one_before_it_stops_working(app_for: Client) -> None:
    client = app_for()
    assert session_id_in(client.get("/login").cookies[SESSION_COOKIE]) is None, "no session before login"
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"csrf": token, "name": "sam", "password": PASSWORD})
    first = client.cookies[SESSION_COOKIE]

    # The same browser logs in again (another person at the same desk, say).
    again = client.post(
        "/login", data={"csrf": csrf_of(client.get("/").text), "name": "mia", "password": PASSWORD}
    )
    assert again.status_code == 303
    second = again.cookies[SESSION_COOKIE]

    assert session_id_in(first) != session_id_in(second)
    assert replayed(app_for, first).get("/").status_code == 303
    assert "mia (manager)" in replayed(app_for, second).get("/").text


def test_session_hours_are_counted_from_the_login_in_the_table_whatever_the_cookie_says(
    app_for: Client, desk: Desk
) -> None:
    client = app_for("sam")
    assert client.get("/").status_code == 200
    hours = desk.settings.web.session_hours
    with database.session_scope(desk.engine) as session:
        (row,) = session.exec(select(access.StaffSession)).all()
        row.created_at = utcnow() - timedelta(hours=hours, minutes=1)
        session.add(row)

    answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_deactivated_account_is_logged_out_at_its_next_request_and_stays_out_if_reactivated(
    app_for: Client, desk: Desk
) -> None:
    client = app_for("sam")

    def set_active(active: bool) -> None:
        with database.session_scope(desk.engine) as session:
            user = store.staff_user(session, name="sam")
            assert user is not None
            user.active = active
            session.add(user)

    set_active(False)
    assert client.get("/").status_code == 303
    assert [s.revoked_at is not None for s in sessions_of(desk, "sam")] == [True]
    set_active(True)
    assert client.get("/").status_code == 303, "the session ended; it does not come back"


def test_the_table_keeps_only_a_hash_of_a_random_256_bit_session_id(app_for: Client, desk: Desk) -> None:
    cookie = app_for("sam").cookies[SESSION_COOKIE]
    session_id = session_id_in(cookie)
    assert session_id is not None and len(base64.urlsafe_b64decode(session_id + "=")) == 32
    (row,) = sessions_of(desk, "sam")
    assert session_id not in json.dumps(row.model_dump(mode="json"))
    assert len(row.token_hash) == 64 and row.user_agent and row.address == "testclient"


def test_the_session_cookie_is_secure_unless_the_demo_turns_it_off(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cookie_of(client: TestClient) -> str:
        return client.get("/login").headers["set-cookie"].lower()

    secure = cookie_of(TestClient(create_app(desk.settings, desk.engine), base_url="https://testserver"))
    assert "secure" in secure and "httponly" in secure and "samesite=strict" in secure
    plain = TestClient(create_app(desk.settings, desk.engine, secure=False), base_url="https://testserver")
    assert "secure" not in cookie_of(plain)

    server, thread, url = start_in_thread(desk.settings, desk.engine)
    try:
        assert "secure" in httpx.get(f"{url}login", timeout=10).headers["set-cookie"].lower()
    finally:
        stop(server, thread)

    asked: dict[str, Any] = {}
    monkeypatch.setattr("bot.web.server.serve", lambda *args, **kwargs: asked.update(kwargs))
    run._serve(desk.settings, desk.engine, 0)
    assert asked["secure"] is False, "only the demo, on plain http://127.0.0.1, drops the flag"
