"""How swiftly disputes are settled, over the cases a person reads: time to acknowledge, time to resolve, open cases
by age. Computed on read from the cases' own times."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from fusioncell.cell import Cell
from fusioncell.disputes import states
from fusioncell.disputes.models import Dispute
from fusioncell.policy import Principal, readable_audiences

AGES: tuple[tuple[str, timedelta | None], ...] = (
    ("<1d", timedelta(days=1)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
    (">7d", None),
)


def summary(values: list[float]) -> dict[str, float | None]:
    """Median and 90th percentile (nearest rank) and how many."""
    if not values:
        return {"median": None, "p90": None, "count": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {"median": rank(0.5), "p90": rank(0.9), "count": len(ordered)}


def age_bucket(age: timedelta) -> str:
    for label, limit in AGES:
        if limit is None or age < limit:
            return label
    raise AssertionError("unreachable")


def compute(*, cell: Cell, principal: Principal) -> dict[str, Any]:
    now: datetime = cell.clock.now()
    audiences = readable_audiences(principal, cell.charter.roster)
    rows: list[Any] = []
    if audiences:
        with cell.reading() as session:
            rows = list(
                session.execute(
                    select(
                        Dispute.state,
                        Dispute.opened_at,
                        Dispute.acknowledged_at,
                        Dispute.closed_at,
                        Dispute.stage_due_at,
                    ).where(Dispute.audience.in_(audiences))
                )
            )
    live = [r for r in rows if states.is_live(r.state)]
    by_age = {label: 0 for label, _ in AGES}
    for r in live:
        by_age[age_bucket(now - r.opened_at)] += 1
    closed = {s.value: 0 for s in states.CLOSED}
    for r in rows:
        if r.state in closed:
            closed[r.state] += 1
    return {
        "open": len(live),
        "closed": closed,
        "time_to_acknowledge_s": summary(
            [(r.acknowledged_at - r.opened_at).total_seconds() for r in rows if r.acknowledged_at is not None]
        ),
        "time_to_resolve_s": summary(
            [(r.closed_at - r.opened_at).total_seconds() for r in rows if r.state == states.State.RESOLVED]
        ),
        "open_by_age": by_age,
        "overdue": sum(1 for r in live if r.stage_due_at is not None and r.stage_due_at <= now),
        "at": now,
    }
