"""Tokens from a command: cached for most of their life, run without the bot's secrets, and a
command that prints no token (or not a token) is an error that names the setting."""

from __future__ import annotations

import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.config.mail import OAuth2Settings
from bot.mail import tokens
from bot.mail.tokens import TokenError, TokenSource


def command_source(tmp_path: Path, body: str, **more: object) -> TokenSource:
    script = tmp_path / "token.py"
    script.write_text(body, encoding="utf-8")
    settings = OAuth2Settings(provider="command", command=[sys.executable, str(script)], **more)  # type: ignore[arg-type]
    return TokenSource(settings, section="imap", login="complaint")


def test_a_command_token_is_reused_for_most_of_its_life_and_renewed_after(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    source = command_source(
        tmp_path,
        f"import pathlib; p = pathlib.Path({str(runs)!r})\n"
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x')\n"
        "print('token-' + str(len(p.read_text())))\n",
        command_token_seconds=300,
        refresh_before_seconds=300,
    )
    now = datetime.now(UTC)
    assert [source.token(now + timedelta(seconds=s)) for s in (0, 10, 100)] == ["token-1"] * 3
    assert source.token(now + timedelta(seconds=200)) == "token-2", "renewed after half its life"
    source.forget()
    assert source.token(now + timedelta(seconds=201)) == "token-3"


def test_the_command_runs_without_the_bots_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMSBOT_IMAP_PASSWORD", "do-not-leak")
    monkeypatch.setenv("TOKEN_HELPER_HOME", "/srv/helper")
    source = command_source(
        tmp_path,
        "import os\n"
        "print(os.environ.get('CLAIMSBOT_IMAP_PASSWORD', 'none') + os.environ['TOKEN_HELPER_HOME'])\n",
    )
    assert source.token() == "none/srv/helper"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("import sys; sys.exit(3)\n", "exited 3 without a token"),
        ("print('')\n", "exited 0 without a token"),
        ("import sys; sys.stdout.buffer.write(b'\\xff\\xfe token')\n", "not a token"),
    ],
)
def test_a_command_that_gives_no_token_names_the_setting(tmp_path: Path, body: str, said: str) -> None:
    with pytest.raises(TokenError, match=said) as refused:
        command_source(tmp_path, body).token()
    assert str(refused.value).startswith("[imap.oauth2] provider command: command ")


def test_a_token_command_from_the_environment_is_split_as_a_shell_would(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {
            "CLAIMSBOT_IMAP_AUTH": "xoauth2",
            "CLAIMSBOT_IMAP_OAUTH2_PROVIDER": "command",
            "CLAIMSBOT_IMAP_OAUTH2_COMMAND": '"/opt/my tools/get-token" --user "a b"',
        },
    )
    assert settings.imap.oauth2.command == ["/opt/my tools/get-token", "--user", "a b"]


def test_an_identity_provider_that_never_answers_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        monkeypatch.setattr(tokens, "HTTP_TIMEOUT", 1)
        settings = OAuth2Settings(
            provider="microsoft",
            tenant="t",
            client_id="c",
            client_secret="s",  # type: ignore[arg-type]
            authority=f"https://127.0.0.1:{silent.getsockname()[1]}",
        )
        started = time.monotonic()
        with pytest.raises(TokenError, match=r"\[smtp.oauth2\] provider microsoft"):
            TokenSource(settings, section="smtp", login="complaint").token()
        assert time.monotonic() - started < 10
    finally:
        silent.close()
