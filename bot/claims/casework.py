"""Who works a claim and what they note on it: taking a claim, handing it to someone, and the
internal notes staff leave each other. None of it reaches the client; all of it is in the
claim's history."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session

from bot.claims.approval import NotAllowed, require
from bot.storage import casework, store
from bot.storage.casework import NOTE_LENGTH
from bot.storage.tables import Claim, StaffUser


def assign(session: Session, user: StaffUser, claim_id: int, *, to: str) -> Claim:
    """Make ``to`` the claim's owner ("" for nobody). Anyone may take a claim or let go of their
    own; handing it to someone else, or taking it from them, is a supervisor's call."""
    claim = _claim(session, claim_id)
    to = to.strip()
    if to == claim.owner:
        raise NotAllowed(f"claim {claim.reference} is already {_whose(to)}")
    own = (to == user.name and not claim.owner) or (to == "" and claim.owner == user.name)
    if not own:
        require(user, "supervisor", "give a claim to someone else or take it from them")
    if to:
        person = store.staff_user(session, name=to)
        if person is None or not person.active:
            raise NotAllowed(f"there is no active user named {to!r}")
    before = claim.owner
    # Conditional on the owner the person saw: two people taking one claim at once, one wins.
    taken = session.exec(  # type: ignore[call-overload]
        update(Claim).where(Claim.id == claim_id, Claim.owner == before).values(owner=to)
    )
    if taken.rowcount != 1:
        raise NotAllowed(f"claim {claim.reference} was assigned by someone else meanwhile; reload it")
    session.refresh(claim)
    store.record_event(
        session,
        claim_id=claim_id,
        actor=user.name,
        event="assigned",
        detail=f"{before or '-'} -> {to or '-'}",
    )
    return claim


def note(session: Session, user: StaffUser, claim_id: int, *, text: str) -> casework.ClaimNote:
    claim = _claim(session, claim_id)
    text = text.strip()
    if not text:
        raise NotAllowed("an internal note needs some text")
    if len(text) > NOTE_LENGTH:
        raise NotAllowed(f"an internal note holds at most {NOTE_LENGTH} characters; this one has {len(text)}")
    added = casework.add_note(session, claim_id=claim_id, author=user.name, text=text)
    store.record_event(
        session, claim_id=claim.id or 0, actor=user.name, event="note_added", detail=f"note {added.id}"
    )
    return added


def _whose(owner: str) -> str:
    return f"{owner}'s" if owner else "nobody's"


def _claim(session: Session, claim_id: int) -> Claim:
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotAllowed(f"there is no claim {claim_id}")
    return claim
