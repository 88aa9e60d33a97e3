from __future__ import annotations

from itertools import pairwise

import pytest

from bot.claims.lifecycle import CLOSED, TRANSITIONS, IllegalTransition, State, transition

HAPPY_PATH = [
    State.RECEIVED,
    State.ACKNOWLEDGED,
    State.ASSESSED,
    State.OFFER_SENT,
    State.CONSENTED,
    State.SETTLED,
]


def test_the_promised_path_is_allowed_step_by_step() -> None:
    for before, after in pairwise(HAPPY_PATH):
        step = transition(before, after, actor="bot", reason="test")
        assert (step.before, step.after) == (before, after)


def test_a_skipped_step_is_refused_naming_both_states_and_the_way_out() -> None:
    with pytest.raises(IllegalTransition, match=r"from received to consented.*acknowledged"):
        transition(State.RECEIVED, State.CONSENTED, actor="bot", reason="")


@pytest.mark.parametrize("closed", sorted(CLOSED))
def test_a_closed_claim_goes_nowhere(closed: State) -> None:
    for target in State:
        with pytest.raises(IllegalTransition, match="closed"):
            transition(closed, target, actor="alice", reason="")


def test_nothing_is_settled_without_consent() -> None:
    sources = [state for state, targets in TRANSITIONS.items() if State.SETTLED in targets]
    assert sources == [State.CONSENTED, State.ESCALATED]


def test_every_open_claim_can_be_escalated_to_a_person() -> None:
    for state in set(State) - CLOSED - {State.ESCALATED}:
        transition(state, State.ESCALATED, actor="bot", reason="the bot cannot decide")


def test_unknown_states_and_missing_actors_are_refused() -> None:
    with pytest.raises(IllegalTransition, match="unknown claim state"):
        transition("limbo", State.SETTLED, actor="bot", reason="")
    with pytest.raises(IllegalTransition, match="actor"):
        transition(State.RECEIVED, State.ACKNOWLEDGED, actor="", reason="")
