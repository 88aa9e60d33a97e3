"""Consent read in the light of the offer it answers."""

from __future__ import annotations

import pytest

from bot.stages.consent import bare_yes, consent

_QUOTE = (
    "On 10 Jul 2019, at 15:10, Client Claims <complaint@broker.example> wrote:\n\n"
    "> Claim reference: CLM-2026-000001\n>\n"
    "> Option 1: all of the orders above are executed at the most favourable price.\n>\n"
    "> Please reply to this email to confirm that you accept this offer.\n\n"
)


def test_an_answer_below_the_whole_quote_is_the_clients() -> None:
    assert bare_yes(f"{_QUOTE}OK\n\nEmily")
    assert consent(f"{_QUOTE}Option 1 please.\n\nThanks\nLisa").answer == "best_price"


def test_nothing_below_a_quote_is_no_answer() -> None:
    assert not bare_yes(_QUOTE)
    assert consent(_QUOTE).answer is None


def test_a_german_attribution_line_ends_the_clients_words() -> None:
    text = "Yes\n\n\nAm 12.07.2019 um 04:05 schrieb Client Services:\n> Option 1: best price\n"
    assert bare_yes(text)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (
            "Please restore the gold order as you described, and adjust the others to the best price.",
            "restore",
        ),
        ("Please restore the gold order or give me the best price, whichever is more.", None),
        ("I don't want restore, the best price please", None),
    ],
)
def test_restore_with_best_price_for_the_rest_is_option_2(text: str, answer: str | None) -> None:
    assert consent(text).answer == answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("I don't accept option 1. Please restore my positions as they were before the stop out.", "restore"),
        ("I don't agree with option 1. Option 2 please.", "restore"),
        ("I don't accept option 1. Please restore them and refund the swap.", None),
        ("I don't accept option 2. Please restore my positions.", None),
        ("I don't accept either option. Restore them.", "refused"),
    ],
)
def test_refusing_option_1_and_choosing_restore_is_option_2(text: str, answer: str | None) -> None:
    assert consent(text).answer == answer


def test_a_yes_with_thanks_is_a_bare_yes() -> None:
    assert bare_yes("好，謝謝。\n\n-----原始訊息-----\n寄件者: Client Services\n")
    assert not bare_yes("好，但係金額唔啱")


@pytest.mark.parametrize(
    "text",
    ["我不同意方案1", "I don't accept option 1.", "我不同意方案1，金額太少了，我會投訴到證監會。"],
)
def test_refusing_option_1_alone_is_left_to_what_the_offer_had(text: str) -> None:
    found = consent(text)
    assert found.answer is None and found.refuses_option_1


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Option 2 please - restore the EURUSD position and adjust the other two as described.", "restore"),
        ("OK，揀方案1，唔使恢復倉位，直接計最好價錢就得。", "best_price"),
        ("方案1，唔使恢復倉位，但係金額唔啱", None),
        ("Option 1 if you don't restore", None),
    ],
)
def test_no_need_to_restore_beside_option_1_confirms_it(text: str, answer: str | None) -> None:
    assert consent(text).answer == answer


def test_an_answer_below_a_quote_with_header_fields_is_the_clients() -> None:
    text = (
        '----- Original Message ----- \nFrom: "Client Services" <complaint@broker.example>\n'
        "To: <jhlin@example.tw>\nSubject: Your claim CLM-2026-000001: our offer\n\n\n"
        "> Option 1: all of the orders above are executed at the most favourable price.\n>\n\n好\n"
    )
    assert bare_yes(text)


def test_option_2_with_the_rest_as_in_option_1_is_option_2() -> None:
    assert consent("我选择方案二，恢复被强平的三张单，另外两张按方案一调整。").answer == "restore"
    assert consent("Option 2: restore the stopped-out ones, the rest as in option 1.").answer == "restore"


def test_an_answer_below_an_indented_quote_is_the_clients() -> None:
    text = (
        "\n\n    On Monday, 8 July 2019, 10:12:33 am HKT, Client Services <complaint@broker.example>"
        " wrote:  \n"
        " \n Dear Ms Chan,\n \n Option 1: each order above is executed at the most favourable price.\n"
        " Option 2: the force-liquidated orders are restored.\n \n Kind regards,\n Client Services\n\n"
        "Option 1 please. 唔該\n\nOlivia\n"
    )
    assert consent(text).answer == "best_price"
