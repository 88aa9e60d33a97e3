"""The page in three languages: every word marked in the templates and the web modules has a
translation in both Chinese catalogues, and a person's choice, or their browser, decides."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.claims.staff import ROLES
from bot.stages.match import Outcome
from bot.storage.tables import MessageStatus, ReplyStatus, State
from bot.web import language, vocabulary

WEB = Path(language.__file__).parent
METHODS = [("pages/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"pages/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}}


def marked() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(WEB, METHODS, OPTIONS):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("code", ["zh-Hans", "zh-Hant"])
def test_every_marked_word_of_the_page_is_translated(code: str) -> None:
    with (language.CATALOGUES / f"{code}.po").open("rb") as po:
        catalog = read_po(po)
    translated = {
        m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and m.string and not m.fuzzy
    }
    words = marked()
    assert len(words) > 200
    assert sorted(words - translated) == []


def test_every_stored_word_the_page_shows_is_in_the_vocabulary() -> None:
    listed = {
        *vocabulary.STATES, *vocabulary.REPLY_STATUSES, *vocabulary.MESSAGE_STATUSES, *vocabulary.OUTCOMES,
        *vocabulary.ROLES,
    }  # fmt: skip
    stored = {*(s.value for s in State), *(s.value for s in ReplyStatus), *(s.value for s in MessageStatus)}
    assert stored | {o.value for o in Outcome} | set(ROLES) <= listed


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-TW,zh;q=0.9,en;q=0.8", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("zh-Hant-HK", "zh-Hant"),
        ("zh-CN,zh;q=0.9", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("fr-FR,en;q=0.5", "en"),
        ("de", "en"),
        ("", "en"),
        (";;,*,q=", "en"),
    ],
)
def test_a_browser_that_has_not_chosen_gets_its_first_english_or_chinese_language(
    header: str, expected: str
) -> None:
    assert language.negotiate(header) == expected
