from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import DEFAULT_TEMPLATES
from bot.draft import KINDS, SEPARATOR, TemplateProblem, draft
from bot.extract import LANGUAGES

CONTEXT = {
    "reference": "CLM-2026-000042",
    "name": "Alice Chen",
    "answer_within_days": 14,
    "account": "81234567",
    "incident_window": "2019-06-26 18:58 to 2019-06-27 05:30 (UTC+0800)",
    "eligible": [
        {
            "ticket": "55667788",
            "symbol": "EURUSD",
            "side": "buy",
            "lots": Decimal("1.00"),
            "category": 2,
            "currency": "USD",
            "remedies": [
                {
                    "kind": "restore",
                    "amount": Decimal("980.00"),
                    "price": Decimal("1405.00"),
                    "explanation": "x",
                },
                {
                    "kind": "best_price",
                    "amount": Decimal("1179.00"),
                    "price": Decimal("1406.99"),
                    "explanation": "y",
                },
            ],
        }
    ],
    "ineligible": [{"ticket": "12345678", "reason": "unknown_order"}],
    "listed_by_bot": False,
    "missing": ["account", "orders"],
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_template_renders_in_every_language(kind: str, language: str) -> None:
    reply = draft(kind, language, CONTEXT, templates_dir=DEFAULT_TEMPLATES)
    assert "CLM-2026-000042" in reply.subject
    assert reply.body.strip()
    assert (SEPARATOR in reply.body) == (language != "en")


def test_amounts_have_thousands_separators() -> None:
    reply = draft("assessment", "en", CONTEXT, templates_dir=DEFAULT_TEMPLATES)
    assert "1,179.00 USD" in reply.body


def test_a_template_using_an_unknown_value_fails_instead_of_printing_nothing(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_TEMPLATES, tmp_path / "t")
    (tmp_path / "t" / "assessment.en.txt.j2").write_text("Dear {{ nickname }}")
    with pytest.raises(TemplateProblem, match="nickname"):
        draft("assessment", "en", CONTEXT, templates_dir=tmp_path / "t")


def test_templates_run_sandboxed(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_TEMPLATES, tmp_path / "t")
    (tmp_path / "t" / "assessment.en.txt.j2").write_text("{{ name.__class__.__mro__ }}")
    with pytest.raises(TemplateProblem):
        draft("assessment", "en", CONTEXT, templates_dir=tmp_path / "t")
