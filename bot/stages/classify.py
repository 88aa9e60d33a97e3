"""Classify stage: decide what kind of message this is before anything reads it as a claim.

Automated mail (auto-replies, out-of-office, bounces, lists) is recorded but never answered,
which is what stops reply loops. Each verdict carries a reason a person can read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.stages.parse import ParsedMessage


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


def reference_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(prefix)}-\d{{4}}-\d{{6}}\b")


def classify(message: ParsedMessage, *, own_addresses: frozenset[str], reference_prefix: str) -> Verdict:
    """Return the verdict; a follow-up names the claim reference or the thread it points to."""
    automated = _automated_reason(message, own_addresses)
    if automated:
        return Verdict(Kind.AUTOMATED, automated)
    found = reference_pattern(reference_prefix).search(f"{message.subject}\n{message.text}")
    thread = tuple(i for i in (message.in_reply_to, *message.references) if i)
    if found or thread:
        reason = f"mentions {found.group(0)}" if found else "replies to an earlier message"
        return Verdict(Kind.FOLLOWUP, reason, found.group(0) if found else None, thread)
    if not _TOPIC.search(f"{message.subject}\n{message.text}") and not re.search(r"\d{5,}", message.text):
        return Verdict(Kind.NOT_COMPLAINT, "mentions no claim, account or order")
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
