"""Floors under the extractor's figures on the labelled corpus, so that they cannot quietly fall."""

from __future__ import annotations

import pytest

from bot.reports.evaluate import evaluate
from tests import TESTS

CORPUS = TESTS / "corpus"


@pytest.fixture(scope="module")
def scores():  # type: ignore[no-untyped-def]
    return evaluate(CORPUS)


@pytest.mark.parametrize("language", ["en", "zh-Hans", "zh-Hant"])
def test_account_and_order_numbers_meet_their_floors(scores, language: str) -> None:  # type: ignore[no-untyped-def]
    s = scores[language]
    assert s.messages >= 50
    for field in ("accounts", "orders"):
        assert s.numbers[field].precision >= 0.99, s.mistakes
        assert s.numbers[field].recall >= 0.97, s.mistakes


def test_language_and_script_are_right(scores) -> None:  # type: ignore[no-untyped-def]
    assert scores["all"].rate("language") >= 0.99, scores["all"].mistakes


def test_no_false_consent(scores) -> None:  # type: ignore[no-untyped-def]
    assert scores["all"].false_consent == []
    assert scores["all"].consent.true_positive > 0


def test_the_corpus_is_large_enough(scores) -> None:  # type: ignore[no-untyped-def]
    assert scores["all"].messages >= 200
