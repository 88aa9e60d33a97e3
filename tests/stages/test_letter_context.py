"""A letter's context kept as JSON gives back the very values its text was drafted from: the
HTML part drafted later from it is the one drafted at once, for every kind and language."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.config import DEFAULT_TEMPLATES
from bot.stages import letter_context
from bot.stages.draft import KINDS, PerLanguage, draft, draft_html
from bot.stages.extract import LANGUAGES
from tests.stages.reply_contexts import SAMPLES


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_html_drafted_from_the_kept_context_is_the_one_drafted_at_once(kind: str, language: str) -> None:
    context = SAMPLES[kind]
    kept = letter_context.decode(letter_context.encode(context))
    assert kept == context
    later = draft_html(kind, language, kept, templates_dir=DEFAULT_TEMPLATES)
    assert later == draft(kind, language, context, templates_dir=DEFAULT_TEMPLATES).html
    assert draft(kind, language, context, templates_dir=DEFAULT_TEMPLATES, html=False).html == ""


def test_values_keep_their_type_digits_and_zone() -> None:
    hong_kong = datetime(2019, 7, 27, 23, 59, tzinfo=ZoneInfo("Asia/Hong_Kong"))
    context = {
        "amount": Decimal("72.6050"),
        "at": hong_kong,
        "day": hong_kong.date(),
        "pair": ("USD", Decimal("1.0")),
        "said": PerLanguage({"en": "Hello", "zh-Hans": "您好"}),
    }
    kept = letter_context.decode(letter_context.encode(context))
    assert kept == context
    assert str(kept["amount"]) == "72.6050" and kept["at"].tzinfo == ZoneInfo("Asia/Hong_Kong")
    assert isinstance(kept["said"], PerLanguage) and isinstance(kept["pair"], tuple)


def test_a_value_it_cannot_give_back_is_refused_when_the_letter_is_drafted() -> None:
    with pytest.raises(TypeError, match="set"):
        letter_context.encode({"tickets": {"1", "2"}})
    with pytest.raises(TypeError, match="mapping"):
        letter_context.encode({"odd": {1: "a"}})


def test_an_integer_orjson_cannot_write_is_kept_all_the_same() -> None:
    context = {"ticket": 2**70, "amount": Decimal("1.5")}
    assert letter_context.decode(letter_context.encode(context)) == context
