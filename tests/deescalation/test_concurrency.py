"""Check and insert are one: two conflicting notifications at the same moment cannot both pass unacknowledged (an
advisory lock per theatre on PostgreSQL; SQLite's single writer)."""

from __future__ import annotations

import threading
import time

from fusioncell.auth.service import authenticate
from fusioncell.deescalation import service
from fusioncell.deescalation.schemas import ActivityCreate
from fusioncell.errors import Conflict
from tests.deescalation.helpers import activity


def _notify(cell, principal, body, outcome, *, hold: threading.Event | None = None, started=None):  # type: ignore[no-untyped-def]
    try:
        with cell.command() as uow:
            service.notify(cell=cell, uow=uow, principal=principal, body=ActivityCreate.model_validate(body))
            if started is not None:
                started.set()  # checked and inserted, not yet committed
            if hold is not None:
                hold.wait(5)
        outcome.append(("accepted", principal.delegation))
    except Conflict as exc:
        outcome.append(("refused", [c["ref"] for c in exc.extensions["conflicts"]]))


def test_the_second_of_two_overlapping_notifications_waits_for_the_first_and_sees_it(cell, crew) -> None:
    sy = authenticate(cell=cell, raw_token=crew["sy"].token)
    il = authenticate(cell=cell, raw_token=crew["il"].token)
    outcome: list = []
    checked, release = threading.Event(), threading.Event()
    first = threading.Thread(
        target=_notify, args=(cell, sy, activity(), outcome), kwargs={"hold": release, "started": checked}
    )
    first.start()
    assert checked.wait(5)
    second = threading.Thread(target=_notify, args=(cell, il, activity(), outcome))
    second.start()
    time.sleep(0.3)  # the second is now waiting for the theatre (it must not have decided)
    assert outcome == []
    release.set()
    first.join(5)
    second.join(5)
    assert outcome[0] == ("accepted", "SY")
    assert outcome[1][0] == "refused" and outcome[1][1][0].startswith("activity:")


def test_many_at_once_exactly_one_passes_unacknowledged(cell, crew) -> None:
    principals = [authenticate(cell=cell, raw_token=crew[who].token) for who in ("sy", "il")]
    for round_ in range(3):
        body = activity(geometry={"type": "Point", "coordinates": [36.3 + round_ * 0.1, 33.3]})
        outcome: list = []
        gate = threading.Barrier(4)

        def run(principal, gate=gate, body=body, outcome=outcome) -> None:  # type: ignore[no-untyped-def]
            gate.wait(5)
            _notify(cell, principal, body, outcome)

        threads = [threading.Thread(target=run, args=(principals[i % 2],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        # one party's first notification passes; the same party's others do not conflict with it (same party), the
        # other party's are refused: never both parties accepted without acknowledgement
        accepted = {o[1] for o in outcome if o[0] == "accepted"}
        refused = [o for o in outcome if o[0] == "refused"]
        assert len(outcome) == 4 and len(accepted) == 1 and len(refused) == 2, outcome


def test_the_same_notification_sent_twice_at_once_is_written_once(cell, crew) -> None:
    """A resend that arrives while the first is still being recorded (checked and inserted, not committed): it
    waits, then answers with the first, before it could be checked against it. One activity."""
    from fusioncell.deescalation.models import Activity
    from fusioncell.deescalation.schemas import ActivityNotify
    from tests.conftest import table_count

    sy = authenticate(cell=cell, raw_token=crew["sy"].token)
    # in the 10 km belt with 50 of its 75 tanks: the two copies together would break the cap, one does not
    belt = {"type": "Point", "coordinates": [35.98, 33.0]}
    body = ActivityNotify.model_validate(activity(geometry=belt, forces={"tanks": 50}, client_txn_id="sy-double-press"))
    before = table_count(cell, Activity)
    inserted, release = threading.Event(), threading.Event()
    answers: dict[str, service.Notified] = {}

    def first() -> None:
        with cell.command() as uow:
            answers["first"] = service.Notified(*service.notify(cell=cell, uow=uow, principal=sy, body=body))
            inserted.set()
            release.wait(5)

    def resend() -> None:
        answers["resend"] = service.submit(cell=cell, principal=sy, body=body)

    threads = [threading.Thread(target=first), threading.Thread(target=resend)]
    threads[0].start()
    assert inserted.wait(5)
    threads[1].start()
    time.sleep(0.3)  # the resend is waiting for the first (the theatre's lock, or SQLite's one writer)
    assert "resend" not in answers
    release.set()
    for t in threads:
        t.join(10)
    assert table_count(cell, Activity) == before + 1
    assert not answers["first"].replayed and answers["resend"].replayed
    assert answers["resend"].activity.id == answers["first"].activity.id
