"""Each stage's deadline fires through the injected clock, exactly once, also with two app instances racing: the
case is escalated, whoever owes the stage and the mediator are alerted; a stage acted on in time fires nothing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from fusioncell.app import create_app
from fusioncell.disputes.models import Dispute
from fusioncell.ledger.models import LedgerEntry
from fusioncell.traffic.models import Alert
from tests.conftest import make_cell
from tests.disputes.helpers import act, open_case, signed_in_again

PERIODS = {"acknowledge": timedelta(hours=24), "respond": timedelta(days=3), "review": timedelta(days=2),
           "decide": timedelta(days=14)}  # fmt: skip
# the acts that bring a case to each stage, and who owes it
STAGES = [
    ("acknowledge", [], "IL"),
    ("respond", [("il", "acknowledge", {})], "IL"),
    ("review", [("il", "acknowledge", {}), ("il", "respond", {"text": "Ours"})], "US"),
    ("decide", [("il", "acknowledge", {}), ("il", "respond", {"text": "Ours"}), ("us", "review", {})], "US"),
]


def escalations(cell, dispute_id: int) -> list[dict]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        rows = session.execute(
            select(LedgerEntry).where(
                LedgerEntry.subject == f"dispute:{dispute_id}", LedgerEntry.action == "dispute.escalated"
            )
        ).scalars()
        return [json.loads(e.content) for e in rows]


def overdue_alerts(cell, dispute_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        rows = session.execute(
            select(Alert).where(Alert.subject == f"dispute:{dispute_id}", Alert.kind == "dispute_overdue")
        ).scalars()
        return sorted((a.target, a.role) for a in rows)


@pytest.mark.parametrize(("stage", "acts", "debtor"), STAGES, ids=[s[0] for s in STAGES])
def test_an_overdue_stage_alerts_and_escalates_once(client, cell, crew, clock, stage, acts, debtor) -> None:
    d = open_case(client, crew["sy"])
    for who, name, body in acts:
        act(client, crew[who], d["id"], name, body)
    scheduler = client.app.state.scheduler
    clock.advance(PERIODS[stage] - timedelta(seconds=1))
    assert scheduler.run_due() == 0 and not escalations(cell, d["id"])
    clock.advance(timedelta(seconds=1))
    assert scheduler.run_due() == 1
    (entry,) = escalations(cell, d["id"])
    assert entry["overdue"] == stage and entry["owed_by"] == debtor and entry["actor"] == "scheduler"
    expected = [("IL", "duty_officer"), ("US", "mediator")] if debtor == "IL" else [("US", "mediator")]
    assert overdue_alerts(cell, d["id"]) == expected
    with cell.reading() as session:
        case = session.get(Dispute, d["id"])
    assert case is not None and case.state == "escalated" and case.overdue_stage == stage
    assert case.closed_by == "scheduler" and case.stage_due_at is None and "was due at" in (case.reasons or "")
    # once: later passes, and the clock moving on, fire nothing more
    clock.advance(timedelta(days=30))
    assert scheduler.run_due() == 0
    assert len(escalations(cell, d["id"])) == 1 and len(overdue_alerts(cell, d["id"])) == len(expected)


def test_a_stage_acted_on_in_time_fires_nothing(client, cell, crew, clock) -> None:
    d = open_case(client, crew["sy"])
    scheduler = client.app.state.scheduler
    clock.advance(timedelta(hours=23, minutes=59))
    signed_in_again(client, crew, "il")
    act(client, crew["il"], d["id"], "acknowledge")
    clock.advance(timedelta(minutes=2))  # past the acknowledgement's deadline, well within the response's
    assert scheduler.run_due() == 0
    assert not escalations(cell, d["id"])
    with cell.reading() as session:
        assert session.get(Dispute, d["id"]).state == "acknowledged"  # type: ignore[union-attr]


def test_a_case_closed_by_hand_fires_nothing(client, cell, crew, clock) -> None:
    d = open_case(client, crew["sy"])
    act(client, crew["sy"], d["id"], "withdraw", {"reason": "Settled"})
    clock.advance(timedelta(days=3))
    assert client.app.state.scheduler.run_due() == 0
    assert not escalations(cell, d["id"])


def test_two_app_instances_escalate_each_overdue_case_once(backend, clock, client, crew) -> None:
    ids = [open_case(client, crew["sy"], title=f"Case {i}")["id"] for i in range(5)]
    cells = [make_cell(backend, clock), make_cell(backend, clock)]
    apps = [create_app(c, run_scheduler=False) for c in cells]
    clock.advance(timedelta(hours=25))
    barrier = threading.Barrier(2)
    counts = [0, 0]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                counts[i] += apps[i].state.scheduler.run_due()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        assert sum(counts) == 5
        for dispute_id in ids:
            assert len(escalations(cells[0], dispute_id)) == 1
            assert overdue_alerts(cells[0], dispute_id) == [("IL", "duty_officer"), ("US", "mediator")]
    finally:
        for c in cells:
            c.db.dispose()
