"""Classify stage: decide what kind of message this is before anything reads it as a claim.

Automated mail (auto-replies, out-of-office, bounces, lists) is recorded but never answered,
which is what stops reply loops. Each verdict carries a reason a person can read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.stages.parse import ParsedMessage
from bot.stages.quoting import strip_quoted


class Kind(StrEnum):
    COMPLAINT = "complaint"
    FOLLOWUP = "followup"
    AUTOMATED = "automated"
    NOT_COMPLAINT = "not_complaint"


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    reason: str
    reference: str | None = None
    thread_ids: tuple[str, ...] = ()
    # What the message is about when that is something else than the outage (a deposit, a
    # login): no claim letter answers it, a person does. "" when it may be a complaint.
    other_topic: str = ""


_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?reply|out of (the )?office|autoreply|"
    r"undeliverable|delivery status notification|mail delivery (failed|failure)|returned mail|"
    r"自动回复|自動回覆|自动答复|自動答覆|退信|系统退信)",
    re.IGNORECASE,
)
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.IGNORECASE)
_TOPIC = re.compile(
    r"complain|compensat|claim|outage|order|ticket|account|acct|login|refund|liquidat|restore|"
    r"投诉|投訴|赔偿|賠償|补偿|補償|订单|訂單|单号|單號|账号|帳號|賬號|账户|賬戶|帳戶|强平|強平|恢复|恢復",
    re.IGNORECASE,
)


# Things clients write to the same address about that are not the outage. The message is one of
# these only when it says nothing of the outage or its harm (_HARM) in the client's own words.
_OTHER_TOPICS = {
    "a deposit": r"\bdeposit|入金|存款|充值|入帳|入账|\bFPS\b|转数快|轉數快",
    "a withdrawal": r"withdraw|出金|提款|提现|提現",
    "opening an account": (
        r"\bopen(?:ing)?\b[^.\n]{0,30}\baccount|开户|開戶|[开開][^，,。\n]{0,4}(?:户口|戶口|账户|帳戶|賬戶)"
        r"|referr|推荐|推薦"
    ),
    "a login": r"\blog\s*in\b|\bpassword|密码|密碼|登录|登錄|登入",
    "unsubscribing": r"unsubscribe|退订|退訂|取消订阅|取消訂閱",
    "contact or bank details": (
        r"\bchange\b[^.\n]{0,20}\b(?:phone|address|e-?mail|bank|card|contact)|更改|修改|变更|變更"
    ),
    "leverage": r"\bleverage|槓桿|杠杆",
}
_OTHER = {topic: re.compile(pattern, re.IGNORECASE) for topic, pattern in _OTHER_TOPICS.items()}
_HARM = re.compile(
    r"outage|incident|quote|abnormal|compensat|claim|stop(?:ped)?[- ]?out|liquidat|frozen|freez|loss|lost"
    r"|故障|异常|異常|补偿|補償|赔偿|賠償|强平|強平|爆仓|爆倉|索赔|索償|报价|報價|冻结|凍結|损失|損失|投诉|投訴"
    r"|restor|恢复|恢復|26\s*june|june\s*26|26/0?6|6月\s*26|\b26th\b|no connection|disconnect"
    r"|open\s+(?:trades|positions|orders)|can'?t\s+(?:manage|close)|无法平仓|無法平倉|断线|斷線|连不上|連不上",
    re.IGNORECASE,
)


# "No adjustment needed", "I did not trade that night": the client claims nothing.
_NO_CLAIM = re.compile(
    r"\bno\s+(?:adjustment|action|claim)\s+(?:is\s+)?(?:needed|required|necessary)|\bdid\s*n[o']?t\s+trade"
    r"|(?:唔使|不用|不需要|无需|無需|毋須|毋须)(?:做)?(?:任何)?(?:调整|調整|处理|處理|补偿|補償)|冇落單|没有下单|沒有下單"
    r"|不涉及(?:补偿|補償|赔偿|賠償)|没有持仓|沒有持倉|冇持倉|\bno\s+compensation\b|\bhad\s+no\s+(?:open\s+)?(?:positions?|trades?)",
    re.IGNORECASE,
)
_ORDER_WORDS = re.compile(r"\b(?:orders?|tickets?|positions?)\b|订单|訂單|单号|單號|持仓|持倉", re.IGNORECASE)


def other_topic(message: ParsedMessage) -> str:
    """The topic of a message about something else than the outage, or "". The outage named in
    passing ("is it because of your server problem?") does not make a deposit question a claim
    when the subject is the deposit and the client names no order."""
    words = strip_quoted(message.text, message.sender)
    own = f"{message.subject}\n{words}"
    if _NO_CLAIM.search(words) and len(re.findall(r"(?<!\d)\d{5,}(?!\d)", words)) <= 1:
        asked = next((topic for topic, pattern in _OTHER.items() if pattern.search(own)), "")
        return asked or "a question that claims nothing"
    subject = next((t for t, p in _OTHER.items() if p.search(message.subject)), "")
    if subject and not _HARM.search(message.subject) and not _ORDER_WORDS.search(words):
        return subject
    if _HARM.search(own):
        return ""
    return next((topic for topic, pattern in _OTHER.items() if pattern.search(own)), "")


def reference_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(prefix)}-\d{{4}}-\d{{6}}\b")


def classify(message: ParsedMessage, *, own_addresses: frozenset[str], reference_prefix: str) -> Verdict:
    """Return the verdict; a follow-up names the claim reference or the thread it points to."""
    automated = _automated_reason(message, own_addresses)
    if automated:
        return Verdict(Kind.AUTOMATED, automated)
    found = reference_pattern(reference_prefix).search(f"{message.subject}\n{message.text}")
    thread = tuple(i for i in (message.in_reply_to, *message.references) if i)
    topic = other_topic(message)
    if found or thread:
        reason = f"mentions {found.group(0)}" if found else "replies to an earlier message"
        if topic:
            reason += f"; about {topic}, not the outage"
        return Verdict(Kind.FOLLOWUP, reason, found.group(0) if found else None, thread, topic)
    said = f"{message.subject}\n{message.text}"
    # "See the attached letter": what it says is read from the attachment.
    silent = not (_TOPIC.search(said) or _HARM.search(said) or re.search(r"\d{5,}", message.text))
    if silent and not message.attached:
        return Verdict(Kind.NOT_COMPLAINT, "mentions no claim, account or order")
    if topic:
        return Verdict(
            Kind.NOT_COMPLAINT, f"about {topic}, not the outage: a person answers", other_topic=topic
        )
    return Verdict(Kind.COMPLAINT, "new complaint")


def _automated_reason(message: ParsedMessage, own_addresses: frozenset[str]) -> str:
    h = message.header
    if message.sender in own_addresses:
        return "sent by the bot's own address"
    auto_submitted = h("auto-submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    if h("x-autoreply") or h("x-autorespond"):
        return "X-Autoreply header"
    suppress = h("x-auto-response-suppress").lower()
    if suppress and any(w in suppress for w in ("all", "autoreply", "oof")):
        return f"X-Auto-Response-Suppress: {suppress}"
    precedence = h("precedence").strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    if h("list-id"):
        return "mailing-list message (List-Id)"
    if message.content_type == "multipart/report":
        return "delivery or read report (multipart/report)"
    if h("return-path").strip() in {"<>", ""} and "return-path" in message.headers:
        return "empty return path"
    if _DAEMONS.match(message.sender):
        return f"sent by {message.sender.split('@')[0]}"
    if _AUTO_SUBJECT.match(message.subject):
        return "subject of an automatic reply"
    return ""
