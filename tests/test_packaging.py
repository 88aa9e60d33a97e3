"""A plain ``pip install .`` (not editable) carries everything the program reads at run time."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (found,) = out.glob("claimsbot-*.whl")
    return found


def test_the_wheel_carries_every_template_and_page(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = sorted(p.name for p in (ROOT / "templates").glob("*.j2"))
    assert len(templates) > 100
    assert [t for t in templates if f"bot/templates/{t}" not in names] == []
    pages = [p.relative_to(ROOT).as_posix() for p in (ROOT / "bot" / "web" / "pages").glob("*.html")]
    assert pages and [p for p in pages if p not in names] == []
    assert "bot/storage/migrations/versions/0001_initial_schema.py" in names
    assert any(n.startswith("bot/demo/mail/") and n.endswith(".eml") for n in names)


def test_the_installed_wheel_runs_the_demo_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed copy comes first on the path; the dependencies are this environment's.
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import bot, bot.config as c; print(bot.__file__, c.DEFAULT_TEMPLATES)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    module, templates = where.stdout.split()
    assert module.startswith(str(target)) and templates == str(target / "bot" / "templates"), where.stdout
    demo = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--data-dir", str(tmp_path / "data")],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    sent = list((tmp_path / "data" / "sent").glob("*.eml"))
    assert len(sent) >= 6, demo.stdout
