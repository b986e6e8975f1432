"""A case's life through the API on SQLite and PostgreSQL: opened, acknowledged, answered, taken up, found; the acts
each side may take; every act out of turn refused with the state named, and nothing written."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from fusioncell.disputes.models import Dispute, DisputeStatement
from fusioncell.ledger.models import LedgerEntry
from fusioncell.traffic.models import Alert
from tests.conftest import ledger_size, table_count
from tests.disputes.helpers import act, case, incident, open_case, signed_in_again, to_review
from tests.traffic.helpers import draft

FINDING = {"finding": "substantiated", "reasons": "The radar track and the observer's log agree.",
           "remedy": "No flights within 5 km of the area of separation for 30 days."}  # fmt: skip


def entries(cell, dispute_id: int) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        return list(
            session.execute(
                select(LedgerEntry).where(LedgerEntry.subject == f"dispute:{dispute_id}").order_by(LedgerEntry.index)
            ).scalars()
        )


def test_a_case_from_complaint_to_finding(client, cell, crew, clock) -> None:
    d = open_case(client, crew["sy"])
    assert d["state"] == "open" and d["complainant"] == "SY" and d["respondent"] == "IL"
    assert d["stage"] == "acknowledge" and d["owed_by"] == "IL"
    assert d["stage_due_at"] == (clock.now() + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    assert [s["kind"] for s in d["statements"]] == ["complaint"]
    assert d["statements"][0]["evidence"][0]["content_type"] == "text/plain"
    # the respondent's duty officer and the mediator are told at once
    with cell.reading() as session:
        alerts = session.execute(select(Alert).where(Alert.subject == f"dispute:{d['id']}")).scalars().all()
    assert sorted((a.target, a.role, a.kind) for a in alerts) == [
        ("IL", "duty_officer", "dispute_opened"), ("US", "mediator", "dispute_opened")]  # fmt: skip

    il_view = client.get(f"/api/v1/disputes/{d['id']}", headers=crew["il"].headers).json()
    assert il_view["acts"] == ["acknowledge", "statement"]
    clock.advance(timedelta(hours=2))
    acked = act(client, crew["il"], d["id"], "acknowledge", {"note": "Received; checking the tracks."})
    assert acked["state"] == "acknowledged" and acked["stage"] == "respond"
    assert acked["stage_due_at"].startswith((clock.now() + timedelta(days=3)).date().isoformat())
    clock.advance(timedelta(hours=20))
    signed_in_again(client, crew)
    answered = act(client, crew["il"], d["id"], "respond", {"text": "No aircraft of ours flew there.", "lang": "he"})
    assert answered["state"] == "responded" and answered["owed_by"] == "US"
    assert [(s["kind"], s["delegation"], s["lang"]) for s in answered["statements"]] == [
        ("complaint", "SY", "en"), ("response", "IL", "he")]  # fmt: skip
    assert client.get(f"/api/v1/disputes/{d['id']}", headers=crew["us"].headers).json()["acts"] == [
        "review", "request-information", "escalate", "statement"]  # fmt: skip
    reviewed = act(client, crew["us"], d["id"], "review")
    assert reviewed["state"] == "under-review" and reviewed["stage"] == "decide"
    clock.advance(timedelta(days=2))
    signed_in_again(client, crew)
    found = act(client, crew["us"], d["id"], "finding", FINDING)
    assert found["state"] == "resolved" and found["finding"] == "substantiated"
    assert found["remedy"] == FINDING["remedy"] and found["closed_by"] == "us.mediator"
    assert found["stage"] is None and found["stage_due_at"] is None and found["acts"] == []
    actions = [e.action for e in entries(cell, d["id"])]
    assert actions == ["dispute.opened", "dispute.acknowledged", "dispute.responded", "dispute.review_started",
                       "dispute.resolved"]  # fmt: skip
    resolved = json.loads(entries(cell, d["id"])[-1].content)
    assert resolved["finding"] == "substantiated" and resolved["remedy"] == FINDING["remedy"]
    # every stage's job was set and, acted on in time, none is left to fire
    from fusioncell.scheduler.models import Job

    with cell.reading() as session:
        jobs = session.execute(select(Job).where(Job.subject == f"dispute:{d['id']}")).scalars().all()
    assert len(jobs) == 4 and {j.status for j in jobs} == {"cancelled"}


# (state reached by these acts, act tried, body)
OUT_OF_TURN = [
    ([], "respond", {"text": "Answer before acknowledging"}),
    ([], "review", {}),
    ([], "finding", FINDING),
    (["acknowledge"], "acknowledge", {}),
    (["acknowledge"], "review", {}),
    (["acknowledge", "respond"], "respond", {"text": "Again"}),
    (["acknowledge", "respond"], "finding", FINDING),
    (["acknowledge", "respond", "review"], "review", {}),
    (["acknowledge", "respond", "review", "finding"], "escalate", {"reason": "Too late"}),
    (["acknowledge", "respond", "review", "finding"], "withdraw", {"reason": "Too late"}),
    (["escalate"], "acknowledge", {}),
    (["withdraw"], "finding", FINDING),
]
WHO = {"acknowledge": "il", "respond": "il", "review": "us", "finding": "us", "escalate": "us", "withdraw": "sy"}
BODIES = {"respond": {"text": "Our answer."}, "finding": FINDING, "escalate": {"reason": "Stalled"},
          "withdraw": {"reason": "Settled between us"}}  # fmt: skip
STATES = {"acknowledge": "acknowledged", "respond": "responded", "review": "under-review", "finding": "resolved",
          "escalate": "escalated", "withdraw": "withdrawn"}  # fmt: skip


@pytest.mark.parametrize(
    ("before", "tried", "body"), OUT_OF_TURN, ids=lambda v: "-".join(v) if isinstance(v, list) else None
)
def test_every_act_out_of_turn_is_409_naming_the_state(client, cell, crew, before, tried, body) -> None:
    d = open_case(client, crew["sy"])
    state = "open"
    for name in before:
        state = act(client, crew[WHO[name]], d["id"], name, BODIES.get(name))["state"]
        assert state == STATES[name]
    size, statements = ledger_size(cell), table_count(cell, DisputeStatement)
    r = client.post(f"/api/v1/disputes/{d['id']}/{tried}", json=body, headers=crew[WHO[tried]].headers)
    assert r.status_code == 409, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["state"] == state and f"is {state}" in problem["detail"]
    assert ledger_size(cell) == size and table_count(cell, DisputeStatement) == statements
    with cell.reading() as session:
        assert session.get(Dispute, d["id"]).state == state  # type: ignore[union-attr]


def test_each_act_is_its_owners(client, cell, crew) -> None:
    d = open_case(client, crew["sy"])
    size = ledger_size(cell)
    # the complainant does not acknowledge its own case; an observer neither; the respondent does not decide
    for who, name, body in [
        ("sy", "acknowledge", {}),
        ("undof", "acknowledge", {}),
        ("il", "escalate", {"reason": "Ours to escalate"}),
        ("il", "withdraw", {"reason": "Not ours"}),
        ("us", "acknowledge", {}),
    ]:
        r = client.post(f"/api/v1/disputes/{d['id']}/{name}", json=body, headers=crew[who].headers)
        assert r.status_code == 403, (who, name, r.text)
    to_review(client, crew, d["id"])
    r = client.post(f"/api/v1/disputes/{d['id']}/finding", json=FINDING, headers=crew["il"].headers)
    assert r.status_code == 403 and "mediator" in r.json()["detail"]
    assert ledger_size(cell) == size + 3


def test_a_substantiated_finding_needs_its_remedy(client, cell, crew) -> None:
    d = open_case(client, crew["sy"])
    to_review(client, crew, d["id"])
    size = ledger_size(cell)
    r = client.post(f"/api/v1/disputes/{d['id']}/finding", json={**FINDING, "remedy": None},
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "remedy"
    assert ledger_size(cell) == size
    found = act(client, crew["us"], d["id"], "finding", {"finding": "inconclusive", "reasons": "Tracks disagree."})
    assert found["finding"] == "inconclusive" and found["remedy"] is None


def test_escalated_and_withdrawn_close_the_case(client, cell, crew) -> None:
    first = open_case(client, crew["sy"])
    up = act(client, crew["us"], first["id"], "escalate", {"reason": "A matter for the next round in Paris"})
    assert up["state"] == "escalated" and up["reasons"] == "A matter for the next round in Paris"
    second = open_case(client, crew["sy"], title="Shelling near Rafid")
    act(client, crew["il"], second["id"], "acknowledge")
    gone = act(client, crew["sy"], second["id"], "withdraw", {"reason": "Settled directly"})
    assert gone["state"] == "withdrawn" and gone["closed_by"] == "sy.liaison"
    r = client.post(f"/api/v1/disputes/{gone['id']}/statements", json={"text": "One more thing"},
                    headers=crew["il"].headers)  # fmt: skip
    assert r.status_code == 409 and r.json()["state"] == "withdrawn"


def test_statements_from_every_side_and_a_request_for_information(client, cell, crew, clock) -> None:
    d = open_case(client, crew["sy"])
    act(client, crew["il"], d["id"], "acknowledge")
    r = client.post(f"/api/v1/disputes/{d['id']}/statements",
                    json={"text": "Our post logged the drone for four minutes.", "lang": "en"},
                    headers=crew["undof"].headers)  # fmt: skip
    assert r.status_code == 201 and r.json()["delegation"] == "UNDOF" and r.json()["kind"] == "statement"
    r = client.post(f"/api/v1/disputes/{d['id']}/requests",
                    json={"addressed_to": "IL", "text": "Send the radar track for 0400Z-0430Z."},
                    headers=crew["us"].headers)  # fmt: skip
    assert r.status_code == 201, r.text
    request = r.json()
    assert request["kind"] == "request" and request["addressed_to"] == "IL"
    assert request["due_at"] == (clock.now() + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    with cell.reading() as session:
        alert = session.execute(select(Alert).where(Alert.kind == "dispute_information")).scalar_one()
    assert (alert.target, alert.role) == ("IL", "duty_officer")
    # SY cannot answer what IL was asked; IL answers it
    r = client.post(f"/api/v1/disputes/{d['id']}/statements", json={"text": "Here", "reply_to": request["id"]},
                    headers=crew["sy"].headers)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "reply_to"
    answer = {"text": "Track attached.", "reply_to": request["id"]}
    r = client.post(f"/api/v1/disputes/{d['id']}/statements", json=answer, headers=crew["il"].headers)
    assert r.status_code == 201 and r.json()["kind"] == "information" and r.json()["reply_to"] == request["id"]
    record = client.get(f"/api/v1/disputes/{d['id']}", headers=crew["sy"].headers).json()["statements"]
    assert [(s["kind"], s["delegation"]) for s in record] == [
        ("complaint", "SY"), ("statement", "UNDOF"), ("request", "US"), ("information", "IL")]  # fmt: skip


def test_a_case_from_an_incident_reaches_no_one_the_incident_does_not(client, cell, crew) -> None:
    private = incident(client, crew["sy"], audience="mediated:SY")
    size = ledger_size(cell)
    r = client.post("/api/v1/disputes", json={**case(), "incident": private}, headers=crew["sy"].headers)
    assert r.status_code == 422 and r.json()["field"] == "audience"  # joint would tell IL of a mediated incident
    r = client.post("/api/v1/disputes", json={**case(respondent="SY"), "incident": private}, headers=crew["il"].headers)
    assert r.status_code == 422 and r.json()["field"] == "incident"  # IL cannot read it: it is no incident to IL
    assert ledger_size(cell) == size

    joint = incident(client, crew["undof"])
    d = open_case(client, crew["sy"], incident=joint)
    assert d["source"] == {"kind": "incident", "id": joint}
    r = client.post("/api/v1/disputes", json={**case(), "incident": joint}, headers=crew["sy"].headers)
    assert r.status_code == 409 and r.json()["dispute"] == d["id"]  # one shared case, not two parallel logs
    # once that case is closed, a new one may be opened about the same incident
    act(client, crew["us"], d["id"], "escalate", {"reason": "Up"})
    assert open_case(client, crew["sy"], incident=joint)["state"] == "open"


def test_a_case_from_a_rejected_readback(client, cell, crew) -> None:
    msg = client.post("/api/v1/messages", json=draft(readback_required=True), headers=crew["sy"].headers).json()
    r = client.post(f"/api/v1/messages/{msg['id']}/ack", json={"readback": "Four vehicles at 0700Z"},
                    headers=crew["il"].headers)  # fmt: skip
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/messages/{msg['id']}/readback-verdict",
                    json={"verdict": "negative", "note": "0600Z, not 0700Z"}, headers=crew["sy"].headers)  # fmt: skip
    assert r.status_code == 200, r.text
    clarification = client.get(f"/api/v1/messages/{msg['id']}", headers=crew["sy"].headers).json()["clarifications"][0]
    d = open_case(client, crew["sy"], clarification=clarification["id"], title="Crossing time misread twice")
    assert d["source"] == {"kind": "clarification", "id": clarification["id"]}
    r = client.post("/api/v1/disputes", json={**case(), "clarification": clarification["id"], "incident": 5},
                    headers=crew["sy"].headers)  # fmt: skip
    assert r.status_code == 422


def test_metrics(client, cell, crew, clock) -> None:
    quick = open_case(client, crew["sy"])
    clock.advance(timedelta(hours=1))
    act(client, crew["il"], quick["id"], "acknowledge")
    act(client, crew["il"], quick["id"], "respond", {"text": "Answer"})
    act(client, crew["us"], quick["id"], "review")
    clock.advance(timedelta(hours=3))
    act(client, crew["us"], quick["id"], "finding", {"finding": "inconclusive", "reasons": "No track"})
    open_case(client, crew["il"], respondent="SY", title="Fire near Hader")
    clock.advance(timedelta(days=2))
    signed_in_again(client, crew)
    m = client.get("/api/v1/disputes/metrics", headers=crew["us"].headers).json()
    assert m["open"] == 1 and m["closed"]["resolved"] == 1
    assert m["time_to_acknowledge_s"] == {"median": 3600.0, "p90": 3600.0, "count": 1}
    assert m["time_to_resolve_s"]["median"] == 4 * 3600.0
    assert m["open_by_age"] == {"<1d": 0, "1-3d": 1, "3-7d": 0, ">7d": 0}
