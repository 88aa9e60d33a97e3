"""HTML to text, whatever the markup holds."""

from __future__ import annotations

import pytest

from bot.stages.markup import html_to_text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<a" * 1000, "<a" * 1000),
        ("</</</", "</</</"),
        ("<p>hi</p><![ foo", "hi <![ foo"),
        ("a < b and c > d", "a < b and c > d"),
        ("<table><tr><td>81234567</td><td>55667788</td></tr></table>", "81234567\t55667788"),
    ],
)
def test_unclosed_and_broken_markup_is_read_as_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text
