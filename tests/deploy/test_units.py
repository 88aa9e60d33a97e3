"""The deployment files in deploy/: the systemd units pass ``systemd-analyze verify``, every
CLAIMSBOT_* variable they and the env example name is one the program reads, and the
Containerfile passes hadolint where it is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import _apply_environment
from tests import ROOT
from tests.conftest import _require

DEPLOY = ROOT / "deploy"
UNITS = ("claimsbot-worker.service", "claimsbot-web.service")
INSTALLED = "/opt/claimsbot/bin/claimsbot"
ENV_EXAMPLE = DEPLOY / "claimsbot.env.example"
SECRETS = {
    "CLAIMSBOT_IMAP_PASSWORD",
    "CLAIMSBOT_SMTP_PASSWORD",
    "CLAIMSBOT_WEB_SECRET",
    "CLAIMSBOT_IMAP_OAUTH2_CLIENT_SECRET",
    "CLAIMSBOT_SMTP_OAUTH2_CLIENT_SECRET",
    "CLAIMSBOT_DATABASE_URL",
}
VARIABLE = re.compile(r"\bCLAIMSBOT_[A-Z0-9_]*[A-Z0-9]")


def _claimsbot_script() -> str:
    """The console script of the venv running the tests, standing in for the installed one."""
    beside = Path(sys.executable).parent / "claimsbot"
    found = str(beside) if beside.exists() else shutil.which("claimsbot")
    assert found, "the claimsbot console script is not installed (pip install -e .)"
    return found


def _verify(units: list[Path]) -> subprocess.CompletedProcess[str]:
    # --man=no: a Documentation=man: line is not looked up (man pages are absent in containers);
    # SYSTEMD_LOG_LEVEL=info: warnings such as unknown keys are printed whatever the caller set.
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "info", "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""}
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture
def units(tmp_path: Path) -> list[Path]:
    """The units, with the installed venv's path swapped for this one's: verify checks that
    every Exec binary exists."""
    _require(shutil.which("systemd-analyze") is not None, "systemd-analyze (systemd)")
    script = _claimsbot_script()
    copies = []
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        assert INSTALLED in text, f"{name} should run {INSTALLED}"
        copy = tmp_path / name
        copy.write_text(text.replace(INSTALLED, script), encoding="utf-8")
        copies.append(copy)
    return copies


def test_the_units_pass_systemd_analyze_verify_without_a_warning(units: list[Path]) -> None:
    result = _verify(units)
    assert result.returncode == 0, result.stdout + result.stderr
    # Unknown keys and bad values are only warnings (exit 0): any line about our units fails.
    about_ours = [line for line in result.stderr.splitlines() if any(unit.name in line for unit in units)]
    assert about_ours == []


def test_verify_would_see_a_mistake(units: list[Path]) -> None:
    """The check above can fail: a misspelt key is reported against the unit file."""
    broken = units[0]
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("NoNewPrivileges=", "NoNewPrivilege="), encoding="utf-8"
    )
    result = _verify([broken])
    assert "Unknown key" in result.stderr and broken.name in result.stderr, result.stderr


def test_both_units_share_the_hardening() -> None:
    wanted = (
        "User=claimsbot",
        "StateDirectory=claimsbot",
        "EnvironmentFile=/etc/claimsbot/claimsbot.env",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "MemoryDenyWriteExecute=yes",
        "SystemCallArchitectures=native",
        "Restart=on-failure",
        "After=network-online.target",
        "Wants=network-online.target",
        "WantedBy=multi-user.target",
    )
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        missing = [line.strip() for line in wanted if line not in text]
        assert missing == [], f"{name} lacks {missing}"


def _env_example_names() -> list[str]:
    names = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep and value == "", f"an example holds no value: {line!r}"
            names.append(name.strip())
    return names


def test_the_env_example_lists_every_secret_empty() -> None:
    names = _env_example_names()
    assert all(name.startswith("CLAIMSBOT_") for name in names), names
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert set(names) >= SECRETS


@pytest.mark.parametrize("path", sorted(p.name for p in DEPLOY.iterdir() if p.is_file()))
def test_every_variable_the_deploy_files_name_is_one_the_program_reads(path: str) -> None:
    named = set(VARIABLE.findall((DEPLOY / path).read_text(encoding="utf-8")))
    read = set(_apply_environment({}, dict.fromkeys(named, "x")))
    assert named - read == set(), "not read by bot.config (a typo, or a key that does not exist)"


def test_the_containerfile_passes_hadolint_where_installed() -> None:
    # Not installed in CI either (no Debian package): a skip, not a failure, even there.
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed")
    result = subprocess.run(
        [hadolint, str(DEPLOY / "Containerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
