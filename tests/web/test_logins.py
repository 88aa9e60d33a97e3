"""Login limits, counted in the database: too many failures for a name or from an address are
refused without the password being checked, repeated failures lock the name until a manager
unlocks it, and every failure is logged without the password."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.claims import approval
from bot.storage import access, database, schema
from bot.storage.tables import StaffUser, utcnow
from tests.conftest import make_settings
from tests.web.conftest import PASSWORD, Desk, csrf_of

Client = Callable[..., TestClient]
WRONG = "not the password at all"
ADDRESS = "testclient"  # where Starlette's test client says requests come from


def log_in(client: TestClient, name: str, password: str) -> httpx.Response:
    return client.post(
        "/login", data={"csrf": csrf_of(client.get("/login").text), "name": name, "password": password}
    )


def age_failures(desk: Desk, seconds: float) -> None:
    """Move every recorded failure ``seconds`` into the past, as if that time had gone by."""
    with database.session_scope(desk.engine) as session:
        for row in session.exec(select(access.LoginFailure)).all():
            row.at -= timedelta(seconds=seconds)
            session.add(row)


def earlier_failures(desk: Desk, name: str, count: int, minutes_ago: float) -> None:
    """``count`` failed logins for ``name`` from the test client, ``minutes_ago``."""
    with database.session_scope(desk.engine) as session:
        for _ in range(count):
            at = utcnow() - timedelta(minutes=minutes_ago)
            access.record_failure(session, account=name, address=ADDRESS, now=at)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names whose password was checked (an Argon2 verification), in order."""
    names: list[str] = []
    real = approval.authenticate

    def counting(session: object, *, name: str, password: str) -> StaffUser | None:
        names.append(name)
        return real(session, name=name, password=password)  # type: ignore[arg-type]

    monkeypatch.setattr(approval, "authenticate", counting)
    return names


def test_the_eleventh_wrong_password_in_a_minute_is_refused_unchecked_even_when_it_is_right(
    app_for: Client, desk: Desk, checked: list[str]
) -> None:
    client = app_for()
    for _ in range(access.ACCOUNT_LIMIT):
        refused = log_in(client, "sam", WRONG)
        assert refused.status_code == 401 and "Wrong name or password." in refused.text

    right = log_in(client, "sam", PASSWORD)
    assert right.status_code == 429
    assert "Too many failed logins for this name: wait a minute" in right.text
    assert checked == ["sam"] * access.ACCOUNT_LIMIT, "the right password was not even looked at"
    assert client.get("/").status_code == 303
    assert log_in(app_for(), "mia", PASSWORD).status_code == 303, "other names are not held up"

    age_failures(desk, 61)
    assert log_in(client, "sam", PASSWORD).status_code == 303
    assert client.get("/").status_code == 200


def test_too_many_failures_from_one_address_refuse_every_name_from_it(
    app_for: Client, desk: Desk, checked: list[str]
) -> None:
    for number in range(access.ADDRESS_LIMIT):
        earlier_failures(desk, f"guess{number}", 1, minutes_ago=0)

    refused = log_in(app_for(), "sam", PASSWORD)
    assert refused.status_code == 429 and "from your address: wait a minute" in refused.text
    assert checked == []
    age_failures(desk, 61)
    assert log_in(app_for(), "mia", PASSWORD).status_code == 303


def test_repeated_failures_lock_a_name_until_a_manager_unlocks_it_in_the_page(
    app_for: Client, desk: Desk, checked: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    earlier_failures(desk, "ann", access.LOCKOUT_FAILURES - 1, minutes_ago=5)
    caplog.set_level(logging.INFO)
    assert log_in(app_for(), "ann", WRONG).status_code == 401
    assert "login locked for 'ann' after 20 failures" in caplog.text

    age_failures(desk, 3600)  # an hour later the failures are forgotten, but the lock holds
    locked = log_in(app_for(), "ann", PASSWORD)
    assert locked.status_code == 429 and "locked after repeated failed logins" in locked.text
    assert checked == ["ann"]

    sam, mia = app_for("sam"), app_for("mia")
    assert sam.get("/logins").status_code == 403
    page = mia.get("/logins").text
    assert '<tr data-locked="ann">' in page and 'href="/logins"' in page
    unlock = {"csrf": csrf_of(page), "name": "ann"}
    refused = sam.post("/logins/unlock", data={**unlock, "csrf": csrf_of(sam.get("/").text)})
    assert refused.status_code == 403 and "only a manager or above may unlock a login" in refused.text
    assert log_in(app_for(), "ann", PASSWORD).status_code == 429

    assert mia.post("/logins/unlock", data=unlock).status_code == 303
    assert "&#39;ann&#39; is unlocked" in mia.get("/logins").text
    assert "mia unlocked the login of 'ann'" in caplog.text
    assert log_in(app_for(), "ann", PASSWORD).status_code == 303


def test_failures_are_logged_with_staff_names_but_never_a_password(
    app_for: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = app_for()
    log_in(client, "sam", "sam's mistyped secret")
    log_in(client, "my own real password", PASSWORD)  # a password typed in the name box

    assert "login failed for 'sam' from testclient (1 failures in 15 minutes)" in caplog.text
    assert "login failed for an unknown name from testclient" in caplog.text
    for secret in ("sam's mistyped secret", "my own real password", PASSWORD):
        assert secret not in caplog.text


@pytest.mark.parametrize("database_url", ["postgres", "sqlite"], indirect=True)
def test_concurrent_guesses_cannot_all_slip_under_the_limit_together(
    database_url: str, tmp_path: Path
) -> None:
    """Web processes share the database: twenty guesses at once, each from its own connection."""
    engine = schema.open_engine(make_settings(tmp_path / "data", database_url=database_url))
    start, checked = threading.Barrier(20), []

    def guess(number: int) -> None:
        start.wait()
        address = f"198.51.100.{number}"
        with database.session_scope(engine) as session:
            if access.refusal(session, account="sam", address=address) == "":
                time.sleep(0.02)  # the password check
                checked.append(number)
                access.record_failure(session, account="sam", address=address)

    guesses = [threading.Thread(target=guess, args=(number,)) for number in range(20)]
    for thread in guesses:
        thread.start()
    for thread in guesses:
        thread.join(60)
    assert len(checked) == access.ACCOUNT_LIMIT
