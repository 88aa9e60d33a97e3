"""Money a text states, in English or Chinese: four eyes is judged on what a letter says, so an
edit that adds an amount needs the approvals an offer of that amount needs."""

from __future__ import annotations

import re
from decimal import Decimal

# Money a text states: a number with a currency code, sign or word before or after it, in English
# or Chinese, or a number written as money without one ("50,000", "1739.00"). Read generously: a
# misread can only ask for one approval too many, never one too few.
_CODE = r"US\$|HK\$|USD|HKD|EUR|GBP|CNY|CNH|RMB|JPY|AUD|CAD|CHF|SGD|NZD|USDT|[$€£¥￥]"
_WORD = (
    r"(?:US |U\.S\. |HK |Hong Kong )?dollars?|bucks|euros?|pounds?|yuan|renminbi|yen|美元|美金|港元|港币|"
    r"港幣|欧元|歐元|英镑|英鎊|人民币|人民幣|日元|日圓|元|块|塊|圆|圓"
)
_GROUPED = r"\d{1,3}(?:[,，' \u00a0\u202f]\d{3})+(?:\.\d+)?|\d{1,3}(?:\.\d{3})+(?:,\d+)?"
_DIGITS = rf"(?<![\d.,])(?:{_GROUPED}|\d+(?:[.,]\d+)?)"
_HAN = r"[零\u3007一二两兩三四五六七八九十百千万萬亿億]+"
_SCALE = r"(?:(?:k|thousand|million|mn|m|bn|billion)\b|千万|千萬|百万|百萬|千|万|萬|亿|億)"
_MONEY = re.compile(
    rf"(?P<code>{_CODE})\s*(?P<n1>{_DIGITS})\s*(?P<s1>{_SCALE})?"
    rf"|(?P<n2>{_DIGITS}|{_HAN})\s*(?P<s2>{_SCALE})?\s*(?P<word>{_CODE}|{_WORD})(?![A-Za-z])"
    r"|(?<![\d.,])(?P<n3>\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+\.\d{2})(?![\d.,]*\d)",
    re.IGNORECASE,
)
_SCALES = {"k": 3, "thousand": 3, "千": 3, "万": 4, "萬": 4, "million": 6, "mn": 6, "m": 6, "百万": 6}
_SCALES |= {"百萬": 6, "千万": 7, "千萬": 7, "亿": 8, "億": 8, "bn": 9, "billion": 9}
_HAN_DIGITS = {**{c: i for i, c in enumerate("零一二三四五六七八九")}, "\u3007": 0, "两": 2, "兩": 2}
_HAN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_SAME_CURRENCY = {
    "USD": {"$", "us$", "usd", "dollar", "us dollar", "u.s. dollar", "buck", "美元", "美金"},
    "HKD": {"hk$", "hkd", "hk dollar", "hong kong dollar", "港元", "港币", "港幣"},
    "EUR": {"€", "eur", "euro", "欧元", "歐元"},
    "GBP": {"£", "gbp", "pound", "英镑", "英鎊"},
    "CNY": {"cny", "cnh", "rmb", "yuan", "renminbi", "人民币", "人民幣", "元", "块", "塊", "圆", "圓"},
    "JPY": {"jpy", "yen", "日元", "日圓"},
}


def stated_amounts(text: str) -> set[tuple[Decimal, str]]:
    """Every amount of money ``text`` states, as (value, currency); currency "" when none is named."""
    found = set()
    for match in _MONEY.finditer(text):
        number = match["n1"] or match["n2"] or match["n3"]
        value = _han(number) if re.fullmatch(_HAN, number) else _number(number)
        scale = (match["s1"] or match["s2"] or "").lower()
        token = re.sub(r"\s+", " ", (match["code"] or match["word"] or "").lower()).removesuffix("s")
        currency = next((c for c, names in _SAME_CURRENCY.items() if token in names), token.upper())
        found.add((value * 10 ** _SCALES.get(scale, 0), currency))
    return found


def added_amounts(drafted: str, edited: str) -> list[tuple[Decimal, str]]:
    """The amounts an edit states that the drafted text did not (new, or changed in value or currency)."""
    before = stated_amounts(drafted)
    values = {value for value, _ in before}
    return sorted((v, c) for v, c in stated_amounts(edited) - before if c or v not in values)


def _number(digits: str) -> Decimal:
    digits = re.sub(r"[\s'，]", "", digits)
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+,\d{1,2}", digits):  # 50.000,00 and 50,00
        return Decimal(digits.replace(".", "").replace(",", "."))
    return Decimal(digits.replace(",", ""))


def _han(numerals: str) -> Decimal:
    """A number in Chinese numerals: 五万 is 50000, 一百五十万 is 1500000."""
    total, section, digit = 0, 0, 0
    for char in numerals:
        if char in _HAN_DIGITS:
            digit = _HAN_DIGITS[char]
        elif _HAN_UNITS[char] >= 10**4:
            total, section, digit = total + (section + digit) * _HAN_UNITS[char], 0, 0
        else:
            section, digit = section + (digit or 1) * _HAN_UNITS[char], 0
    return Decimal(total + section + digit)
