"""Who owes an acknowledgement: the delegations a message is addressed to. A party's `joint` message is for the
other parties; the mediator and observers read it without owing one unless the sender names the mediator; the
mediator's inbox holds what is addressed to it."""

from __future__ import annotations

import pytest

from fusioncell.traffic.models import Message
from tests.conftest import ledger_size, table_count
from tests.traffic.helpers import draft


def owing(message: dict) -> list[str]:
    return [d["delegation"] for d in message["deliveries"]]


def inbox_ids(client, member) -> list[int]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/inbox", headers=member.headers)
    assert r.status_code == 200, r.text
    return [m["id"] for m in r.json()]


def test_a_partys_joint_message_is_owed_by_the_other_party_only(client, crew) -> None:
    sent = client.post("/api/v1/messages", json=draft(), headers=crew["sy"].headers).json()
    assert owing(sent) == ["IL"]
    assert sent["id"] in inbox_ids(client, crew["il"])
    assert sent["id"] not in inbox_ids(client, crew["us"])  # the mediator reads it, owes nothing
    assert client.get(f"/api/v1/messages/{sent['id']}", headers=crew["us"].headers).status_code == 200
    assert client.get(f"/api/v1/messages/{sent['id']}", headers=crew["undof"].headers).status_code == 200
    r = client.post(f"/api/v1/messages/{sent['id']}/ack", json={}, headers=crew["us"].headers)
    assert r.status_code == 403, r.text
    assert "not addressed to delegation US" in r.json()["detail"]


def test_the_sender_may_address_the_mediator_too(client, crew) -> None:
    sent = client.post("/api/v1/messages", json=draft(addressed=["IL", "US"]), headers=crew["sy"].headers).json()
    assert owing(sent) == ["IL", "US"]
    assert sent["id"] in inbox_ids(client, crew["us"])
    r = client.post(f"/api/v1/messages/{sent['id']}/ack", json={}, headers=crew["us"].headers)
    assert r.status_code == 200, r.text


def test_the_mediators_joint_message_is_owed_by_every_party(client, crew) -> None:
    sent = client.post("/api/v1/messages", json=draft(marker="INSTRUCTION"), headers=crew["us"].headers).json()
    assert owing(sent) == ["IL", "SY"]


def test_proximity_talks_are_owed_by_the_mediator(client, crew) -> None:
    sent = client.post("/api/v1/messages", json=draft(audience="mediated:SY"), headers=crew["sy"].headers).json()
    assert owing(sent) == ["US"]
    reply = client.post("/api/v1/messages", json=draft(audience="mediated:SY"), headers=crew["us"].headers).json()
    assert owing(reply) == ["SY"]


@pytest.mark.parametrize(
    ("addressed", "field", "words"),
    [
        (["SY"], "addressed.0", "your own delegation"),
        (["IL", "UNDOF"], "addressed.1", "observer"),
        (["IL", "IL"], "addressed.1", "twice"),
        (["ZZ"], "addressed.0", "not in the audience"),
        ([], "addressed", None),
    ],
)
def test_a_wrong_addressee_is_refused_and_nothing_is_written(client, cell, crew, addressed, field, words) -> None:
    before = (ledger_size(cell), table_count(cell, Message))
    r = client.post("/api/v1/messages", json=draft(addressed=addressed), headers=crew["sy"].headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert field in {problem.get("field")} | {e["field"] for e in problem.get("errors", [])}, problem
    if words:
        assert words in problem["detail"]
    assert (ledger_size(cell), table_count(cell, Message)) == before


def test_an_addressee_outside_a_mediated_audience_is_refused(client, crew) -> None:
    r = client.post(
        "/api/v1/messages", json=draft(audience="mediated:SY", addressed=["IL"]), headers=crew["sy"].headers
    )
    assert r.status_code == 422
    assert "IL is not in the audience 'mediated:SY'" in r.json()["detail"]


def test_a_resend_with_other_addressees_is_a_conflict(client, crew) -> None:
    first = client.post("/api/v1/messages", json=draft(client_txn_id="t-1"), headers=crew["sy"].headers)
    assert first.status_code == 201
    same = client.post(
        "/api/v1/messages", json=draft(client_txn_id="t-1", addressed=["IL"]), headers=crew["sy"].headers
    )
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]  # the default, named: the same
    other = client.post(
        "/api/v1/messages", json=draft(client_txn_id="t-1", addressed=["IL", "US"]), headers=crew["sy"].headers
    )
    assert other.status_code == 409
