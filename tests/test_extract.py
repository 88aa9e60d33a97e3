from __future__ import annotations

import pytest

from bot.extract import detect_language, extract, strip_quoted
from tests.mail import parsed


@pytest.mark.parametrize(
    ("name", "language", "who", "accounts", "orders", "wants"),
    [
        ("en-alice-best-price.eml", "en", "Alice Chen", ["81234567"], ["55667788", "55667789"], "best_price"),
        (
            "zh-hans-gbk-under-gb2312-label.eml",
            "zh-Hans",
            "王喆",
            ["81234568"],
            ["66778899", "66778900"],
            "restore",
        ),
        ("zh-hant-big5.eml", "zh-Hant", "陳大文", ["81234569"], ["77889900"], "best_price"),
        (
            "fullwidth-digits-and-range.eml",
            "zh-Hans",
            "张伟",
            ["81234567"],
            ["55667788", "55667789", "55667790", "55667795"],
            "best_price",
        ),
        ("en-distractors-only-in-signature.eml", "en", "Grace Park", ["81234567"], ["55667788"], "restore"),
        ("qq-reply-quotes-bot-text.eml", "zh-Hans", "李明", [], ["55667790"], "unspecified"),
    ],
)
def test_extracts_who_what_and_which_numbers(
    name: str, language: str, who: str, accounts: list[str], orders: list[str], wants: str
) -> None:
    found = extract(parsed(name))
    assert found.language == language
    assert found.name == who
    assert found.account_numbers() == accounts
    assert found.order_numbers() == orders
    assert found.request == wants


def test_phone_numbers_prices_and_money_are_not_taken_for_numbers() -> None:
    found = extract(parsed("fullwidth-digits-and-range.eml"))
    everything = {c.value for c in (*found.accounts, *found.orders)}
    assert not everything & {"4008867005", "886", "7005", "2000", "13456"}


def test_numbers_in_the_bots_own_quoted_text_are_ignored() -> None:
    found = extract(parsed("qq-reply-quotes-bot-text.eml"))
    everything = {c.value for c in (*found.accounts, *found.orders)}
    assert "99990000" not in everything and "12121212" not in everything


def test_each_number_carries_its_evidence() -> None:
    found = extract(parsed("en-alice-best-price.eml"))
    assert "account number is 81234567" in found.accounts[0].evidence
    assert found.orders[0].evidence.startswith("orders 55667788")


def test_quote_markers_of_common_clients_end_the_clients_words() -> None:
    for marker in (
        "-----Original Message-----",
        "发件人: someone",
        "在 2019年6月27日 写道：",
        "On Thu, 27 Jun 2019, Bob wrote:",
    ):
        assert strip_quoted(f"mine\n{marker}\ntheirs") == "mine"


def test_language_needs_more_than_one_chinese_character() -> None:
    assert detect_language("Order 1 at 中") == "en"
    assert detect_language("請恢復我的訂單") == "zh-Hant"
    assert detect_language("请恢复我的订单") == "zh-Hans"
