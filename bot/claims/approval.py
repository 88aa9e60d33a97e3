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

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from bot.claims import moves, replies
from bot.claims.amounts import added_amounts
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


def approve(
    session: Session,
    settings: Settings,
    user: StaffUser,
    reply_id: int,
    *,
    text: str | None = None,
    html: bool = True,
) -> Reply:
    """Approve a draft (with the person's edits, if any) for the outbox, or record a first
    approval; its HTML part is drafted and kept then, from the context of the text approved
    (unless ``html`` is false: the outbox then drafts it from that same context)."""
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
    body_html = replies.html_of(reply, settings) if html else reply.body_html
    _update(session, reply, new_status, body_html=body_html, **values)
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
    savepoint is needed; any other failure rolls the whole transaction back.

    Made for a thousand at a time: the replies and their claims are read in one query, the
    history is written at the end, and the HTML parts are left for the outbox to draft.
    """
    done, refused = [], []
    loaded = store.load_replies(session, reply_ids=reply_ids)
    with session.no_autoflush:
        for reply_id in reply_ids:
            reply = session.get(Reply, reply_id)
            if reply is None or reply.kind != "acknowledgement":
                refused.append((reply_id, "not an acknowledgement: approve it on its own page"))
                continue
            try:
                done.append(approve(session, settings, user, reply_id, html=False))
            except NotAllowed as exc:
                refused.append((reply_id, str(exc)))
    del loaded
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
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise NotAllowed(f"reply {reply.id} was decided by someone else meanwhile")
    for name, value in {"status": status, **values}.items():
        set_committed_value(reply, name, value)
