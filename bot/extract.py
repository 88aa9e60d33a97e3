"""Extract stage: what the client tells us, as a pure function of the parsed message.

Every number found carries its evidence (the words it came from) and a confidence, so the
match stage can settle ambiguous numbers against the trade records and staff can see why.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import hanzidentifier

from bot.parse import ParsedMessage

LANGUAGES = ("en", "zh-Hans", "zh-Hant")

_QUOTE_START = re.compile(
    r"^\s*(-{2,}\s*(original message|原始邮件|原始郵件|forwarded message|转发邮件)\s*-{2,}"
    r"|(from|发件人|發件人|寄件者)\s*[:：].*"
    r"|on\b.{0,200}\bwrote:\s*$"
    r"|(在|于|於).{0,200}(写道|寫道)\s*[:：]\s*$"
    r"|-- $)",
    re.IGNORECASE,
)
_DISTRACTORS = [
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),
    re.compile(r"\b[A-Z]{2,5}-\d{4}-\d{6}\b"),
    re.compile(r"(?<!\d)(\+?\d{1,3}[ -])?\(?\d{3,4}\)?[ -]\d{3,4}[ -]\d{3,4}(?!\d)"),
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),
    re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"),
    re.compile(r"\d{1,2}[:：]\d{2}([:：]\d{2})?"),
    re.compile(r"\d+\.\d+"),
    re.compile(r"(USD|HKD|CNY|RMB|EUR|GBP|US\$|HK\$|\$|¥|￥)\s*\d[\d,]*(\.\d+)?", re.IGNORECASE),
    re.compile(r"\d[\d,]*(\.\d+)?\s*(USD|HKD|CNY|RMB|EUR|GBP|美元|美金|港币|港幣|元|块)", re.IGNORECASE),
]
_ACCOUNT_LABEL = (
    r"(?:(?:mt[45]|trading|交易)\s*)?"
    r"(?:account\s*(?:no\.?|number|num|#)?|acct\.?\s*(?:no\.?)?|a/c\s*(?:no\.?)?|login"
    r"|账户号码|賬戶號碼|帳戶號碼|账户号|帳戶號|账号|帳號|賬號|账户|賬戶|帳戶)"
)
_ORDER_LABEL = (
    r"(?:orders?\s*(?:no\.?|numbers?|nos\.?|#)?|tickets?\s*(?:no\.?|#)?|positions?\s*(?:no\.?|#)?"
    r"|订单号码|訂單號碼|订单号|訂單號|訂單编号|订单编号|订单|訂單|单号|單號|持仓单号?|持倉單號?|持仓单|持倉單)"
)
_GLUE = r"(?:\s*(?:is|are|was|were|:|#|=|是|为|為|的|还有|還有|分别是|分別是|如下)\s*){0,3}\s*"
_NUMBER = r"\d{5,10}"
_SEP = r"(?:\s*(?:[,;/、]|\band\b|和|及|与|與|以及)\s*|\s+)"
_ITEM = rf"{_NUMBER}(?:\s*-\s*\d{{1,10}})?"
_ACCOUNT_RE = re.compile(rf"{_ACCOUNT_LABEL}{_GLUE}(?P<n>{_NUMBER})(?!\d)", re.IGNORECASE)
_ORDER_RE = re.compile(rf"{_ORDER_LABEL}{_GLUE}(?P<list>{_ITEM}(?:{_SEP}{_ITEM})*)(?!\d)", re.IGNORECASE)
_BARE_NUMBER = re.compile(rf"(?<!\d){_NUMBER}(?!\d)")
_NAME_RES = [
    re.compile(r"^\s*(?:name|client name|full name)\s*:\s*(?P<v>[^\n,;]{2,60})", re.IGNORECASE | re.M),
    re.compile(r"^\s*(?:姓名|名字|客户姓名|客戶姓名)\s*[:：]\s*(?P<v>[^\n,;，；]{1,30})", re.M),
    re.compile(r"\bmy name is\s+(?P<v>[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,3})"),
    re.compile(r"(?:我是|我叫|本人)\s*(?P<v>[\u4e00-\u9fff]{2,4})(?=[，,。.\s]|$)"),
]
_RESTORE = re.compile(r"restor|reinstat|reopen|恢复|恢復|还原|還原", re.IGNORECASE)
_BEST_PRICE = re.compile(
    r"best price|most favou?rable|better price|最优|最優|最有利|最好的价格|最好的價格", re.IGNORECASE
)


_REFUSE = re.compile(
    r"\b(?:do\s*n[o']?t|does\s*n[o']?t|won'?t|will\s+not|can\s*n[o']?t|cannot|not)\s+(?:agree|accept|consent)"
    r"|\bdisagree|\brefuse|\breject|\bno,?\s+(?:thanks|thank you)\b"
    r"|不同意|不接受|拒绝|拒絕|不认可|不認可|不接納|不要执行|不要執行",
    re.IGNORECASE,
)
_AGREE = re.compile(
    r"\b(?:i\s+(?:agree|accept|consent|choose|chose|select|pick)|agreed|accepted|yes\b|go ahead"
    r"|please\s+(?:proceed|go ahead|execute))"
    r"|同意|接受|确认|確認|选择|選擇|我选|我選|就选|就選",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"吗|嗎|么|麼|是否|要不要|\?|\b(?:should|shall|can|could|do)\s+i\b|\bif\b|如果|假如", re.IGNORECASE
)
_BEST_CHOICE = re.compile(
    r"option\s*(?:no\.?\s*)?1\b|choice\s*1\b|方案\s*[1一]|选项\s*[1一]|選項\s*[1一]|第\s*[1一]\s*(?:个|個)?(?:方案|选项|選項)"
    r"|best price|most favou?rable|最优|最優|最有利|最好的价|最好的價",
    re.IGNORECASE,
)
_RESTORE_CHOICE = re.compile(
    r"option\s*(?:no\.?\s*)?2\b|choice\s*2\b|方案\s*[2二]|选项\s*[2二]|選項\s*[2二]|第\s*[2二]\s*(?:个|個)?(?:方案|选项|選項)"
    r"|restor|reinstat|reopen|恢复|恢復|还原|還原",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Consent:
    """The client's answer to an offer: a remedy, ``refused``, or None when it is not clear."""

    answer: str | None
    agrees_without_choice: bool
    evidence: str


def consent(text: str) -> Consent:
    """Read consent only from the client's own words; a question or a negation is never consent."""
    own = unicodedata.normalize("NFKC", strip_quoted(text)).strip()
    refused = _REFUSE.search(own)
    if refused:
        return Consent("refused", False, _around(own, refused.start(), refused.end()))
    bare = own.strip(" .。!")
    if bare in {"1", "2"}:
        return Consent("best_price" if bare == "1" else "restore", False, bare)
    for sentence in re.split(r"(?<=[.!。?\n])", own):
        agreed = _AGREE.search(sentence)
        if not agreed or _HEDGE.search(sentence):
            continue
        best, restore = _BEST_CHOICE.search(sentence), _RESTORE_CHOICE.search(sentence)
        if best and restore:
            return Consent(None, False, sentence.strip())
        if best or restore:
            return Consent("best_price" if best else "restore", False, sentence.strip())
        return Consent(None, True, sentence.strip())
    return Consent(None, False, "")


@dataclass(frozen=True)
class Candidate:
    value: str
    confidence: float
    evidence: str


@dataclass(frozen=True)
class Extraction:
    language: str
    name: str | None
    name_evidence: str
    accounts: tuple[Candidate, ...]
    orders: tuple[Candidate, ...]
    request: str
    request_evidence: str
    unquoted_text: str = field(repr=False, default="")
    consent: Consent = Consent(None, False, "")

    def account_numbers(self, min_confidence: float = 0.5) -> list[str]:
        return [c.value for c in self.accounts if c.confidence >= min_confidence]

    def order_numbers(self, min_confidence: float = 0.5) -> list[str]:
        return [c.value for c in self.orders if c.confidence >= min_confidence]


def extract(message: ParsedMessage) -> Extraction:
    body = strip_quoted(message.text)
    text = unicodedata.normalize("NFKC", f"{message.subject}\n{body}")
    masked = _mask_distractors(text)
    accounts = _labelled_accounts(masked)
    orders = _labelled_orders(masked, exclude={c.value for c in accounts})
    seen = {c.value for c in accounts} | {c.value for c in orders}
    for match in _BARE_NUMBER.finditer(masked):
        if match.group(0) not in seen:
            seen.add(match.group(0))
            loose = Candidate(match.group(0), 0.3, _around(text, match.start(), match.end()))
            accounts.append(loose)
            orders.append(loose)
    name, name_evidence = _name(text, message.sender_name)
    request, request_evidence = _request(text)
    language = detect_language(text)
    if language != "en" and _script_neutral(text):
        # Words such as 不同意 are the same in both scripts: the quoted offer tells which one.
        language = detect_language(unicodedata.normalize("NFKC", f"{message.subject}\n{message.text}"))
    return Extraction(
        language=language,
        name=name,
        name_evidence=name_evidence,
        accounts=tuple(accounts),
        orders=tuple(orders),
        request=request,
        request_evidence=request_evidence,
        unquoted_text=body,
        consent=consent(message.text) if _is_reply(message) else Consent(None, False, ""),
    )


def _is_reply(message: ParsedMessage) -> bool:
    """Consent is an answer to an offer, so only a reply can carry it."""
    return bool(message.in_reply_to or message.references) or bool(
        re.match(r"\s*(re|aw|回复|回覆|答复|答覆)\s*[:：]", message.subject, re.IGNORECASE)
    )


def strip_quoted(text: str) -> str:
    """The client's own words: everything above the first quote marker, minus ``>`` lines."""
    kept: list[str] = []
    for line in text.splitlines():
        if _QUOTE_START.match(line):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip()


def detect_language(text: str) -> str:
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if len(han) < 2:
        return "en"
    verdict = hanzidentifier.identify("".join(han))
    if verdict == hanzidentifier.TRADITIONAL:
        return "zh-Hant"
    if verdict == hanzidentifier.SIMPLIFIED:
        return "zh-Hans"
    simplified = sum(hanzidentifier.identify(c) == hanzidentifier.SIMPLIFIED for c in han)
    traditional = sum(hanzidentifier.identify(c) == hanzidentifier.TRADITIONAL for c in han)
    return "zh-Hant" if traditional > simplified else "zh-Hans"


def _script_neutral(text: str) -> bool:
    han = "".join(c for c in text if "\u4e00" <= c <= "\u9fff")
    return hanzidentifier.identify(han) == hanzidentifier.BOTH


def _mask_distractors(text: str) -> str:
    for pattern in _DISTRACTORS:
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def _labelled_accounts(masked: str) -> list[Candidate]:
    found: list[Candidate] = []
    for match in _ACCOUNT_RE.finditer(masked):
        number = match.group("n")
        if number not in {c.value for c in found}:
            found.append(Candidate(number, 0.9, match.group(0).strip()))
    return found


def _labelled_orders(masked: str, *, exclude: set[str]) -> list[Candidate]:
    found: list[Candidate] = []
    for match in _ORDER_RE.finditer(masked):
        evidence = " ".join(match.group(0).split())
        for number in _expand(match.group("list")):
            if number not in exclude and number not in {c.value for c in found}:
                found.append(Candidate(number, 0.9, evidence))
    return found


def _expand(listing: str) -> list[str]:
    """Numbers in a list, with ranges such as ``55667788-90`` spelled out (at most 50)."""
    numbers: list[str] = []
    for item in re.findall(_ITEM, listing):
        if "-" not in item:
            numbers.append(item)
            continue
        first, last = (p.strip() for p in item.split("-"))
        if len(last) < len(first):
            last = first[: len(first) - len(last)] + last
        low, high = int(first), int(last)
        if low <= high and high - low < 50:
            numbers.extend(str(n).zfill(len(first)) for n in range(low, high + 1))
        else:
            numbers.append(first)
    return numbers


def _name(text: str, display_name: str) -> tuple[str | None, str]:
    for pattern in _NAME_RES:
        match = pattern.search(text)
        if match:
            return match.group("v").strip(), match.group(0).strip()
    display = display_name.strip().strip('"')
    return (display, "From header") if display else (None, "")


def _request(text: str) -> tuple[str, str]:
    for kind, pattern in (("restore", _RESTORE), ("best_price", _BEST_PRICE)):
        match = pattern.search(text)
        if match:
            return kind, _around(text, match.start(), match.end())
    return "unspecified", ""


def _around(text: str, start: int, end: int, width: int = 30) -> str:
    return " ".join(text[max(0, start - width) : end + width].split())
