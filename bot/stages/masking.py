"""What is not an account or order number, blanked before numbers are looked for; and numbers
written in groups made whole. Both keep the text's length, so offsets into it still hold.

Phones, dates, times, prices, amounts, IDs, bank and card numbers: a label ("Tel", "身份證")
or a shape says what they are. And the orders a client names only to leave out.
"""

from __future__ import annotations

import re

# Numbers that a label says are something else: phones, IDs, bank accounts, QQ, post codes.
_NOT_OURS_LABEL = (
    r"(?:qq|微信|wechat|line\s*id|tel|phone|mobile|fax|电话|電話|手机|手機|传真|傳真|身份证|身份證|身分證字號"
    r"|passport|nric|referral\s*code|推荐码|推薦碼|邀请码|邀請碼|card\s*no|卡号|卡號|batch|serial|群号|群號"
    r"|邮编|郵編|post\s*code|zip|(?:support|service|case|help\s*desk)\s*tickets?|bank\s*(?:account|a/c)|(?:银行|銀行)(?:账户|賬戶|帳戶|账号|帳號|戶口))"
    # a clause ends the label's reach ("手機睇，發現我張金單（60602339）" names no phone)
    r"[^\d\n,，。;；!！?？]{0,12}?"
)
_DISTRACTORS = [
    re.compile(rf"(?i){_NOT_OURS_LABEL}\+?\d[\d -]*\d"),
    # A left boundary: without it a long run of letters or digits is rescanned from each of them.
    re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(\.[\w-]+)+"),
    re.compile(r"\b[A-Z]{2,5}-\d{4}-\d{6}\b"),
    re.compile(r"\b[A-Z]{1,3}\d{6,9}[A-Z]?\b"),
    re.compile(r"(?<!\d)\d{4}(?:[ -]\d{4}){2,}(?:[ -]\d{1,4})?(?!\d)"),
    re.compile(r"(?<!\d)\d{2,4}-\d{4,8}-\d{2,4}(?!\d)"),
    re.compile(r"(?<!\d)(\+?\d{1,3}[ -])?\(?\d{3,4}\)?[ -]\d{3,4}[ -]\d{3,4}(?!\d)"),
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),
    re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"),
    re.compile(r"(?<!\d)\d{1,2}/\d{1,2}/\d{4}(?!\d)"),
    re.compile(r"\d{1,2}[:：]\d{2}([:：]\d{2})?"),
    re.compile(r"(?<![\d.])\d+\.\d+"),
    # "EUR 60603017" is a ticket after a currency pair's name, no amount: 7 to 10 bare digits
    re.compile(
        r"(?<![A-Z])(USD|HKD|CNY|RMB|EUR|GBP|AUD|NT\$|US\$|HK\$|\$|¥|￥) ?"
        r"(?!\d{7,10}(?!\d|[,.]\d))\d[\d,]*(\.\d+)?",
        re.I,
    ),
    re.compile(
        r"(?<![\d,.])(?!\d{7,10}(?!\d|[,.]\d))\d[\d,]*(\.\d+)? ?"
        r"(USD|HKD|CNY|RMB|EUR|GBP|AUD|美元|美金|港币|港幣|元|块)(?![A-Z])",
        re.I,
    ),
]


def mask_distractors(text: str) -> str:
    """``text`` with phones, dates, prices, amounts and IDs blanked out (same length)."""
    for pattern in _DISTRACTORS:
        text = pattern.sub(_blank, text)
    return text


# A number as people type or paste it: "7020-1951", "53-108-842", "70,205,516" from Excel,
# "6020 1234", "6 0 2 0 1 2 3 4". Phones, dates, prices and IDs are masked before this runs.
_DIGIT_GROUPS = re.compile(
    r"(?<![\d,.\-])(?:\d{1,3}(?:,\d{3}){2,3}(?![\d,]|\.\d)"
    r"|\d(?: \d){6,9}(?![\d])"
    r"|\d{2,5}(?:[-\u2010-\u2015 ]\d{2,5}){1,3}(?![\d\-]))"
)


def joined_digit_groups(text: str) -> str:
    """``text`` with each grouped number of 7 to 10 digits written as one, padded with spaces
    to the same length so that offsets hold."""

    def join(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if not 7 <= len(digits) <= 10:
            return match.group(0)
        return digits + " " * (len(match.group(0)) - len(digits))

    return _DIGIT_GROUPS.sub(join, text)


def _blank(match: re.Match[str]) -> str:
    """Spaces in place of a match, keeping its tabs and line breaks (table cells and rows)."""
    return re.sub(r"[^\t\n]", " ", match.group(0))


# "(60501965) was fine, no issue there", "那单澳元（60500288）是正常的，不用管": named to be left out.
_FINE = re.compile(
    r"^[^\d.。!！?？\n,，;；]{0,12}?(?:(?<!not )(?:was|is|were)\s+(?:fine|ok|okay|normal|unaffected)"
    r"|\bno\s+(?:issue|problem)s?\b|\bnot\s+affected|(?<!不)是正常的|(?<!不)正常的|沒問題|没问题|沒有問題|没有问题|冇問題"
    r"|不用管|唔使理|唔使管|沒有受影響|没有受影响|冇受影響|跟这次无关|跟這次無關)",
    re.IGNORECASE,
)
_EXCEPT = re.compile(
    r"(?:\bexcept(?:\s+for)?|\bapart\s+from|\bbut\s+not|除了|除咗)\s*[#(（]?\s*$", re.IGNORECASE
)


def left_out(masked: str) -> set[str]:
    """Numbers the client names only to leave out: every mention is followed, in the same clause
    and within a few characters, by "was fine" or "是正常的", or follows "except" (after a comma,
    "呢兩張單本身冇問題" speaks of something else)."""
    mentions: dict[str, list[bool]] = {}
    for match in re.finditer(r"(?<!\d)\d{5,10}(?!\d)", masked):
        after = masked[match.end() : match.end() + 40]
        before = masked[max(0, match.start() - 15) : match.start()]
        left_out = bool(_FINE.match(after)) or bool(_EXCEPT.search(before))
        mentions.setdefault(match.group(0), []).append(left_out)
    return {number for number, flags in mentions.items() if all(flags)}
