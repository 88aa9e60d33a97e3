from __future__ import annotations

import email
import json
import os
import signal
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.cli import main
from bot.config import Settings
from bot.demo.run import deliver
from bot.storage import database
from bot.storage.tables import Claim
from tests import ROOT
from tests.mail.test_cycle import write_config
from tests.messages import DEMO_MAIL, TEST_MAIL, eml


def claimsbot(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_demo_runs_the_whole_pipeline_by_itself(tmp_path: Path) -> None:
    result = claimsbot("demo", "--data-dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "cycle 1: read 6 messages: 1 automated, 4 claim, 1 quarantined" in out
    assert "order 55667788 (category 1): best price 1.13634 -> 316.00 USD" in out
    assert "order 66778899 (category 2): best price 1406.99 -> 1,179.00 USD; restore -> 980.00 USD" in out
    # One letter to each client whose offer was ready at once (the offer acknowledges the claim).
    assert "cycle 2: 0 new messages, 4 replies sent" in out
    assert "cycle 3: 1 new message (the client's consent, in Chinese)" in out
    assert "cycle 4: 2 replies sent" in out
    assert "offer_sent -> consented" in out and "consented -> settled" in out
    assert "last cycle (nothing new): 0 new messages, 0 replies sent" in out
    sent = sorted((tmp_path / "demo" / "sent").glob("*.eml"))
    assert len(sent) == 6
    chinese = email.message_from_bytes(sent[2].read_bytes(), policy=policy.default)
    assert "赔偿方案" in chinese["Subject"]
    text = chinese.get_body(("plain",)).get_content().split("English version")[0]
    assert "收到" in text and "UTC+08:00的" in text and "示例市场有限公司" in text and " UTC " not in text
    assert "Traceback" not in result.stderr


def test_extract_json_keeps_its_stable_keys() -> None:
    result = claimsbot("extract", str(DEMO_MAIL / "zh-hant-big5.eml"), "--json")
    found = json.loads(result.stdout)
    assert {k: found[k] for k in ("language", "name", "accounts", "orders", "request", "consent")} == {
        "language": "zh-Hant",
        "name": "陳大文",
        "accounts": ["81234569"],
        "orders": ["77889900"],
        "request": "best_price",
        "consent": None,
    }


def test_extract_on_a_broken_message_says_why_in_one_line() -> None:
    result = claimsbot("extract", str(TEST_MAIL / "broken-mime-boundary.eml"))
    assert result.returncode == 1
    assert result.stderr.startswith("claimsbot: error:") and "broken MIME" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_mailbox_is_one_line_and_names_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n[imap]\nhost = "127.0.0.1"\nport = 9\nssl = false\ntimeout = 2\n'
    )
    assert main(["run", "--once", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("claimsbot: error: IMAP 127.0.0.1:9") and err.count("\n") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_worker_polls_until_sigterm_then_exits_cleanly(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    config = write_config(settings, tmp_path / "worker.toml")
    env = {
        "CLAIMSBOT_IMAP_PASSWORD": settings.imap.password.get_secret_value(),
        "CLAIMSBOT_POLL_SECONDS": "1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deliver(settings, [("alice", eml("en-alice-best-price.eml"))])
        deadline = time.monotonic() + 30
        claims: list[Claim] = []
        while time.monotonic() < deadline and not claims:
            time.sleep(0.3)
            with database.session_scope(engine) as session:
                claims = list(session.exec(select(Claim)).all())
        assert [c.account_login for c in claims] == ["81234567"]
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "stopping after the current cycle" in err
    assert settings.imap.password.get_secret_value() not in err
