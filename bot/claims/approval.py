"""What staff may do with drafted replies and claims, and who may do it.

Roles, from least to most trusted:

- ``agent``: approves replies that state no money (acknowledgements, requests for
  information), edits drafts, rejects drafts, escalates claims;
- ``supervisor``: also approves replies with money (offers, consent confirmations),
  rejects claims and drafts final responses;
- ``manager``: also settles claims, unlocks locked logins, and gives the second approval an
  offer above ``[approval] four_eyes_amount`` needs (never to an offer they approved first).

Four eyes is judged on what is sent: an edit that states an amount the draft did not (``50,000
US dollars``, ``USD 50000``, ``5万美元``) needs the approvals an offer of that amount needs,
whatever the reply's kind. Only who may give a waiting second approval may reject that reply.

Every action is written to the claim's history with the person's name. The web page and the
command line call these functions; neither decides anything itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from html import escape

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlmodel import Session, select

from bot.claims import moves, replies
from bot.claims.lifecycle import State
from bot.claims.staff import HASHER, ROLES
from bot.config import Settings
from bot.stages.draft import MONEY_KINDS
from bot.storage import access, finder, store
from bot.storage.tables import Claim, Reply, ReplyStatus, StaffUser, utcnow
from bot.storage.types import hundredths


class NotAllowed(Exception):
    """The person's role does not allow the action, or the reply is no longer where they saw it."""


def rank(role: str) -> int:
    return ROLES.index(role)


def authenticate(session: Session, *, name: str, password: str) -> StaffUser | None:
    user = store.staff_user(session, name=name)
    if user is None or not user.active:
        # Same work as a real check, so a wrong name takes as long as a wrong password.
        HASHER.hash(password)
        return None
    try:
        HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return user


# Letters whose text a person wrote, or that close a claim: a supervisor approves them.
DECISION_KINDS = frozenset({"rejected", "final_response", "delay"})
# What a claim must be in for a reply of this kind to still make sense when it is approved.
_FITTING_STATES: dict[str, frozenset[State]] = {
    "offer": frozenset({State.ASSESSED, State.ESCALATED}),
    "reminder": frozenset({State.OFFER_SENT}),
    "consent_received": frozenset({State.CONSENTED, State.SETTLED}),
    "settled": frozenset({State.SETTLED}),
    "rejected": frozenset({State.REJECTED}),
}


def may_approve(user: StaffUser, reply: Reply) -> bool:
    if reply.status == ReplyStatus.SECOND_APPROVAL:
        return user.role == "manager" and user.name not in (reply.first_approved_by, reply.edited_by)
    if reply.kind in MONEY_KINDS or reply.kind in DECISION_KINDS or reply.edited_by:
        return rank(user.role) >= rank("supervisor")
    return True


def waiting_for(user: StaffUser, *, kind: str = "", language: str = "") -> finder.ReplyFilter:
    """The replies this person may decide on now, as ``may_approve`` judges each one."""
    if user.role == "manager":
        return finder.ReplyFilter(kind=kind, language=language, not_first_approved_by=user.name)
    draft = (ReplyStatus.DRAFT.value,)
    if rank(user.role) >= rank("supervisor"):
        return finder.ReplyFilter(statuses=draft, kind=kind, language=language)
    barred = frozenset(MONEY_KINDS) | DECISION_KINDS
    return finder.ReplyFilter(statuses=draft, kind=kind, language=language, not_kinds=barred, not_edited=True)


def needs_second_approval(reply: Reply, settings: Settings) -> bool:
    """An amount above the limit, drafted (offers) or added by an edit (any kind), needs four eyes."""
    return reply.amount is not None and reply.amount > Decimal(settings.approval.four_eyes_amount)


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


def approve(
    session: Session, settings: Settings, user: StaffUser, reply_id: int, *, text: str | None = None
) -> Reply:
    """Approve a draft (with the person's edits, if any) for the outbox, or record a first
    approval; its HTML part is drafted and kept then, from the context of the text approved."""
    reply = _draft(session, reply_id, statuses=(ReplyStatus.DRAFT, ReplyStatus.SECOND_APPROVAL))
    _fits_its_claim(session, reply)
    given = (text or "").replace("\r\n", "\n").strip()
    edited = bool(given) and given != reply.body_text.strip()
    if edited and reply.status == ReplyStatus.SECOND_APPROVAL:
        raise NotAllowed("a reply waiting for its second approval cannot be edited: reject it and redraft")
    if edited and rank(user.role) < rank("supervisor"):
        raise NotAllowed(f"an edited reply needs a supervisor or manager; {user.name} is {user.role}")
    if reply.drafted_by == user.name:
        raise NotAllowed("someone other than the person who wrote this letter approves it")
    if not may_approve(user, reply):
        if reply.status == ReplyStatus.SECOND_APPROVAL and user.name in (
            reply.first_approved_by,
            reply.edited_by,
        ):
            raise NotAllowed("the second approval must come from another person")
        needed = "a manager" if reply.status == ReplyStatus.SECOND_APPROVAL else "a supervisor or manager"
        raise NotAllowed(f"approving this {reply.kind} reply needs {needed}; {user.name} is {user.role}")
    if edited:
        edit(session, user, reply, text or "")
    if reply.status == ReplyStatus.DRAFT and needs_second_approval(reply, settings):
        new_status = ReplyStatus.SECOND_APPROVAL
        values = {"first_approved_by": user.name}
        event = "reply_first_approval"
    else:
        new_status = ReplyStatus.APPROVED
        values = {"decided_by": user.name, "decided_at": utcnow()}
        event = "reply_approved"
    _update(session, reply, new_status, body_html=replies.html_of(reply, settings), **values)
    store.record_event(
        session,
        claim_id=reply.claim_id,
        actor=user.name,
        event=event,
        detail=f"reply {reply.id} ({reply.kind})"
        + (f", {reply.amount} {reply.currency}" if reply.amount else ""),
    )
    return reply


def _fits_its_claim(session: Session, reply: Reply) -> None:
    """Refuse a draft its claim has moved past: an offer for a rejected claim, a reminder after consent."""
    claim = session.get(Claim, reply.claim_id)
    fitting = _FITTING_STATES.get(reply.kind)
    if claim is None or fitting is None or claim.status in fitting:
        return
    raise NotAllowed(
        f"claim {claim.reference} is {claim.status} now: this {reply.kind} reply no longer fits; reject it"
    )


def edit(session: Session, user: StaffUser, reply: Reply, text: str) -> None:
    """Replace a draft's text; the HTML part becomes the edited text, so both say the same.

    An amount the edit adds becomes the reply's amount when it is the largest, so the approval
    rules, the queue and the second approver all see what the letter now promises.
    """
    text = text.replace("\r\n", "\n").strip() + "\n"
    added = added_amounts(reply.body_text, text)
    largest = max(added, default=None)
    if largest is not None and (reply.amount is None or largest[0] > reply.amount):
        reply.amount, reply.currency = largest[0], largest[1] or reply.currency
    paragraphs = "".join(
        "<p>" + escape(block).replace("\n", "<br>\n") + "</p>\n"
        for block in text.split("\n\n")
        if block.strip()
    )
    reply.drafted_text = reply.drafted_text or reply.body_text
    reply.body_text, reply.body_html, reply.edited_by = text, paragraphs, user.name
    session.add(reply)
    adds = ", ".join(f"{value} {currency}".strip() for value, currency in added)
    detail = f"reply {reply.id}" + (f"; states {adds}" if adds else "")
    store.record_event(session, claim_id=reply.claim_id, actor=user.name, event="reply_edited", detail=detail)


def reject(session: Session, user: StaffUser, reply_id: int, *, reason: str) -> Reply:
    """Withdraw a draft. Any role may reject a draft; one waiting for its second approval only
    those who may give that approval, or anyone could overrule the manager who approved it first."""
    if not reason.strip():
        raise NotAllowed("say why the draft is rejected")
    reply = _draft(session, reply_id, statuses=(ReplyStatus.DRAFT, ReplyStatus.SECOND_APPROVAL))
    if reply.status == ReplyStatus.SECOND_APPROVAL and not may_approve(user, reply):
        raise NotAllowed(
            f"rejecting this {reply.kind} reply while it waits for its second approval needs a manager "
            f"who neither approved nor edited it first; {user.name} is {user.role}"
        )
    _update(session, reply, ReplyStatus.REJECTED, decided_by=user.name, decided_at=utcnow(), note=reason)
    store.record_event(
        session,
        claim_id=reply.claim_id,
        actor=user.name,
        event="reply_rejected",
        detail=f"reply {reply.id}: {reason}",
    )
    return reply


def unlock_login(session: Session, user: StaffUser, account: str) -> bool:
    """Lift a login lockout: a manager's call, since the failures that caused it may be an attack."""
    require(user, "manager", "unlock a login")
    return access.unlock(session, account, by=user.name)


def escalate(session: Session, user: StaffUser, claim_id: int, *, reason: str) -> Claim:
    """Hand a claim to a person who can decide what the bot cannot."""
    claim = _claim(session, claim_id)
    moves.move(session, claim, State.ESCALATED, actor=user.name, reason=reason or "escalated")
    return claim


def reject_claim(
    session: Session, settings: Settings, user: StaffUser, claim_id: int, *, reason: str
) -> Reply | None:
    """Close a claim as not eligible and draft the letter that says why."""
    require(user, "supervisor", "reject a claim")
    if not reason.strip():
        raise NotAllowed("say why the claim is rejected: the client is told")
    claim = _claim(session, claim_id)
    moves.move(session, claim, State.REJECTED, actor=user.name, reason=reason)
    context = {
        **replies.common(claim, settings),
        "reason": reason,
        "complaint_rules": replies.rules(settings),
    }
    return replies.queue(session, settings, claim, "rejected", context, actor=user.name)


def settle(
    session: Session, settings: Settings, user: StaffUser, claim_id: int, *, note: str = ""
) -> Reply | None:
    """Record that the chosen remedies were carried out, and draft the letter that says so."""
    require(user, "manager", "settle a claim")
    claim = _claim(session, claim_id)
    moves.move(session, claim, State.SETTLED, actor=user.name, reason=note or "remedies carried out")
    context = {**replies.common(claim, settings), "chosen": replies.chosen(session, claim), "note": note}
    return replies.queue(session, settings, claim, "settled", context, actor=user.name)


def final_response(
    session: Session, settings: Settings, user: StaffUser, claim_id: int, *, outcome: str, reasons: str
) -> Reply | None:
    require(user, "supervisor", "write a final response")
    if not outcome.strip() or not reasons.strip():
        raise NotAllowed("a final response needs the outcome and the reasons")
    claim = _claim(session, claim_id)
    context = {
        **replies.common(claim, settings),
        "outcome": outcome,
        "reasons": reasons,
        "complaint_rules": replies.rules(settings),
    }
    return replies.queue(session, settings, claim, "final_response", context, actor=user.name)


def bulk_approve(
    session: Session, settings: Settings, user: StaffUser, reply_ids: Sequence[int]
) -> tuple[list[Reply], list[tuple[int, str]]]:
    """Approve many acknowledgements at once, each under the rules one approval follows; those
    refused (anything not an acknowledgement, or decided meanwhile) come back with the reason.
    A refusal is found before anything of its reply is written (no text is edited here), so no
    savepoint is needed; any other failure rolls the whole transaction back."""
    done, refused = [], []
    for reply_id in reply_ids:
        reply = session.get(Reply, reply_id)
        if reply is None or reply.kind != "acknowledgement":
            refused.append((reply_id, "not an acknowledgement: approve it on its own page"))
            continue
        try:
            done.append(approve(session, settings, user, reply_id))
        except NotAllowed as exc:
            refused.append((reply_id, str(exc)))
    return done, refused


def queue(
    session: Session,
    *,
    kind: str = "",
    language: str = "",
    min_amount: Decimal | None = None,
    statuses: Sequence[ReplyStatus] = (ReplyStatus.DRAFT, ReplyStatus.SECOND_APPROVAL),
) -> Sequence[Reply]:
    """Replies waiting for a person, oldest first."""
    stmt = select(Reply).where(Reply.status.in_(statuses)).order_by(Reply.created_at, Reply.id)  # type: ignore[attr-defined]
    if kind:
        stmt = stmt.where(Reply.kind == kind)
    if language:
        stmt = stmt.where(Reply.language == language)
    if min_amount is not None:
        stmt = stmt.where(Reply.amount_minor >= hundredths(min_amount))  # type: ignore[operator]
    return session.exec(stmt).all()


def require(user: StaffUser, role: str, action: str) -> None:
    if rank(user.role) < rank(role):
        raise NotAllowed(f"only a {role} or above may {action}; {user.name} is {user.role}")


def _claim(session: Session, claim_id: int) -> Claim:
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotAllowed(f"there is no claim {claim_id}")
    return claim


def _draft(session: Session, reply_id: int, *, statuses: Sequence[ReplyStatus]) -> Reply:
    reply = session.get(Reply, reply_id)
    if reply is None:
        raise NotAllowed(f"there is no reply {reply_id}")
    if reply.status not in statuses:
        raise NotAllowed(f"reply {reply_id} is {reply.status}, no longer waiting for approval")
    return reply


def _update(session: Session, reply: Reply, status: ReplyStatus, **values: object) -> None:
    """Conditional on the status the person saw, so two people cannot both decide one draft."""
    result = session.exec(  # type: ignore[call-overload]
        update(Reply)
        .where(Reply.id == reply.id, Reply.status == reply.status)
        .values(status=status, **values)
    )
    if result.rowcount != 1:
        raise NotAllowed(f"reply {reply.id} was decided by someone else meanwhile")
    session.refresh(reply)
