"""The client's answer to our offer, read only from the client's own words.

Consent moves money, so it is read only when it is plain: a question, a condition, a doubt or a
negation is never consent, and when unsure the answer is None for a person to read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.stages.quoting import strip_quoted, without_device_signature

_REFUSE = re.compile(
    r"\b(?:do\s*n[o']?t|does\s*n[o']?t|won'?t|will\s+not|can\s*n[o']?t|cannot|not)\s+(?:agree|accept|consent)"
    r"|\bdisagree|\brefuse|\breject|\bno,?\s+(?:thanks|thank you)\b|\bneither\b"
    r"|不同意|不接受|拒绝|拒絕|不认可|不認可|不接納|不要执行|不要執行|唔接受|唔同意|兩個都唔|两个都不",
    re.IGNORECASE,
)
_AGREE = re.compile(
    r"\b(?:i\s+(?:agree|accept|consent|choose|chose|select|pick)|agreed|accepted|yes\b|go ahead"
    r"|(?:please|i'?ll|i\s+will|let'?s)\s+go\s+with|please\s+(?:proceed|go ahead|execute|restore|reinstate))"
    r"|同意|接受|确认|確認|选择|選擇|我选|我選|就选|就選",
    re.IGNORECASE,
)
# Doubt, conditions, questions, negations and putting off ("确认了我再回复", "I'll confirm later"):
# such a sentence is never taken as consent.
_HEDGE = re.compile(
    r"吗|嗎|么|麼|呢|是否|要不要|\?|\b(?:should|shall|can|could|do|would|might|may)\s+i\b|\bif\b|\bunless\b"
    r"|\bi'd\b|\bwould\b|\bmaybe\b|\bperhaps\b|\bthink\b|\bconsider\w*|\bnot\b|n't\b|\bwhat\b|\bwhy\b|\bhow\b"
    r"|如果|假如|要是|除非|考虑|考慮|或者|可能|还是|還是|不|唔(?!該|该)|冇|没有|沒有|咩|点解|點解|乜|\bbut\b|\bhowever\b|但|不过|不過"
    r"|再|之后|之後|以后|以後|\blater\b|\bonce\b"
    r"|\b(?:as|so)\s+long\s+as\b|\bprovid(?:ed|ing)\b|\bon\s+condition\b|只要|前提|条件|條件",
    re.IGNORECASE,
)
_PLAIN_ASSENT = re.compile(
    r"^\W*(?:(?:yes|ok(?:ay)?|sure)\W+|(?:好的?|是的?|可以)\W*)?"
    r"(?:i\s+(?:agree|accept|consent)|agreed|accepted|我?同意|我?接受)"
    r"(?:\s*(?:to|with)?\s*(?:the|your|this)?\s*(?:offer|proposal|compensation|terms)"
    r"|(?:你们|你們|贵司|貴司|您)?的?(?:赔偿|賠償)?(?:方案|建议|建議))?"
    r"(?:\W*(?:thanks|thank you|many thanks|谢谢|謝謝|多謝|唔該|please\s+proceed(?:\s+asap)?"
    r"|请?尽快(?:办理|处理)|請?盡快(?:辦理|處理)))*\W*$",
    re.IGNORECASE,
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
# An option number right after a word of choosing ("同意 2", "go ahead with 1", "选2", "I'll take
# option 2") or an option named and then thanked for ("Option 2 please") chooses that option.
_CHOOSING = (
    r"同意|接受|agree(?:\s+(?:to|with))?|accept|go(?:ing)?\s+ahead\s+with|proceed\s+with|choose|chose|pick|select"
    r"|选|選|揀|拣"
)
_CHOOSING_AN_OPTION = r"take|go(?:ing)?\s+with|prefer|opt\s+for|want"
_OPTION = r"(?:option|choice|方案|选项|選項|第)"
_NUMBER_CHOSEN = re.compile(
    rf"(?:(?:{_CHOOSING})\s*[:：,，]?\s*(?:the\s+)?{_OPTION}?|(?:{_CHOOSING_AN_OPTION})\s+(?:the\s+)?{_OPTION})"
    r"\s*(?:no\.?\s*)?([12一二]|one\b|two\b)(?!\d|\.\d)",
    re.IGNORECASE,
)
_OPTION_NAMED = re.compile(rf"{_OPTION}\s*(?:no\.?\s*)?([12一二]|one\b|two\b)(?!\d)", re.IGNORECASE)
_OPTION_THANKED = re.compile(
    r"^\s*(?:option|choice|方案|选项|選項|第)\s*(?:no\.?\s*)?([12一二]|one\b|two\b)\s*(?:个|個)?(?:方案)?\s*[,，]?\s*"
    r"(?:please|pls|thanks|thank you|is fine|is ok|works for me|谢谢|謝謝|唔該|吧|就好|就可以|可以|好了)?\s*"
    r"(?:$|[.!。！,，:：\-\u2013\u2014]|\b(?:for|on)\b)",
    re.IGNORECASE,
)
_OPTION_NUMBER = {n: "best_price" for n in ("1", "一", "one")} | {n: "restore" for n in ("2", "二", "two")}
# "2", "Option 1.", "好，就1。", "OK, 2": the whole first line is the choice.
_BARE_CHOICE = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|yes|好|好的|行|可以)\s*[,，]?\s*)?(?:就|要)?\s*(?:option\s*|方案\s*)?([12])\s*[.。!！]?\s*$",
    re.IGNORECASE,
)
# "不是不同意" (it is not that I disagree) and "not that I disagree" deny a refusal.
_DENIED = re.compile(r"(?:不是|并非|並非|唔係|not\s+that\s+(?:i|we)\s*)$", re.IGNORECASE)
_OFFERS_OPTION_2 = re.compile(r"option\s*2\b|方案\s*2", re.IGNORECASE)
_OFFERS_OPTION_1 = re.compile(r"option\s*1\b|方案\s*1", re.IGNORECASE)


@dataclass(frozen=True)
class Consent:
    """The client's answer to an offer: a remedy, ``refused``, or None when it is not clear."""

    answer: str | None
    agrees_without_choice: bool
    evidence: str
    # Refuses option 1 and says nothing more: a refusal of an offer that had only option 1, a
    # question for a person about one that had both.
    refuses_option_1: bool = False


NO_CONSENT = Consent(None, False, "")
# The longest denial ("not that we ") with room for extra spaces: only this much before a
# refusal word is read, so a long message costs linear time.
_DENIAL_REACH = 40


def _denied_before(text: str, at: int) -> bool:
    return _DENIED.search(text, max(0, at - _DENIAL_REACH), at) is not None


_NOT_ME = re.compile(
    r"\bnot\s+me\b|\bwas\s*n[o']?t\s+me\b|\bdid\s*n[o']?t\s+(?:send|write)|\bnever\s+(?:sent|wrote)"
    r"|\bdo\s*n[o']?t\s+confirm|\bnot\s+confirm"
    r"|不是我|唔係我|并非本人|並非本人|不是本人|没有发|沒有發|没发过|沒發過|不确认|不確認",
    re.IGNORECASE,
)
_IT_WAS_ME = re.compile(
    r"\b(?:yes|yep|confirm(?:ed)?|correct|it\s+was\s+me|that\s+was\s+me)\b"
    r"|确认|確認|是我|是本人|是的|係我|係本人|没错|沒錯|正确|正確",
    re.IGNORECASE,
)
# Any of these makes a "yes" not a plain yes: a person reads it.
_NOT_PLAIN = re.compile(
    r"\b(?:no|not|never|nothing|but|if|who|why|what)\b|n't|[?？]|没|沒|不|未|非|唔|冇|无|無|吗|嗎|谁|誰"
)
# A plain confirmation is short; a long reply says more than "it was me".
_PLAIN = 160


def confirms(text: str) -> bool | None:
    """The client's answer to "was it you?": False for a denial, True only for a short, plain
    yes (no negation, no question, no condition anywhere), None for anything else."""
    own = without_device_signature(unicodedata.normalize("NFKC", strip_quoted(text))).strip()
    if _NOT_ME.search(own):
        return False
    if len(own) <= _PLAIN and _IT_WAS_ME.search(own) and not _NOT_PLAIN.search(own):
        return True
    return None


_BARE_YES = re.compile(
    r"^\W*(?:yes|yep|ok(?:ay)?|sure|fine|agreed|好的?|可以|行|没问题|沒問題|冇問題)"
    r"(?:\W*(?:thanks|thank you|谢谢|謝謝|多謝|唔該|唔该))?\W*$",
    re.I,
)


def bare_yes(text: str) -> bool:
    """The client's own words are only a yes ("Yes", "OK 👍", "可以", "好的"), perhaps signed:
    the offer it answers says what it agrees to."""
    own = without_device_signature(unicodedata.normalize("NFKC", strip_quoted(text)))
    lines = [line.strip() for line in own.splitlines() if line.strip()]
    signed = all(len(line) <= 30 and not re.search(r"\d", line) for line in lines[1:3])
    return bool(lines) and bool(_BARE_YES.match(lines[0])) and len(lines) <= 3 and signed


def consent(text: str) -> Consent:
    """Read consent only from the client's own words; a question or a negation is never consent."""
    own = without_device_signature(unicodedata.normalize("NFKC", strip_quoted(text)))
    refused = next((m for m in _REFUSE.finditer(own) if not _denied_before(own, m.start())), None)
    answer = _bare_choice(own) or _first_answer(own)
    if refused:
        evidence = " ".join(own[max(0, refused.start() - 30) : refused.end() + 30].split())
        clause_end = _option_1_refused(own, refused)
        if clause_end is not None:
            # "I don't accept option 1. Please restore my positions" is option 2; with anything
            # more a person reads it; alone, it depends on the offer (refuses_option_1).
            rest = own[clause_end:]
            if _plain_restore(rest):
                return Consent("restore", False, f"{evidence}; {' '.join(rest.split())[:120]}")
            return Consent(None, False, evidence, refuses_option_1=not _RESTORE_CHOICE.search(rest))
        # Any other refusal beside a choice says two things: a person reads it.
        return (
            Consent(None, False, evidence)
            if answer and answer.answer
            else Consent("refused", False, evidence)
        )
    if answer and answer.agrees_without_choice and _offers_only_option_1(text, own):
        return Consent("best_price", False, f"{answer.evidence} (the offer has option 1 only)")
    return answer or NO_CONSENT


# A choice that asks for more than the option ("restore them and pay the swap") is for a person.
_ASKS_MORE = re.compile(
    r"\b(?:and|also|plus|pay|refund|compensat\w*)\b|但|并且|並且|另外|还要|還要|同埋|賠償|赔偿|补偿|補償",
    re.IGNORECASE,
)


def _option_1_refused(own: str, refused: re.Match[str]) -> int | None:
    """Where the clause refusing option 1 (or the best price) ends, when it refuses nothing else."""
    end = re.search(r"[.!。！?？\n,，;；]", own[refused.end() :])
    clause_end = refused.end() + (end.end() if end else len(own) - refused.end())
    clause = own[refused.start() : clause_end]
    others = [m for m in _REFUSE.finditer(own) if m.start() != refused.start()]
    named = _OPTION_NAMED.search(clause)
    one = (named is not None and _OPTION_NUMBER[named.group(1)] == "best_price") or (
        named is None and _BEST_CHOICE.search(clause) is not None
    )
    return clause_end if one and not others and not _RESTORE_CHOICE.search(clause) else None


def _plain_restore(rest: str) -> bool:
    """What follows a refusal of option 1 is a plain request for option 2, and nothing more."""
    asked = _RESTORE_CHOICE.search(rest) and (_AGREE.search(rest) or _ASKED.search(rest))
    return bool(asked) and not (_HEDGE.search(rest) or _ASKS_MORE.search(rest) or _BEST_CHOICE.search(rest))


_ASKED = re.compile(r"\bplease\b|\bpls\b|請|请|要求|希望|麻煩|麻烦|唔該|唔该", re.IGNORECASE)


def _first_answer(own: str) -> Consent | None:
    """The answer of the first unhedged sentence that gives one. "No need to restore" beside a
    choice of option 1 only confirms it, so it is no hedge there."""
    for sentence in re.split(r"(?<=[.!。！?？\n])", own):
        if _HEDGE.search(sentence):
            without = _NO_RESTORE.sub(" ", sentence)
            answer = None if _HEDGE.search(without) else _sentence_answer(without)
            if answer is not None and answer.answer == "best_price":
                return Consent("best_price", False, sentence.strip())
            continue
        answer = _sentence_answer(sentence)
        if answer is not None:
            return answer
    return None


_NO_RESTORE = re.compile(
    r"(?:唔使|唔駛|唔需要|不用|不需要|无需|無需|毋須|毋须|\bno\s+need\s+to|\bdon'?t|\bdo\s+not)\s*(?:再)?"
    r"(?:恢復|恢复|還原|还原|restore)\w*(?:\s*(?:倉位|仓位|部位|訂單|订单|(?:the|my|any)\s+\w+))?",
    re.IGNORECASE,
)


# Option 2 says the other orders are "adjusted as in option 1": naming option 1 so is no choice of it.
_AS_IN_OPTION_1 = re.compile(
    r"\b(?:as|like)\s+(?:in|per|with)?\s*option\s*(?:1|one)\b|[按照依]\s*(?:方案|选项|選項)\s*[1一]",
    re.IGNORECASE,
)


def _sentence_answer(sentence: str) -> Consent | None:
    """What one unhedged sentence answers, or None when it answers nothing."""
    evidence = sentence.strip()
    if _AS_IN_OPTION_1.search(sentence) and _RESTORE_CHOICE.search(sentence):
        sentence = _AS_IN_OPTION_1.sub(" ", sentence)
    if len({_OPTION_NUMBER[n] for n in _OPTION_NAMED.findall(sentence)}) > 1:
        return Consent(None, False, evidence)
    for pattern in (_OPTION_THANKED, _NUMBER_CHOSEN):
        chosen = pattern.search(sentence)
        if chosen:
            return Consent(_OPTION_NUMBER[chosen.group(1)], False, evidence)
    if not _AGREE.search(sentence):
        return None
    best, restore = _BEST_CHOICE.search(sentence), _RESTORE_CHOICE.search(sentence)
    if best and restore:
        # Restoring the liquidated orders and the best price for the rest is option 2 itself;
        # "restore or best price" still asks.
        either = re.search(r"\bor\b|\beither\b|或|还是|還是|whichever", sentence, re.IGNORECASE)
        return Consent(None if either else "restore", False, evidence)
    if best or restore:
        return Consent("best_price" if best else "restore", False, evidence)
    # Agreement that names no option counts only when agreeing is all the sentence says:
    # "Yes, I have read your offer", "I accept your apology", "确认收到" agree to something else.
    return Consent(None, True, evidence) if _PLAIN_ASSENT.match(sentence) else None


def _bare_choice(own: str) -> Consent | None:
    """A reply whose first line is only "1" or "2", followed by nothing but a short sign-off."""
    lines = [line.strip() for line in own.splitlines() if line.strip()]
    if not lines:
        return None
    chosen = _BARE_CHOICE.match(lines[0])
    signed_off = all(
        len(line.split()) <= 4 and not _HEDGE.search(line) and not re.search(r"\d", line)
        for line in lines[1:]
    )
    if not chosen or not signed_off:
        return None
    return Consent(_OPTION_NUMBER[chosen.group(1)], False, lines[0])


def _offers_only_option_1(text: str, own: str) -> bool:
    """A plain "I agree" to an offer that has only option 1 accepts option 1."""
    quoted = unicodedata.normalize("NFKC", text).replace(own, "", 1)
    return bool(_OFFERS_OPTION_1.search(quoted)) and not _OFFERS_OPTION_2.search(quoted)
