from __future__ import annotations

import pytest

from bot.stages.classify import Kind, classify
from tests.messages import parsed

OWN = frozenset({"complaint@broker.example"})


def verdict(name: str):  # type: ignore[no-untyped-def]
    return classify(parsed(name), own_addresses=OWN, reference_prefix="CLM")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("auto-reply-out-of-office.eml", "Auto-Submitted"),
        ("bounce-dsn.eml", "multipart/report"),
        ("auto-reply-subject-only.eml", "subject of an automatic reply"),
        ("mailing-list-digest.eml", "List-Id"),
        ("own-reply-looped-back.eml", "bot's own address"),
    ],
)
def test_automated_mail_is_never_treated_as_a_complaint(name: str, reason: str) -> None:
    result = verdict(name)
    assert result.kind is Kind.AUTOMATED
    assert reason in result.reason


def test_new_complaint() -> None:
    assert verdict("en-alice-best-price.eml").kind is Kind.COMPLAINT


def test_followup_with_reference_in_subject_names_the_claim() -> None:
    result = verdict("followup-with-reference.eml")
    assert result.kind is Kind.FOLLOWUP
    assert result.reference == "CLM-2026-000001"


def test_unrelated_mail_is_not_a_complaint() -> None:
    assert verdict("not-a-complaint-newsletter.eml").kind is Kind.NOT_COMPLAINT


def test_a_question_about_something_else_is_no_complaint_though_it_names_an_account() -> None:
    found = verdict("withdrawal-question-naming-an-account.eml")
    assert found.kind is Kind.NOT_COMPLAINT and found.other_topic == "a withdrawal"
    assert "a person answers" in found.reason


def test_a_complaint_about_the_outage_stays_one_whatever_else_it_mentions() -> None:
    found = verdict("withdrawal-complaint-after-the-outage.eml")
    assert found.kind is Kind.COMPLAINT and found.other_topic == ""


def test_a_deposit_question_naming_the_outage_in_passing_is_about_the_deposit() -> None:
    found = verdict("deposit-asks-about-the-outage.eml")
    assert found.kind is Kind.NOT_COMPLAINT and found.other_topic == "a deposit"


def test_a_client_who_asks_for_no_adjustment_makes_no_claim() -> None:
    found = verdict("no-trades-no-claim.eml")
    assert found.kind is Kind.NOT_COMPLAINT and found.other_topic == "a question that claims nothing"


def test_harm_from_the_outage_without_a_number_is_a_complaint() -> None:
    assert verdict("cantonese-affected-no-numbers.eml").kind is Kind.COMPLAINT


def test_see_the_attached_letter_is_read_for_a_claim() -> None:
    assert verdict("see-the-attached-letter.eml").kind is Kind.COMPLAINT


def test_a_login_problem_since_the_outage_with_nothing_to_compensate_is_about_the_login() -> None:
    found = verdict("login-since-the-outage-no-positions.eml")
    assert found.kind is Kind.NOT_COMPLAINT and found.other_topic == "a login"
