"""Amounts of money read from a letter's text, however a person writes them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.claims import amounts


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("We will pay you 50,000 US dollars.", "50000", "USD"),
        ("a credit of USD 50000 today", "50000", "USD"),
        ("a credit of $50,000.00 today", "50000", "USD"),
        ("US$ 50,000", "50000", "USD"),
        ("我们将赔偿50,000美元。", "50000", "USD"),
        ("我们将赔偿5万美元。", "50000", "USD"),
        ("我们将赔偿五万美元。", "50000", "USD"),
        ("賠償一百五十萬港元", "1500000", "HKD"),
        ("a 1.5 million USD settlement", "1500000", "USD"),
        ("50k dollars", "50000", "USD"),
        ("50.000,00 EUR", "50000", "EUR"),
        ("we will credit 50,000 to your account", "50000", ""),
    ],
)
def test_amounts_are_read_in_english_and_chinese_with_a_code_a_sign_or_a_word(
    text: str, amount: str, currency: str
) -> None:
    assert amounts.stated_amounts(text) == {(Decimal(amount), currency)}


def test_order_numbers_prices_and_dates_are_not_amounts() -> None:
    assert amounts.stated_amounts("order 55667788 at 1.23456 on 2026.07.05, account 81234567") == set()


def test_an_edit_adds_the_amounts_the_draft_did_not_state_however_they_are_written() -> None:
    drafted = "Option 1: 1,739.00 USD. Option 2: 529.00 USD. Kind regards"
    assert amounts.added_amounts(drafted, "Option 1: USD 1739. Option 2: $529.00. Warm regards") == []
    assert amounts.added_amounts(drafted, "Option 1: 17,390.00 USD. Option 2: 529.00 USD.") == [
        (Decimal("17390.00"), "USD")
    ]
    assert amounts.added_amounts(drafted, drafted + " Also 1,739.00 EUR.") == [(Decimal("1739.00"), "EUR")]
