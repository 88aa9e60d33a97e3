"""A claim's moves as they are stored: the state changed and the move written into the claim's
history in one transaction, conditional on the state the mover saw (``bot.claims.lifecycle``
says which moves are legal)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import inspect, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from bot.claims.lifecycle import CLOSED, IllegalTransition, transition
from bot.storage.store import record_event
from bot.storage.tables import Claim, Reply, ReplyStatus, State, utcnow


def move(session: Session, claim: Claim, to: State, *, actor: str, reason: str) -> None:
    """Move a claim to another lifecycle state and write the move into its history.

    The update is conditional on the state the caller saw, so two workers or two staff acting
    on the same claim at once cannot both move it: the second gets ``IllegalTransition``.
    """
    assert claim.id is not None
    step = transition(claim.status, to, actor=actor, reason=reason)
    values: dict[str, Any] = {"status": step.after}
    if inspect(claim).pending and step.after not in CLOSED:
        # Not yet written, so no one else can be moving it: the state is set as it will be inserted.
        claim.status = step.after
        _history(session, claim.id, step.before, step.after, actor=actor, reason=reason)
        return
    if step.after in CLOSED:
        values["closed_at"] = utcnow()
        # Drafts written for the claim as it was (an offer, a reminder) must not go out now.
        session.exec(  # type: ignore[call-overload]
            update(Reply)
            .where(
                Reply.claim_id == claim.id,
                Reply.status.in_([ReplyStatus.DRAFT, ReplyStatus.SECOND_APPROVAL]),  # type: ignore[attr-defined]
            )
            .values(status=ReplyStatus.WITHDRAWN, decided_by=actor, note=f"claim {step.after}: {reason}")
        )
    result = session.exec(  # type: ignore[call-overload]
        update(Claim).where(Claim.id == claim.id, Claim.status == step.before).values(**values)
    )
    if result.rowcount != 1:
        raise IllegalTransition(f"claim {claim.reference} changed meanwhile; reload it and try again")
    _history(session, claim.id, step.before, step.after, actor=actor, reason=reason)
    # The row now holds what the update wrote: said to the object as loaded, not read back.
    for name, value in values.items():
        set_committed_value(claim, name, value)


def _history(
    session: Session, claim_id: int, before: State, after: State, *, actor: str, reason: str
) -> None:
    record_event(
        session,
        claim_id=claim_id,
        actor=actor,
        event="transition",
        detail=reason,
        from_state=before,
        to_state=after,
    )


def after_sent(session: Session, reply: Reply, *, consent_days: int) -> None:
    """What a reply's leaving changes about its claim, in the transaction that records it sent."""
    record_event(
        session, claim_id=reply.claim_id, actor="bot", event="reply_sent", detail=f"{reply.kind} {reply.id}"
    )
    claim = session.get(Claim, reply.claim_id)
    if reply.kind != "offer" or claim is None or claim.status not in (State.ASSESSED, State.ESCALATED):
        return
    claim.offered_at = utcnow()
    if claim.consent_deadline is None:
        claim.consent_deadline = claim.offered_at + timedelta(days=consent_days)
    try:
        move(session, claim, State.OFFER_SENT, actor="bot", reason=f"offer sent as reply {reply.id}")
    except IllegalTransition as exc:
        # Staff moved the claim while the offer was on its way: the reply is still sent.
        record_event(session, claim_id=reply.claim_id, actor="bot", event="offer_sent_late", detail=str(exc))


def resolve_reply(
    session: Session, *, reply_id: int, delivered: bool, by: str, consent_days: int
) -> Reply | None:
    """A person settles an uncertain or refused reply: it was delivered, or it should go again.
    An approved one can be marked delivered too: after a restore from a backup taken before it
    went, it is in the mailbox's Sent folder and must not go twice."""
    new = ReplyStatus.SENT if delivered else ReplyStatus.APPROVED
    settled = [ReplyStatus.UNCERTAIN, ReplyStatus.FAILED] + ([ReplyStatus.APPROVED] if delivered else [])
    values: dict[str, Any] = {"status": new, "decided_by": by}
    if delivered:
        values["sent_at"] = utcnow()
    result = session.exec(  # type: ignore[call-overload]
        update(Reply).where(Reply.id == reply_id, Reply.status.in_(settled)).values(**values)
    )
    if result.rowcount != 1:
        return None
    reply = session.get(Reply, reply_id)
    if reply is not None:
        session.refresh(reply)
        record_event(
            session,
            claim_id=reply.claim_id,
            actor=by,
            event="reply_marked_sent" if delivered else "reply_resend",
            detail=f"reply {reply_id}",
        )
        if delivered:
            after_sent(session, reply, consent_days=consent_days)
    return reply
