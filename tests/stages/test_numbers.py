"""Numbers as clients type and paste them."""

from __future__ import annotations

import unicodedata

import pytest

from bot.stages.masking import joined_digit_groups
from bot.stages.numbers import find_numbers


def _found(text: str):  # type: ignore[no-untyped-def]
    """As extraction calls it: NFKC-normalised, in a message about the outage."""
    return find_numbers(unicodedata.normalize("NFKC", text), context="stopped out in the outage")


def orders_in(text: str) -> list[str]:
    _, orders = _found(text)
    return [c.value for c in orders if c.confidence >= 0.5]


def accounts_in(text: str) -> list[str]:
    accounts, _ = _found(text)
    return [c.value for c in accounts if c.confidence >= 0.5]


@pytest.mark.parametrize(
    ("text", "account", "orders"),
    [
        ("帳號 a/c：7020-1951\n單號：6020-3814、6020-3767", "70201951", ["60203814", "60203767"]),
        ("Account 70,205,516 ticket 60,200,495 and 60,200,516", "70205516", ["60200495", "60200516"]),
        ("a/c 53-108-842, order 6 0 2 0 1 6 1 0 stopped out", "53108842", ["60201610"]),
        ("MT4 account 7020 1951, orders 6020 3814 and 6020 3767", "70201951", ["60203814", "60203767"]),
    ],
)
def test_dashes_separators_and_spaces_inside_a_number(text: str, account: str, orders: list[str]) -> None:
    assert accounts_in(text) == [account]
    assert orders_in(text) == orders


def test_joining_keeps_every_offset() -> None:
    text = "單號：6020-3814、70,205,516 end"
    joined = joined_digit_groups(text)
    assert len(joined) == len(text) and joined.index("end") == text.index("end")
    assert "60203814" in joined and "70205516" in joined


@pytest.mark.parametrize(
    "text",
    [
        "call me on 0928-123-456",
        "Tel: 139 0123 4567",
        "I lost USD 8,828.00 and 1,407.00",
        "on 2019-06-26 at 21:08",
    ],
)
def test_phones_amounts_and_dates_stay_apart(text: str) -> None:
    _, orders = _found(f"Order number: {text}")
    assert not [c for c in orders if c.confidence >= 0.5]


def test_a_ticket_before_a_currency_pair_is_not_an_amount() -> None:
    assert orders_in("订单号:\n60201610 美元/离岸人民币 买入2手") == ["60201610"]


def test_a_range_written_backwards_is_the_same_range() -> None:
    assert orders_in("單號 60203334~60203332 共三筆") == ["60203332", "60203333", "60203334"]


@pytest.mark.parametrize(
    "text",
    ["我的票号60403020~60403023，一共4张单", "我账户70404490，从60404470到60404473这四张日元多单"],
)
def test_every_ticket_of_a_range_is_a_candidate(text: str) -> None:
    _, orders = _found(text)
    found = {c.value for c in orders}
    start = "60403020" if "票号" in text else "60404470"
    assert {str(int(start) + i) for i in range(4)} <= found


@pytest.mark.parametrize(
    ("text", "ticket"),
    [
        ("佢話佢手機啲金價唔對路，我即刻開手機睇，發現我張金單（60602339）個價亂晒", "60602339"),
        ("仲有張EUR 60603017，開價1.14448，離晒譜。", "60603017"),
    ],
)
def test_a_ticket_near_a_phone_word_or_a_currency_is_still_a_ticket(text: str, ticket: str) -> None:
    _, orders = _found(text)
    assert ticket in {c.value for c in orders}


def test_a_phone_number_after_its_label_is_still_masked() -> None:
    _, orders = _found("手機: 9123 4567，order 60602339")
    assert {c.value for c in orders} == {"60602339"}


@pytest.mark.parametrize(
    ("text", "left_out", "kept"),
    [
        (
            "Orders 60500884 and 60501352. The AUDUSD trade (60501965) was fine, no issue there.",
            "60501965",
            "60500884",
        ),
        (
            "订单号分别为 60501337 和 60501346。另外25号那单澳元（60500288）是正常的，不用管。",
            "60500288",
            "60501337",
        ),
        ("all my orders except 60501999 were stopped out: 60501998, 60501997", "60501999", "60501998"),
        ("金嗰張單係60500479，呢兩張單本身冇問題。之後全部斬晒", "", "60500479"),
    ],
)
def test_an_order_named_only_to_be_left_out_is_not_claimed(text: str, left_out: str, kept: str) -> None:
    _, orders = _found(text)
    found = {c.value for c in orders}
    assert kept in found and (not left_out or left_out not in found)


def test_thousands_of_ranges_give_a_bounded_number_of_candidates() -> None:
    text = "my orders: " + " ".join(f"{10_000_000 + i * 100}-49" for i in range(2_000))
    _, orders = _found(text)
    assert 500 <= len(orders) < 2_000 * 2, "ranges expand to at most 500 tickets a message"
