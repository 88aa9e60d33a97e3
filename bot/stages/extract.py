"""Extract stage: what the client tells us, as a pure function of the parsed message.

Every number found carries its evidence (the words it came from) and a confidence, so the
match stage can settle ambiguous numbers against the trade records and staff can see why.
Numbers live in ``bot.stages.numbers``, consent in ``bot.stages.consent``, quoting in ``bot.stages.quoting``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import hanzidentifier

from bot.stages.attachments import AttachmentText, names_and_texts
from bot.stages.consent import NO_CONSENT, Consent, consent
from bot.stages.names import name_of
from bot.stages.numbers import LOOSE, Candidate, find_numbers
from bot.stages.parse import ParsedMessage
from bot.stages.quoting import strip_quoted, without_device_signature

__all__ = [
    "LANGUAGES",
    "Candidate",
    "Consent",
    "Extraction",
    "consent",
    "detect_language",
    "extract",
    "strip_quoted",
]

LANGUAGES = ("en", "zh-Hans", "zh-Hant")

_RESTORE = re.compile(r"restor|reinstat|reopen|恢复|恢復|还原|還原", re.IGNORECASE)
# "I do NOT want the positions restored", "我不要求恢复持仓": a remedy the client turns down.
_DECLINED_BEFORE = re.compile(
    r"(?:\b(?:do(?:es)?\s*n[o']?t|not|never|no need to)\s+(?:\w+\s+){0,4}"
    r"|不要求|不需要|不用|不要|唔要|唔使|无需|無需|毋須)$",
    re.IGNORECASE,
)
# Words that make a restoring asked for, in the clause before it ("请帮我恢复", "I want … restored").
_ASKING = re.compile(
    r"请|請|要求|诉求|訴求|希望|幫|帮|麻烦|麻煩|给我|給我|唔該|唔该|即刻|要|需|应|應|該|该"
    r"|\b(?:please|pls|kindly|want|wants|ask|asking|request|requesting|like|wish|demand|expect|should|need|must)\b",
    re.IGNORECASE,
)
# After a restore word: it is told of, not commanded ("恢复了也没用", "恢復的時候", "restored at 5am").
_TOLD_OF = re.compile(r"(?:ed|ing|ation)\b|[了的过過時时後后之]", re.IGNORECASE)
# A clause ends at punctuation or a blank line; a single line break is only the mail program's wrapping.
_CLAUSE_END = re.compile(r"[.。!！?？,，;；]|\n\s*\n")
_BEST_PRICE = re.compile(
    r"best\s+(?:price|one)|most\s+favou?rable|better\s+price|最优|最優|最有利|最好的价格|最好的價格"
    # Refunding the loss an abnormal price caused, or correcting the price, is the best-price remedy.
    r"|(?:refund|退回|退还|退還|返还|返還)[^.。\n]{0,40}?(?:abnormal|wrong|異常|异常)\s*(?:price|價格|价格)"
    r"|\b(?:correct|fix|adjust|amend)\w*\s+(?:\w+\s+){0,3}(?:to\s+)?(?:the\s+)?(?:correct|right|proper)?\s*price"
    r"|(?:修正|更正|调整|調整)[^.。\n]{0,6}(?:价格|價格)",
    re.IGNORECASE,
)
_REPLY_SUBJECT = re.compile(r"\s*(re|aw|回复|回覆|答复|答覆)\s*[:：]", re.IGNORECASE)
_FORWARD_SUBJECT = re.compile(r"\s*(fw|fwd|转发|轉發|转寄|轉寄)\s*[:：]", re.IGNORECASE)
_CLAIM_REFERENCE = re.compile(r"\b[A-Z]{2,5}-\d{4}-\d{6}\b")


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
    consent: Consent = NO_CONSENT

    def account_numbers(self, min_confidence: float = 0.5) -> list[str]:
        return [c.value for c in self.accounts if c.confidence >= min_confidence]

    def order_numbers(self, min_confidence: float = 0.5) -> list[str]:
        return [c.value for c in self.orders if c.confidence >= min_confidence]

    def evidence(self, used: Mapping[str, str] | None = None) -> list[dict[str, str]]:
        """The numbers it is sure of, each with its kind and the words that said so, as they are
        stored with the message and marked for staff (a number read as both is an account);
        and the others the records settled (``used``: number -> kind), such as one found only
        in an attachment."""
        used = used or {}
        sure = [(c, "account") for c in self.accounts if c.confidence >= 0.5]
        numbers = {c.value for c, _ in sure}
        sure += [(c, "order") for c in self.orders if c.confidence >= 0.5 and c.value not in numbers]
        numbers |= {c.value for c, _ in sure}
        settled = {
            c.value: c for c in (*self.accounts, *self.orders) if c.value in used and c.value not in numbers
        }
        sure += [(c, used[c.value]) for c in settled.values()]
        return [{"number": c.value, "kind": kind, "evidence": c.evidence} for c, kind in sure]


def extract(
    message: ParsedMessage, *, answering: bool = False, attachments: Sequence[AttachmentText] = ()
) -> Extraction:
    """What the client wrote; ``answering``: the message is known to reply to one of our letters
    (its headers name that letter's Message-ID), so its consent is read whatever its subject.
    Numbers in ``attachments`` (and their names) are candidates that the records settle."""
    body = strip_quoted(message.text, message.sender)
    text = unicodedata.normalize("NFKC", f"{message.subject}\n{body}")
    accounts, orders = _numbers(message, text)
    if attachments and not _is_delivery_report(message):
        _add_attached(accounts, orders, attachments, message)
    accounts, orders = _most_likely(accounts, MAX_ACCOUNTS), _most_likely(orders, MAX_ORDERS)
    own = without_device_signature(unicodedata.normalize("NFKC", body))
    name, name_evidence = name_of(own, message.sender_name)
    request, request_evidence = _request(unicodedata.normalize("NFKC", f"{message.subject}\n\n{body}"))
    return Extraction(
        language=_language(message, own),
        name=name,
        name_evidence=name_evidence,
        accounts=tuple(accounts),
        orders=tuple(orders),
        request=request,
        request_evidence=request_evidence,
        unquoted_text=body,
        consent=consent(message.text) if answering or _is_reply(message) else NO_CONSENT,
    )


def _numbers(message: ParsedMessage, text: str) -> tuple[list[Candidate], list[Candidate]]:
    """Numbers in the client's words. A delivery report returns our own mail, so none are the
    client's; a forward passes on mail the client wants read (an introducing broker forwarding a
    client's complaint), so the forwarded mail counts too."""
    if _is_delivery_report(message):
        return [], []
    if _FORWARD_SUBJECT.match(message.subject):
        text = unicodedata.normalize("NFKC", f"{message.subject}\n{message.text}")
    return find_numbers(text, sender=message.sender, context=message.text)


# No client names more; each candidate costs the match stage a lookup in the trade records,
# so a message listing thousands of numbers (or ranges of them) must not cost minutes.
MAX_ACCOUNTS = 20
MAX_ORDERS = 100


def _most_likely(found: list[Candidate], limit: int) -> list[Candidate]:
    """The ``limit`` candidates with the best confidence, in the order they were written."""
    if len(found) <= limit:
        return found
    kept = set(map(id, sorted(found, key=lambda c: -c.confidence)[:limit]))
    return [c for c in found if id(c) in kept]


def _add_attached(
    accounts: list[Candidate],
    orders: list[Candidate],
    attachments: Sequence[AttachmentText],
    message: ParsedMessage,
) -> None:
    """Numbers found only in attached files, kept at low confidence with the file as evidence:
    the records decide (an order counts only in an account the claim covers, touched by the
    outage)."""
    seen = {c.value for c in (*accounts, *orders)}
    for where, text in names_and_texts(attachments):
        found_accounts, found_orders = find_numbers(
            unicodedata.normalize("NFKC", text), sender=message.sender, context=message.text
        )
        for candidate in (*found_accounts, *found_orders):
            if candidate.value in seen:
                continue
            seen.add(candidate.value)
            loose = Candidate(candidate.value, LOOSE, f"{where}: {candidate.evidence}"[:200])
            accounts.append(loose)
            orders.append(loose)


def _is_delivery_report(message: ParsedMessage) -> bool:
    local_part = message.sender.split("@")[0]
    return message.content_type == "multipart/report" or local_part in ("mailer-daemon", "postmaster")


def _is_reply(message: ParsedMessage) -> bool:
    """Consent answers one of our offers, and every offer names its claim reference: in the subject,
    or in the offer that a reply (by its headers or a "Re:") quotes. A reply to anything else, such
    as our public notice, is a first complaint, whatever it says about the remedies."""
    if _CLAIM_REFERENCE.search(message.subject):
        return True
    replying = message.in_reply_to or message.references or _REPLY_SUBJECT.match(message.subject)
    return bool(replying and _CLAIM_REFERENCE.search(message.text))


def _language(message: ParsedMessage, own: str) -> str:
    """The language of the client's own words; the subject (ours, in a reply) and then the quoted
    text only decide when those words are too few ("2", "選2", "OK")."""
    for text in (own, f"{message.subject}\n{own}", f"{message.subject}\n{message.text}"):
        text = unicodedata.normalize("NFKC", text)
        if _enough_words(text):
            break
    language = detect_language(text)
    if language != "en" and _script_neutral(text):
        # Words such as 不同意 are the same in both scripts: the quoted offer tells which one.
        language = _script(_han(f"{message.subject}\n{message.text}")) or language
    return language


def _enough_words(text: str) -> bool:
    return len(_han(text)) >= 2 or len(re.findall(r"[A-Za-z]{2,}", text)) >= 2


def detect_language(text: str) -> str:
    """English when English words outnumber Chinese characters (a Chinese label or signature in an
    English message does not make it Chinese); otherwise the script of the Chinese characters."""
    han = _han(text)
    if len(han) < 2 or len(re.findall(r"[A-Za-z]{2,}", text)) > len(han):
        return "en"
    return _script(han) or "zh-Hans"


def _script(han: list[str]) -> str | None:
    """zh-Hant or zh-Hans by the characters' script; None when no character tells."""
    if not han:
        return None
    verdict = hanzidentifier.identify("".join(han))
    if verdict == hanzidentifier.TRADITIONAL:
        return "zh-Hant"
    if verdict == hanzidentifier.SIMPLIFIED:
        return "zh-Hans"
    simplified = sum(hanzidentifier.identify(c) == hanzidentifier.SIMPLIFIED for c in han)
    traditional = sum(hanzidentifier.identify(c) == hanzidentifier.TRADITIONAL for c in han)
    if traditional == simplified:
        return None
    return "zh-Hant" if traditional > simplified else "zh-Hans"


def _script_neutral(text: str) -> bool:
    return hanzidentifier.identify("".join(_han(text))) == hanzidentifier.BOTH


def _han(text: str) -> list[str]:
    return [c for c in text if "\u4e00" <= c <= "\u9fff"]


def _request(text: str) -> tuple[str, str]:
    """The remedy asked for; a remedy the client turns down ("not restored") is not asked for, and
    neither is a restoring only told of ("到隔天早上才恢復": the service came back)."""
    for match in _RESTORE.finditer(text):
        clause = _CLAUSE_END.split(text[max(0, match.start() - 40) : match.start()])[-1]
        after = _CLAUSE_END.split(text[match.end() : match.end() + 30])[0]
        if _asked(clause, after) and not _DECLINED_BEFORE.search(clause):
            return "restore", _around(text, match.start(), match.end())
    best = _BEST_PRICE.search(text)
    if best:
        return "best_price", _around(text, best.start(), best.end())
    return "unspecified", ""


def _asked(before: str, after: str) -> bool:
    """A restoring is asked for by a word of asking in its clause ("请帮我恢复", "restore please"),
    or as a command starting a clause ("Restore my positions", "恢复一下"); a space after a Chinese
    character ends a clause as a comma does ("被平了 恢复")."""
    if _ASKING.search(before) or _ASKING.search(after):
        return True
    starts_clause = not before.strip() or re.search(r"[\u4e00-\u9fff][ \t]+$", before)
    return bool(starts_clause) and not _TOLD_OF.match(after)


def _around(text: str, start: int, end: int, width: int = 30) -> str:
    return " ".join(text[max(0, start - width) : end + width].split())
