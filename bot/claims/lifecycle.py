"""The claim lifecycle: which state a claim may move to from where, and why it moved.

    received -> acknowledged -> assessed -> offer_sent -> consented -> settled
                      \\-> needs_information -/        \\-> refused
    any open state -> rejected (not eligible, with the reason) | escalated (to a person)

This module is pure logic: it decides whether a move is legal and describes it (the states
themselves, ``State``, are stored values and live in ``bot.storage.tables``). ``bot.claims.moves``
applies a move to a claim and appends it to the claim's history in the same transaction,
so the history and the state never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.tables import State

_OPEN_EXITS = {State.REJECTED, State.ESCALATED}

TRANSITIONS: dict[State, frozenset[State]] = {
    State.RECEIVED: frozenset({State.ACKNOWLEDGED, State.NEEDS_INFORMATION, *_OPEN_EXITS}),
    State.ACKNOWLEDGED: frozenset({State.NEEDS_INFORMATION, State.ASSESSED, *_OPEN_EXITS}),
    State.NEEDS_INFORMATION: frozenset({State.ACKNOWLEDGED, State.ASSESSED, *_OPEN_EXITS}),
    State.ASSESSED: frozenset({State.OFFER_SENT, *_OPEN_EXITS}),
    State.OFFER_SENT: frozenset({State.CONSENTED, State.REFUSED, *_OPEN_EXITS}),
    State.CONSENTED: frozenset({State.SETTLED, State.ESCALATED}),
    # A refusal goes to a person, who may revise the offer or close the claim.
    State.REFUSED: frozenset({State.ASSESSED, *_OPEN_EXITS}),
    # A person takes an escalated claim back into the flow wherever it belongs.
    State.ESCALATED: frozenset(
        {State.NEEDS_INFORMATION, State.ASSESSED, State.OFFER_SENT, State.SETTLED, State.REJECTED}
    ),
    State.SETTLED: frozenset(),
    State.REJECTED: frozenset(),
}

CLOSED = frozenset({State.SETTLED, State.REJECTED})


class IllegalTransition(Exception):
    """A claim was asked to move where its lifecycle does not allow; the message says why."""


@dataclass(frozen=True)
class Transition:
    before: State
    after: State
    actor: str
    reason: str


def transition(before: str, after: str, *, actor: str, reason: str) -> Transition:
    """Check a move and describe it; raise ``IllegalTransition`` naming both states if it is not allowed."""
    try:
        old, new = State(before), State(after)
    except ValueError as exc:
        raise IllegalTransition(f"unknown claim state: {exc}") from None
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "none (the claim is closed)"
        raise IllegalTransition(f"a claim cannot go from {old} to {new}; from {old} it can go to: {allowed}")
    if not actor:
        raise IllegalTransition("every transition needs an actor (the bot, the client or a named person)")
    return Transition(old, new, actor, reason)


def can_move(before: str, after: str) -> bool:
    return State(after) in TRANSITIONS[State(before)]
