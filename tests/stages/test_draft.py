from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import DEFAULT_TEMPLATES
from bot.stages.draft import (
    DEFAULT_NAMES,
    HTML_SEPARATOR,
    KINDS,
    SEPARATOR,
    VARIABLES,
    TemplateProblem,
    check_templates,
    draft,
    option_totals,
)
from bot.stages.extract import LANGUAGES
from tests.stages.reply_contexts import SAMPLES


def test_the_samples_give_exactly_what_the_bot_provides() -> None:
    assert set(SAMPLES) == set(KINDS)
    for kind, context in SAMPLES.items():
        assert set(context) == VARIABLES[kind] - {"language"}, kind


def test_the_shipped_templates_pass_the_load_time_check() -> None:
    check_templates(DEFAULT_TEMPLATES)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_template_renders_in_every_language(kind: str, language: str) -> None:
    reply = draft(kind, language, SAMPLES[kind], templates_dir=DEFAULT_TEMPLATES)
    assert "CLM-2019-000042" in reply.subject
    assert reply.body.strip() and reply.html.strip()
    assert (SEPARATOR in reply.body) == (language != "en")
    assert (HTML_SEPARATOR in reply.html) == (language != "en")
    assert "{{" not in reply.body and "{%" not in reply.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_offer_names_every_order_amount_and_how_to_consent(language: str) -> None:
    reply = draft("offer", language, SAMPLES["offer"], templates_dir=DEFAULT_TEMPLATES)
    mine = reply.body.split(SEPARATOR)[0]
    for ticket in ("55667788", "55667789", "12345678"):
        assert ticket in mine
    assert "Financial Ombudsman" in reply.body.split(SEPARATOR)[-1]
    expected = {"en": "1,179.00 US dollars", "zh-Hans": "1,179.00美元", "zh-Hant": "1,179.00 美元"}[language]
    assert expected in mine
    assert "12,345.67" in mine
    if language != "en":
        assert "同意" in mine


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_offer_over_two_accounts_names_each_order_account(language: str) -> None:
    second = {**SAMPLES["offer"]["orders"][1], "account": "81234568"}
    context = {
        **SAMPLES["offer"],
        "accounts": ["81234567", "81234568"],
        "orders": [SAMPLES["offer"]["orders"][0], second],
    }
    reply = draft("offer", language, context, templates_dir=DEFAULT_TEMPLATES)
    mine = reply.body.split(SEPARATOR)[0]
    word = {"en": "account ", "zh-Hans": "账户 ", "zh-Hant": "帳戶 "}[language]
    assert f"{word}81234568" in mine and f"{word}81234567" in mine
    assert "81234568" in reply.html
    ack = {**SAMPLES["acknowledgement"], "accounts": ["81234567", "81234568"]}
    letter = draft("acknowledgement", language, ack, templates_dir=DEFAULT_TEMPLATES)
    assert "81234567" in letter.body and "81234568" in letter.body


def test_html_escapes_what_clients_and_staff_wrote() -> None:
    context = {**SAMPLES["rejected"], "name": "<script>alert(1)</script>", "reason": "a < b & c"}
    reply = draft("rejected", "en", context, templates_dir=DEFAULT_TEMPLATES)
    assert "<script>" not in reply.html and "&lt;script&gt;" in reply.html
    assert "a &lt; b &amp; c" in reply.html
    assert "<script>alert(1)</script>" in reply.body


def test_unverified_sender_reply_reveals_no_number_but_the_reference() -> None:
    for language in LANGUAGES:
        reply = draft(
            "unverified_sender", language, SAMPLES["unverified_sender"], templates_dir=DEFAULT_TEMPLATES
        )
        digits = {w.strip(".,:;()") for w in reply.body.replace("CLM-2019-000042", "").split() if w.isdigit()}
        assert not {d for d in digits if len(d) >= 5}, digits


def test_a_template_using_an_unknown_value_fails_at_load_time(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_TEMPLATES, tmp_path / "t")
    (tmp_path / "t" / "offer.zh-Hant.html.j2").write_text("Dear {{ nickname }}")
    with pytest.raises(TemplateProblem, match=r"offer\.zh-Hant\.html\.j2: uses nickname"):
        check_templates(tmp_path / "t")


def test_a_missing_template_is_named(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_TEMPLATES, tmp_path / "t")
    (tmp_path / "t" / "reminder.zh-Hans.txt.j2").unlink()
    with pytest.raises(TemplateProblem, match=r"reminder\.zh-Hans\.txt\.j2: template missing"):
        check_templates(tmp_path / "t")


def test_drafting_without_a_value_the_kind_needs_fails(tmp_path: Path) -> None:
    context = dict(SAMPLES["offer"])
    del context["orders"]
    with pytest.raises(TemplateProblem, match="orders"):
        draft("offer", "en", context, templates_dir=DEFAULT_TEMPLATES)


def test_templates_run_sandboxed(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_TEMPLATES, tmp_path / "t")
    (tmp_path / "t" / "offer.en.txt.j2").write_text("{{ name.__class__.__mro__ }}")
    with pytest.raises(TemplateProblem):
        draft("offer", "en", SAMPLES["offer"], templates_dir=tmp_path / "t")


def test_an_offer_for_two_orders_states_the_total_of_each_option_at_the_top() -> None:
    sample = SAMPLES["offer"]
    assert option_totals(sample["orders"]) == sample["totals"]
    for language in ("en", "zh-Hans", "zh-Hant"):
        letter = draft("offer", language, sample, templates_dir=DEFAULT_TEMPLATES)
        for part in (letter.body, letter.html):
            first_order = part.index("55667788")
            assert part.index("13,524.67") < first_order and part.index("13,325.67") < first_order, language


def test_the_totals_take_the_other_option_where_an_order_has_only_one() -> None:
    def order(currency: str, *remedies: tuple[int, str]) -> dict[str, object]:
        return {
            "currency": currency,
            "remedies": [{"number": n, "amount": Decimal(a)} for n, a in remedies],
        }

    orders = [order("USD", (1, "10.00"), (2, "7.50")), order("USD", (2, "3.00")), order("JPY", (1, "500"))]
    assert option_totals(orders) == [  # type: ignore[arg-type]
        {"number": 1, "amounts": [("JPY", Decimal("500")), ("USD", Decimal("13.00"))]},
        {"number": 2, "amounts": [("JPY", Decimal("500")), ("USD", Decimal("10.50"))]},
    ]


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("en", "July 27, 2019, 23:59 Hong Kong Standard Time (UTC+08:00)"),
        ("zh-Hans", "2019年7月27日 23:59（香港标准时间，UTC+08:00）"),
        ("zh-Hant", "2019年7月27日 23:59（香港標準時間，UTC+08:00）"),
    ],
)
def test_the_consent_deadline_is_given_with_its_time_and_zone(language: str, shown: str) -> None:
    for kind in ("offer", "reminder"):
        letter = draft(kind, language, SAMPLES[kind], templates_dir=DEFAULT_TEMPLATES)
        assert shown in letter.body and shown in letter.html, kind


@pytest.mark.parametrize("language", ["zh-Hans", "zh-Hant"])
def test_the_english_copy_of_a_chinese_letter_to_an_unnamed_client_is_english(language: str) -> None:
    unnamed = {**SAMPLES["acknowledgement"], "name": DEFAULT_NAMES[language]}
    letter = draft("acknowledgement", language, unnamed, templates_dir=DEFAULT_TEMPLATES)
    chinese, english = letter.body.split(SEPARATOR)
    assert DEFAULT_NAMES[language] in chinese
    assert "Dear client" in english and DEFAULT_NAMES[language] not in english
    named = draft("acknowledgement", language, SAMPLES["acknowledgement"], templates_dir=DEFAULT_TEMPLATES)
    assert "Dear Alice Chen" in named.body.split(SEPARATOR)[1]
