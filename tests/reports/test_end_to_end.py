"""The end-to-end scorer on a corpus small enough to know its figures by heart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.config import parse_timezone
from bot.demo.book import write_csv_book
from bot.reports import end_to_end
from tests import TESTS

CORPUS = TESTS / "data" / "e2e"


def book(tmp_path: Path) -> Path:
    folder = tmp_path / "book"
    write_csv_book(folder, parse_timezone("+03:00"))
    return folder


def test_a_claim_read_right_a_newsletter_left_alone_and_a_consent_read_score_full_marks(
    tmp_path: Path,
) -> None:
    scores = end_to_end.score(CORPUS, book(tmp_path))
    all_ = scores["all"]
    assert (all_.complaints, all_.exact, all_.foreign_credits) == (1, 1, 0)
    assert (all_.followups, all_.consents_read, all_.false_consents) == (1, 1, 0)
    assert (all_.others, all_.others_answered) == (1, 0)
    assert "exact" in end_to_end.report(scores) and "0 misses" in end_to_end.report(scores)


def test_a_label_the_pipeline_does_not_meet_is_a_miss_named_with_what_it_found(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    labels = json.loads((corpus / "labels.json").read_text())
    labels[0]["orders"] = {"81234567": ["55667788"]}  # the mail names two orders
    labels[2]["consent"] = "2"
    (corpus / "labels.json").write_text(json.dumps(labels))
    scores = end_to_end.score(corpus, book(tmp_path))
    assert scores["all"].exact == 0 and scores["all"].false_consents == 1
    assert any("55667789" in miss for miss in scores["all"].misses)


@pytest.mark.parametrize(
    ("corpus", "floor"),
    [("corpus_e2e", 0.93), ("corpus_heldout", 0.99), ("corpus_estimate", 0.98)],
)
def test_the_written_corpora_keep_what_they_taught(corpus: str, floor: float) -> None:
    """Regression floors on mail already studied (the README's rows say what unseen mail scores):
    never anyone else's order credited, never a false consent, no other topic answered."""
    scores = end_to_end.score(TESTS / corpus, TESTS / corpus / "book")["all"]
    assert scores.exact / scores.complaints >= floor, scores.misses
    assert (scores.foreign_credits, scores.false_consents, scores.others_answered) == (0, 0, 0), scores.misses
