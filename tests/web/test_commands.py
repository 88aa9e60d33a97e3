"""``claimsbot users`` and ``claimsbot serve``, as staff and scripts run them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from bot.claims import approval
from bot.cli import main
from bot.cli.common import NEW_PASSWORD_VARIABLE
from bot.storage import access, database
from tests import ROOT
from tests.mail.test_cycle import write_config
from tests.web.conftest import PASSWORD, Desk


@pytest.fixture
def config(desk: Desk, tmp_path: Path) -> str:
    return str(write_config(desk.settings, tmp_path / "claimsbot.toml"))


def test_users_add_reads_the_password_from_the_environment_and_stores_only_a_hash(
    desk: Desk, config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    password = "a long enough secret phrase"
    monkeypatch.setenv(NEW_PASSWORD_VARIABLE, password)

    assert main(["users", "add", "zoe", "--role", "supervisor", "--config", config]) == 0

    assert capsys.readouterr().out == "added zoe (supervisor)\n"
    with database.session_scope(desk.engine) as session:
        user = approval.authenticate(session, name="zoe", password=password)
        assert user is not None and user.role == "supervisor"
        assert password not in user.password_hash


@pytest.mark.parametrize(
    ("arguments", "password", "message"),
    [
        (["zoe", "--role", "boss"], "a long enough secret phrase", "unknown role 'boss'"),
        (["zoe", "--role", "agent"], "short", "at least 12 characters"),
        (["ann", "--role", "agent"], "a long enough secret phrase", "a user named 'ann' already exists"),
    ],
)
def test_users_add_refuses_in_one_line_with_exit_code_2(
    config: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    password: str,
    message: str,
) -> None:
    monkeypatch.setenv(NEW_PASSWORD_VARIABLE, password)

    assert main(["users", "add", *arguments, "--config", config]) == 2

    err = capsys.readouterr().err
    assert err.startswith("claimsbot: error:") and message in err and err.count("\n") == 1


def test_users_unlock_lifts_a_login_lock_from_the_shell(
    desk: Desk, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with database.session_scope(desk.engine) as session:
        for _ in range(access.LOCKOUT_FAILURES):
            access.record_failure(session, account="ann", address="192.0.2.7")
        assert access.lock_of(session, "ann") is not None

    assert main(["users", "unlock", "ann", "--config", config]) == 0

    assert capsys.readouterr().out == "unlocked ann\n"
    with database.session_scope(desk.engine) as session:
        assert access.lock_of(session, "ann") is None
        assert access.refusal(session, account="ann", address="192.0.2.7") == ""
    assert main(["users", "unlock", "ann", "--config", config]) == 2
    assert "'ann' is not locked" in capsys.readouterr().err


def test_users_disable_ends_that_persons_open_session_at_once(
    desk: Desk, config: str, app_for: Callable[[str | None], TestClient], capsys: pytest.CaptureFixture[str]
) -> None:
    ann = app_for("ann")
    assert ann.get("/").status_code == 200

    assert main(["users", "disable", "ann", "--config", config]) == 0

    assert capsys.readouterr().out == "disabled ann; 1 open sessions ended\n"
    answer = ann.get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    with database.session_scope(desk.engine) as session:
        assert approval.authenticate(session, name="ann", password=PASSWORD) is None
        change = access.changes(session, user="ann")[-1]
        assert change.change == "disabled" and change.by.startswith("command line (")
    assert main(["users", "enable", "ann", "--config", config]) == 0
    assert app_for("ann").get("/").status_code == 200


def test_users_list_set_role_and_reset_password(
    desk: Desk, config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "list", "--config", config]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert any(line.split()[:3] == ["ann", "agent", "enabled"] for line in listed), listed

    assert main(["users", "set-role", "ann", "supervisor", "--config", config]) == 0
    assert capsys.readouterr().out == "ann is now a supervisor\n"
    monkeypatch.setenv(NEW_PASSWORD_VARIABLE, "another long enough phrase")
    assert main(["users", "reset-password", "ann", "--config", config]) == 0
    with database.session_scope(desk.engine) as session:
        assert approval.authenticate(session, name="ann", password=PASSWORD) is None
        user = approval.authenticate(session, name="ann", password="another long enough phrase")
        assert user is not None and user.role == "supervisor"
        assert [c.change for c in access.changes(session, user="ann")] == [
            "added",
            "role changed",
            "password reset",
        ]

    for arguments, message in (
        (["disable", "nobody"], "no user named 'nobody'"),
        (["set-role", "ann", "boss"], "unknown role 'boss'"),
        (["enable", "ann"], "'ann' is already enabled"),
    ):
        assert main(["users", *arguments, "--config", config]) == 2
        err = capsys.readouterr().err
        assert err.startswith("claimsbot: error:") and message in err and err.count("\n") == 1


def test_serve_prints_the_url_answers_and_stops_on_sigterm(config: str) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--config", config, "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CLAIMSBOT_WEB_SECRET": "s" * 40},
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("approval page at http://127.0.0.1:"), line
        url = line.split()[3]
        answer = httpx.get(f"{url}healthz", timeout=10).json()
        assert (answer["status"], answer["database"]) == ("ok", "ok")
        assert httpx.get(url, timeout=10).headers["location"] == "/login?next=/"
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "Traceback" not in err
