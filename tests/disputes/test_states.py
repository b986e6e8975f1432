"""The state machine alone: every act from every state either moves the case as the table says or is refused (409)
naming the state and the acts it allows."""

from __future__ import annotations

import pytest

from fusioncell.disputes.states import CLOSED, LIVE, STAGES, Act, State, allowed_acts, next_state
from fusioncell.errors import Conflict

EXPECTED = {
    (State.OPEN, Act.ACKNOWLEDGE): State.ACKNOWLEDGED,
    (State.ACKNOWLEDGED, Act.RESPOND): State.RESPONDED,
    (State.RESPONDED, Act.REVIEW): State.UNDER_REVIEW,
    (State.UNDER_REVIEW, Act.RESOLVE): State.RESOLVED,
    **{(s, Act.ESCALATE): State.ESCALATED for s in LIVE},
    **{(s, Act.WITHDRAW): State.WITHDRAWN for s in LIVE},
}


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("act", list(Act))
def test_every_act_from_every_state(state: State, act: Act) -> None:
    if (state, act) in EXPECTED:
        assert next_state(state, act, dispute_id=7) is EXPECTED[(state, act)]
        assert act in allowed_acts(state)
        return
    with pytest.raises(Conflict) as refused:
        next_state(state, act, dispute_id=7)
    assert refused.value.extensions["state"] == state.value
    assert f"dispute 7 is {state.value}" in refused.value.detail
    assert refused.value.extensions["allowed"] == [a.value for a in allowed_acts(state)]


def test_live_states_have_a_deadline_and_closed_ones_none() -> None:
    assert set(STAGES) == set(LIVE) and not set(STAGES) & set(CLOSED)
    assert all(allowed_acts(s) == [] for s in CLOSED)
