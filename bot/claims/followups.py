"""A client's message filed under its claim: the follow-up found by reference or thread, recorded
in the claim's history, and the consent it carries applied to the offer the claim is waiting on,
but only on proof that the client wrote it (``Proof``); otherwise the client is asked."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from bot.claims import moves, replies
from bot.config import Settings
from bot.stages.consent import Consent
from bot.stages.draft import DEFAULT_NAMES
from bot.storage import store
from bot.storage.tables import Claim, InboundMessage, MessageStatus, State, utcnow

log = logging.getLogger(__name__)


def claim_for(session: Session, reference: str | None, thread: tuple[str, ...]) -> Claim | None:
    if reference:
        claim = store.claim_by_reference(session, reference=reference)
        if claim is not None:
            return claim
    return store.claim_by_reply_message_id(session, message_ids=thread)


def awaiting_answer(session: Session, sender: str) -> Claim | None:
    """The one claim of this verified address whose offer waits for an answer (None if none or
    several): a client who answers "I agree" in a new email, naming nothing, means that offer."""
    found = store.claims_in_state(session, sender=sender, state=State.OFFER_SENT, limit=2)
    return found[0] if len(found) == 1 and found[0].sender_verified else None


def attach(
    session: Session, inbound: InboundMessage, claim: Claim, status: MessageStatus, event: str
) -> None:
    """File the message under its claim and say so in the claim's history."""
    assert claim.id is not None
    inbound.status, inbound.claim_id = status, claim.id
    log.debug(event, extra={"claim": claim.reference, "message_id": inbound.message_id})
    store.record_event(
        session,
        claim_id=claim.id,
        actor="bot",
        event=event,
        detail=f"message {inbound.message_id or inbound.content_hash[:12]}",
    )


class Voice(StrEnum):
    """Who a follow-up on a claim speaks as."""

    CLIENT = "client"  # the claim's verified address, nothing doubtful about the From header
    UNVERIFIED = "unverified"  # the claim's own sender, whom the records do not know
    IMPERSONATED = "impersonated"  # another address, its display name showing the claim's
    STRANGER = "stranger"


@dataclass(frozen=True)
class Proof:
    """What a follow-up proves about its writer: which of our letters it replies to (its
    In-Reply-To or References hold that letter's random Message-ID), and whether our own
    receiving server vouches for its From domain (``bot.stages.authenticity``)."""

    answers: str  # "offer" (the offer or its reminder), "confirmation", or ""
    vouched: bool
    why: str
    cites: frozenset[str] = frozenset()  # the Message-IDs of ours the message replies to

    @property
    def enough(self) -> bool:
        return self.answers == "offer" and self.vouched


# Letters whose reply answers the offer: the offer itself and its reminder.
_ASKING = {"offer": "offer", "reminder": "offer", "consent_confirmation": "confirmation"}


def voice_of(claim: Claim, sender: str, *, doubt: str, shown: str) -> Voice:
    if sender == claim.sender and not doubt:
        return Voice.CLIENT if claim.sender_verified else Voice.UNVERIFIED
    if claim.sender_verified and shown == claim.sender:
        return Voice.IMPERSONATED
    return Voice.STRANGER


def proof_of(session: Session, claim: Claim, thread: tuple[str, ...], *, vouched: tuple[bool, str]) -> Proof:
    assert claim.id is not None
    letters = store.sent_letters(session, claim_id=claim.id)
    kinds = {
        _ASKING[kind] for message_id, kind in letters.items() if message_id in thread and kind in _ASKING
    }
    answers = "confirmation" if "confirmation" in kinds else "offer" if kinds else ""
    why = vouched[1] if answers else "not a reply to the offer we sent"
    return Proof(answers, vouched[0], why, frozenset(i for i in thread if i in letters))


def record(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    claim: Claim,
    *,
    sender: str,
    consent: Consent | None,
    proof: Proof | None = None,
    it_was_me: bool | None = None,
    bare_yes: bool = False,
) -> None:
    """File a follow-up under its claim and draft the answer it calls for.

    ``consent`` is what the client's reply says, read only from the claim's own verified
    address; None from anyone else, who gets the unverified-sender letter. Money moves only on
    ``proof``: a reply to the offer that our server vouches for, or a reply to the confirmation
    letter (``it_was_me``: its answer); any other answer to the offer is held and the client
    asked."""
    attach(session, inbound, claim, MessageStatus.FOLLOWUP, "followup_received")
    if consent is None:
        context = {**replies.common(claim, settings), "name": DEFAULT_NAMES[claim.language]}
        replies.queue(session, settings, claim, "unverified_sender", context, to=sender)
        return
    proof = proof or Proof("", False, "not a reply to the offer we sent")
    received_at = inbound.received_at
    if bare_yes and proof.answers == "offer" and consent.answer is None and not consent.agrees_without_choice:
        consent = _yes_to_the_offer(session, claim, consent)
    if consent.refuses_option_1 and _offered_only_option_1(session, claim):
        consent = Consent("refused", False, f"{consent.evidence} (the offer has option 1 only)")
    if claim.pending_consent and claim.pending_consent_letter in proof.cites:
        kind = _confirm(session, claim, consent, it_was_me=it_was_me)
    elif _answers_offer(claim, consent) and not proof.enough:
        ask_to_confirm(session, settings, claim, consent, why=proof.why, received_at=received_at)
        return
    else:
        kind = _apply_consent(session, claim, consent, received_at=received_at)
    context = replies.common(claim, settings)
    if kind == "consent_received":
        context["chosen"] = replies.chosen(session, claim)
    replies.queue(session, settings, claim, kind, context)


def _offered_only_option_1(session: Session, claim: Claim) -> bool:
    assert claim.id is not None
    offered = [r for r in store.claim_orders(session, claim_id=claim.id) if r.outcome == "eligible"]
    return bool(offered) and all(r.restore_amount is None for r in offered)


def _yes_to_the_offer(session: Session, claim: Claim, consent: Consent) -> Consent:
    """A bare yes answering the offer itself: to an offer of option 1 only it is option 1; to an
    offer of two options it is noted and left to a person (never a guess)."""
    assert claim.id is not None
    if _offered_only_option_1(session, claim):
        return Consent("best_price", False, "a plain yes to an offer of option 1 only")
    store.record_event(session, claim_id=claim.id, actor="client", event="consent_needs_choice", detail="yes")
    return consent


def _answers_offer(claim: Claim, consent: Consent) -> bool:
    return claim.status == State.OFFER_SENT and (consent.answer is not None or consent.agrees_without_choice)


def ask_to_confirm(
    session: Session, settings: Settings, claim: Claim, consent: Consent, *, why: str, received_at: datetime
) -> None:
    """Hold an answer to the offer that proves nothing, and ask the registered address whether it
    was the client's: the claim is unchanged until a reply to that letter confirms."""
    assert claim.id is not None
    if not _answers_offer(claim, consent):
        return
    answer = consent.answer or "agree"
    detail = f"{answer}: {why}; {consent.evidence}"[:1000]
    if claim.pending_consent:
        # One question at a time: a later answer neither replaces the one the client is being
        # asked about nor sends them another letter (a stranger could use up their replies).
        store.record_event(
            session, claim_id=claim.id, actor="bot", event="consent_unconfirmed_again", detail=detail
        )
        return
    store.record_event(session, claim_id=claim.id, actor="bot", event="consent_unconfirmed", detail=detail)
    choice = {"best_price": "1", "restore": "2", "refused": "refused"}.get(consent.answer or "", "")
    context = {**replies.common(claim, settings), "choice": choice, "received_on": received_at.date()}
    letter = replies.queue(session, settings, claim, "consent_confirmation", context)
    if letter is not None:
        claim.pending_consent, claim.pending_consent_at = answer, received_at
        claim.pending_consent_letter = letter.message_id
        session.add(claim)


def _confirm(session: Session, claim: Claim, reply: Consent, *, it_was_me: bool | None) -> str:
    """The client answered the confirmation letter about the held answer: a plain "it was me"
    applies it, as of when it arrived; a denial drops it; anything else (a question, another
    option than the one held) leaves it held for a person to read."""
    assert claim.id is not None
    held, held_at = claim.pending_consent, claim.pending_consent_at
    other_option = reply.answer is not None and reply.answer != held
    if it_was_me is None or (it_was_me and other_option):
        store.record_event(
            session, claim_id=claim.id, actor="client", event="confirmation_unclear", detail=reply.evidence
        )
        return "followup_received"
    claim.pending_consent, claim.pending_consent_at, claim.pending_consent_letter = "", None, ""
    session.add(claim)
    if not it_was_me:
        store.record_event(
            session, claim_id=claim.id, actor="client", event="consent_not_confirmed", detail=held
        )
        return "followup_received"
    store.record_event(session, claim_id=claim.id, actor="client", event="consent_confirmed", detail=held)
    answer = None if held == "agree" else held
    confirmed = Consent(answer, answer is None, f"confirmed: {held}")
    return _apply_consent(session, claim, confirmed, received_at=held_at or utcnow())


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
        claim.pending_consent, claim.pending_consent_at, claim.pending_consent_letter = "", None, ""
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
    claim.pending_consent, claim.pending_consent_at, claim.pending_consent_letter = "", None, ""
    return "consent_received"
