"""How the code reads: ruff clean, the layers of docs/architecture.md held by import-linter, the
pure stages free of I/O, modules small, every package saying what it holds, tests laid out as
the package is."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import ROOT, TESTS

BOT = ROOT / "bot"
MAX_MODULE_LINES = 400
STAGE_MODULES = sorted(f"bot.stages.{p.stem}" for p in (BOT / "stages").glob("*.py") if p.stem != "__init__")
# What a pure stage must never bring into the process, even indirectly.
IO_MODULES = (
    "imapclient",
    "smtplib",
    "aiosmtpd",
    "starlette",
    "uvicorn",
    "psycopg",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "apscheduler",
)


def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name) or name


def _subpackages() -> list[Path]:
    return sorted(p.parent for p in BOT.glob("*/__init__.py"))


def test_code_is_ruff_clean() -> None:
    result = subprocess.run(
        [_tool("ruff"), "check", "bot", "tests", "bench"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_import_contracts_in_pyproject_hold() -> None:
    result = subprocess.run(
        [_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout, result.stdout


@pytest.mark.parametrize("module", STAGE_MODULES)
def test_a_stage_loads_no_io_library(module: str) -> None:
    script = (
        f"import sys, {module}\n"
        f"print(' '.join(sorted({{n.split('.')[0] for n in sys.modules}} & set({IO_MODULES!r}))))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} loads {result.stdout.strip()}"


def test_no_module_is_longer_than_the_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in BOT.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_every_subpackage_says_what_it_holds_and_what_it_may_import() -> None:
    for package in _subpackages():
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 12, f"{package.name}/__init__.py needs a docstring"
        if package.name in {"stages", "claims", "mail", "storage", "records", "reports", "web"}:
            assert "import" in doc, f"{package.name}/__init__.py should say what it may import"


def test_tests_are_laid_out_as_the_package_is() -> None:
    """Every test folder stands for a subpackage of bot/, and every subpackage with code has one."""
    folders = {p.name for p in TESTS.iterdir() if (p / "__init__.py").exists()} - {"servers", "deploy"}
    packages = {p.name for p in _subpackages()} - {"templates"}
    assert folders - packages == set(), "test folders with no package of that name"
    assert packages - folders <= {"demo"}, "subpackages with no test folder"
