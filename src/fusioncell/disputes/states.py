"""A dispute's life as a state machine: which act moves a case from which state to which, who owes each stage, and
which of the charter's deadlines runs in it. Pure: no database, no clock.

    open ──acknowledge──▶ acknowledged ──respond──▶ responded ──review──▶ under-review ──resolve──▶ resolved
      └──────────────┴──────────────────┴──────────────────┴── escalate ──▶ escalated (to the diplomatic track)
                                                                └── withdraw ──▶ withdrawn
"""

from __future__ import annotations

from enum import StrEnum

from fusioncell.errors import Conflict


class State(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESPONDED = "responded"
    UNDER_REVIEW = "under-review"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    WITHDRAWN = "withdrawn"


class Act(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESPOND = "respond"
    REVIEW = "review"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    WITHDRAW = "withdraw"


class Finding(StrEnum):
    SUBSTANTIATED = "substantiated"
    NOT_SUBSTANTIATED = "not-substantiated"
    INCONCLUSIVE = "inconclusive"


class Owner(StrEnum):
    """Who owes a stage: the party the case is brought against, or the mediator."""

    RESPONDENT = "respondent"
    MEDIATOR = "mediator"


LIVE: tuple[State, ...] = (State.OPEN, State.ACKNOWLEDGED, State.RESPONDED, State.UNDER_REVIEW)
CLOSED: tuple[State, ...] = (State.RESOLVED, State.ESCALATED, State.WITHDRAWN)

TRANSITIONS: dict[Act, tuple[tuple[State, ...], State]] = {
    Act.ACKNOWLEDGE: ((State.OPEN,), State.ACKNOWLEDGED),
    Act.RESPOND: ((State.ACKNOWLEDGED,), State.RESPONDED),
    Act.REVIEW: ((State.RESPONDED,), State.UNDER_REVIEW),
    Act.RESOLVE: ((State.UNDER_REVIEW,), State.RESOLVED),
    Act.ESCALATE: (LIVE, State.ESCALATED),
    Act.WITHDRAW: (LIVE, State.WITHDRAWN),
}

# The deadline that runs in each live state (a key of the charter's `disputes.deadlines`), and who owes it.
STAGES: dict[State, tuple[str, Owner]] = {
    State.OPEN: ("acknowledge", Owner.RESPONDENT),
    State.ACKNOWLEDGED: ("respond", Owner.RESPONDENT),
    State.RESPONDED: ("review", Owner.MEDIATOR),
    State.UNDER_REVIEW: ("decide", Owner.MEDIATOR),
}

# What the next step is, as a person reads it ("awaiting the respondent's acknowledgement").
AWAITING: dict[State, str] = {
    State.OPEN: "the respondent's acknowledgement",
    State.ACKNOWLEDGED: "the respondent's response",
    State.RESPONDED: "the mediator taking it up",
    State.UNDER_REVIEW: "the mediator's finding",
}


def next_state(state: State | str, act: Act, *, dispute_id: int) -> State:
    """The state the act leads to; a Conflict (409) naming the state and what it allows when the act does not
    apply to it."""
    current = State(state)
    sources, target = TRANSITIONS[act]
    if current in sources:
        return target
    allowed = allowed_acts(current)
    if current in CLOSED:
        detail = f"dispute {dispute_id} is {current.value}: a closed case takes no further act"
    else:
        detail = (
            f"dispute {dispute_id} is {current.value}: it cannot {act.value} now; it awaits "
            f"{AWAITING[current]} (possible: {', '.join(a.value for a in allowed)})"
        )
    raise Conflict(detail, state=current.value, act=act.value, allowed=[a.value for a in allowed])


def allowed_acts(state: State | str) -> list[Act]:
    """The acts a case in this state allows, in the order of the case's life."""
    current = State(state)
    return [act for act, (sources, _) in TRANSITIONS.items() if current in sources]


def is_live(state: State | str) -> bool:
    return State(state) in LIVE
