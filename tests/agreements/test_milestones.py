"""Milestones on SQLite and PostgreSQL: their status derived from the clock, the verifier's attestations and the live
cases about them; one passing its date unverified turns overdue, alerts both parties and the mediator, and opens one
case against its obligor — once, also when the scheduler passes again — while one verified in time opens nothing."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from sqlalchemy import select

from fusioncell.disputes.models import Dispute
from fusioncell.ledger.models import LedgerEntry
from fusioncell.traffic.models import Alert
from tests.agreements.helpers import approved_key, milestone, propose, sign
from tests.conftest import ledger_size
from tests.disputes.helpers import signed_in_again

LOG = base64.b64encode(b"Patrol 14: OP-73 vacated, no forces north of Quneitra.\n").decode()


def bound(client, crew, signatories, **overrides) -> int:  # type: ignore[no-untyped-def]
    a = propose(client, crew, **overrides)["id"]
    for k in ("sy", "il"):
        sign(client, signatories[k], approved_key(client, crew, signatories[k]), a)
    return a


def statuses(client, member, agreement: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found = client.get(f"/api/v1/agreements/{agreement}", headers=member.headers).json()
    return {m["key"]: m["status"] for m in found["milestones"]}


def test_statuses_follow_the_clock_and_the_verifier(client, cell, crew, signatories, clock) -> None:
    a = propose(client, crew, milestones=[milestone("north", days=10), milestone("south", days=20)])["id"]
    assert statuses(client, crew["us"], a) == {"north": "pending", "south": "pending"}  # does not bind yet
    r = client.post(f"/api/v1/agreements/{a}/milestones/north/attestations",
                    json={"verdict": "verified", "note": "Too early"}, headers=crew["undof"].headers)  # fmt: skip
    assert r.status_code == 409  # nothing binds: nothing to verify
    for k in ("sy", "il"):
        sign(client, signatories[k], approved_key(client, crew, signatories[k]), a)
    clock.advance(timedelta(days=4))
    signed_in_again(client, crew)
    assert statuses(client, crew["us"], a) == {"north": "due", "south": "pending"}  # a week before its date
    # only its verifier attests it: not the mediator (UNDOF verifies this one), not a party
    for who in ("us", "il"):
        r = client.post(f"/api/v1/agreements/{a}/milestones/north/attestations",
                        json={"verdict": "verified", "note": "Done"}, headers=crew[who].headers)  # fmt: skip
        assert r.status_code == 403, who
    r = client.post(f"/api/v1/agreements/{a}/milestones/north/attestations",
                    json={"verdict": "verified", "note": "Patrol 14 found OP-73 vacated.",
                          "evidence": [{"filename": "patrol-14.txt", "content_type": "text/plain",
                                        "content_base64": LOG}]},
                    headers=crew["undof"].headers)  # fmt: skip
    assert r.status_code == 201, r.text
    north = next(m for m in r.json()["milestones"] if m["key"] == "north")
    assert north["status"] == "verified" and north["attestations"][0]["evidence"][0]["filename"] == "patrol-14.txt"
    evidence = north["attestations"][0]
    got = client.get(f"/api/v1/agreements/{a}/attestations/{evidence['id']}/evidence/"
                     f"{evidence['evidence'][0]['sha256']}", headers=crew["il"].headers)  # fmt: skip
    assert got.status_code == 200 and got.content == base64.b64decode(LOG)
    clock.advance(timedelta(days=20))
    signed_in_again(client, crew)
    assert statuses(client, crew["us"], a) == {"north": "verified", "south": "overdue"}
    # a later attestation that it is not done after all: overdue
    r = client.post(f"/api/v1/agreements/{a}/milestones/north/attestations",
                    json={"verdict": "not-verified", "note": "Forces back at OP-73."},
                    headers=crew["undof"].headers)  # fmt: skip
    assert statuses(client, crew["us"], a)["north"] == "overdue"


def test_an_overdue_milestone_alerts_and_opens_one_case(client, cell, crew, signatories, clock) -> None:
    phases = [milestone("north", days=10), milestone("belt", days=10, obligor="SY")]
    a = bound(client, crew, signatories, milestones=phases)
    scheduler = client.app.state.scheduler
    r = client.post(f"/api/v1/agreements/{a}/milestones/belt/attestations",
                    json={"verdict": "verified", "note": "Inspection found the belt within the figures."},
                    headers=crew["undof"].headers)  # fmt: skip
    assert r.status_code == 201
    clock.advance(timedelta(days=10) - timedelta(seconds=1))
    assert scheduler.run_due() == 0
    clock.advance(timedelta(seconds=1))
    assert scheduler.run_due() == 2  # both fired; the verified one did nothing
    with cell.reading() as session:
        cases = session.execute(select(Dispute)).scalars().all()
        alerts = session.execute(select(Alert).where(Alert.kind == "milestone_overdue")).scalars().all()
        opened = session.execute(select(LedgerEntry).where(LedgerEntry.action == "dispute.opened")).scalars().all()
    (case,) = cases
    assert (case.respondent, case.complainant, case.source_kind, case.about) == ("IL", "US", "milestone",
                                                                                   f"agreement:{a}")  # fmt: skip
    assert case.state == "open" and case.title == "Milestone overdue: Phase north"
    assert sorted((x.target, x.role) for x in alerts) == [("IL", "duty_officer"), ("SY", "duty_officer"),
                                                          ("US", "mediator")]  # fmt: skip
    assert json.loads(opened[0].content)["about"] == f"agreement:{a}"
    signed_in_again(client, crew)
    found = client.get(f"/api/v1/agreements/{a}", headers=crew["sy"].headers).json()
    north = next(m for m in found["milestones"] if m["key"] == "north")
    assert north["status"] == "overdue" and north["dispute"] == case.id
    # once: the scheduler passing again, and the clock moving on, open nothing more
    size = ledger_size(cell)
    clock.advance(timedelta(days=3))
    scheduler.run_due()
    with cell.reading() as session:
        assert len(session.execute(select(Dispute).where(Dispute.source_kind == "milestone")).scalars().all()) == 1
    # the only entries since are the case's own overdue escalation (its acknowledgement was due in 24 h)
    with cell.reading() as session:
        later = session.execute(select(LedgerEntry.action).where(LedgerEntry.index >= size)).scalars().all()
    assert later == ["dispute.escalated"]


def test_an_amended_date_moves_the_deadline(client, cell, crew, signatories, clock) -> None:
    from tests.agreements.helpers import amendment

    a = bound(client, crew, signatories, milestones=[milestone("north", days=10)])
    r = client.post(f"/api/v1/agreements/{a}/versions", json=amendment(milestones=[milestone("north", days=20)]),
                    headers=crew["us"].headers)  # fmt: skip
    for k in ("sy", "il"):
        sign(client, signatories[k], approved_key(client, crew, signatories[k]), a, 2)
    assert r.status_code == 201
    clock.advance(timedelta(days=11))
    client.app.state.scheduler.run_due()
    with cell.reading() as session:
        assert session.execute(select(Dispute)).scalars().all() == []  # version 2 moved it to day 20
    clock.advance(timedelta(days=10))
    client.app.state.scheduler.run_due()
    with cell.reading() as session:
        assert len(session.execute(select(Dispute)).scalars().all()) == 1


def test_an_amended_milestone_must_be_attested_again(client, cell, crew, signatories, clock) -> None:
    from tests.agreements.helpers import amendment

    a = bound(client, crew, signatories, milestones=[milestone("north", days=10)])
    r = client.post(f"/api/v1/agreements/{a}/milestones/north/attestations",
                    json={"verdict": "verified", "note": "OP-73 vacated."}, headers=crew["undof"].headers)  # fmt: skip
    assert statuses(client, crew["us"], a) == {"north": "verified"}
    # version 2 moves the date and changes the criterion: version 1's verification does not carry over
    moved = milestone("north", days=20, criterion={"en": "No forces north of Quneitra or on Mount Hermon."})
    r = client.post(f"/api/v1/agreements/{a}/versions", json=amendment(milestones=[moved]), headers=crew["us"].headers)
    assert r.status_code == 201
    for k in ("sy", "il"):
        sign(client, signatories[k], approved_key(client, crew, signatories[k]), a, 2)
    assert statuses(client, crew["us"], a) == {"north": "pending"}
    # a text-only amendment keeps the milestone's terms, and with them its verification
    again = {"verdict": "verified", "note": "Hermon posts vacated too."}
    client.post(f"/api/v1/agreements/{a}/milestones/north/attestations", json=again, headers=crew["undof"].headers)
    r = client.post(f"/api/v1/agreements/{a}/versions", json=amendment(milestones=[moved], text={"en": "Reworded."}),
                    headers=crew["us"].headers)  # fmt: skip
    for k in ("sy", "il"):
        sign(client, signatories[k], approved_key(client, crew, signatories[k]), a, 3)
    assert statuses(client, crew["us"], a) == {"north": "verified"}
