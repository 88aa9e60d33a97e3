"""A client's message filed under its claim: the follow-up found by reference or thread, recorded
in the claim's history, and the consent it carries applied to the offer the claim is waiting on."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from bot.claims import moves, replies
from bot.config import Settings
from bot.stages.consent import Consent
from bot.storage import store
from bot.storage.tables import Claim, InboundMessage, MessageStatus, State

log = logging.getLogger(__name__)


def claim_for(session: Session, reference: str | None, thread: tuple[str, ...]) -> Claim | None:
    if reference:
        claim = store.claim_by_reference(session, reference=reference)
        if claim is not None:
            return claim
    return store.claim_by_reply_message_id(session, message_ids=thread)


def attach(
    session: Session, inbound: InboundMessage, claim: Claim, status: MessageStatus, event: str
) -> None:
    """File the message under its claim and say so in the claim's history."""
    assert claim.id is not None
    inbound.status, inbound.claim_id = status, claim.id
    log.info(event, extra={"claim": claim.reference, "message_id": inbound.message_id})
    store.record_event(
        session,
        claim_id=claim.id,
        actor="bot",
        event=event,
        detail=f"message {inbound.message_id or inbound.content_hash[:12]}",
    )


def speaks_for(claim: Claim, sender: str) -> bool:
    """Only the claim's own verified address may answer its offer."""
    return sender == claim.sender and claim.sender_verified


def record(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    claim: Claim,
    *,
    sender: str,
    consent: Consent | None,
) -> None:
    """File a follow-up under its claim and draft the answer it calls for.

    ``consent`` is what the client's reply says, read only from a sender who ``speaks_for`` the
    claim; None from anyone else, who gets the unverified-sender letter."""
    attach(session, inbound, claim, MessageStatus.FOLLOWUP, "followup_received")
    if consent is None:
        context = {**replies.common(claim, settings), "name": replies.DEFAULT_NAME[claim.language]}
        replies.queue(session, settings, claim, "unverified_sender", context, to=sender)
        return
    kind = _apply_consent(session, claim, consent, received_at=inbound.received_at)
    context = replies.common(claim, settings)
    if kind == "consent_received":
        context["chosen"] = replies.chosen(session, claim)
    replies.queue(session, settings, claim, kind, context)


def _apply_consent(session: Session, claim: Claim, consent: Consent, *, received_at: datetime) -> str:
    """Lock the remedy the client chose on every offered order; return the reply kind it calls for."""
    assert claim.id is not None
    if claim.status != State.OFFER_SENT or (consent.answer is None and not consent.agrees_without_choice):
        return "followup_received"
    if claim.consent_deadline is not None and received_at > claim.consent_deadline:
        store.record_event(
            session,
            claim_id=claim.id,
            actor="client",
            event="consent_after_deadline",
            detail=consent.evidence,
        )
        return "followup_received"
    if consent.answer == "refused":
        moves.move(session, claim, State.REFUSED, actor="client", reason=consent.evidence)
        return "followup_received"
    open_rows = [
        r
        for r in store.claim_orders(session, claim_id=claim.id)
        if r.outcome == "eligible" and r.chosen_remedy is None
    ]
    remedy = consent.answer
    if remedy is None and consent.agrees_without_choice:
        # A plain "同意" / "I agree" accepts option 1, which every offer has (as the offer says).
        remedy = "best_price"
    chosen = []
    for row in open_rows:
        offered = {"best_price": row.best_price_amount, "restore": row.restore_amount}
        # "2" on an offer where some orders have only option 1 accepts that one option too,
        # as the offer says: one answer settles the whole claim.
        pick = remedy if remedy and offered[remedy] is not None else "best_price"
        if remedy is not None and offered[pick] is not None and row.id is not None:
            chosen.append(store.choose_remedy(session, claim_order_id=row.id, remedy=pick, by="client"))
    if not chosen:
        store.record_event(
            session, claim_id=claim.id, actor="client", event="consent_unclear", detail=consent.evidence
        )
        return "followup_received"
    moves.move(session, claim, State.CONSENTED, actor="client", reason=f"{remedy}: {consent.evidence}")
    return "consent_received"
