"""Review: a public ledger header must not carry what its content hides.

Account entries are recorded for the delegation's home audience (`mediated:SY`: SY and the mediator), so IL may
not read their content: who SY's officers are and when one is disabled. But the entry's `subject` is
`account:<username>`, and subjects are in the public header every delegation reads. IL lists SY's roster, and sees
the moment SY disables or resets a named officer, without reading a single content it is allowed to.
"""

from __future__ import annotations

import hashlib
import json

from fusioncell.auth import service as auth_service
from fusioncell.ledger import log, merkle
from fusioncell.policy import Principal, resolve_audience
from tests.conftest import CLI_ACTOR, add_user, ledger_size
from tests.ledger.legacy import format_1
from tests.traffic.helpers import draft


def test_other_party_cannot_read_our_roster_from_public_headers(client, cell, crew) -> None:
    add_user(cell, "sy.col-hassan", "SY", "signatory")
    with cell.command() as uow:
        auth_service.disable_user(cell=cell, uow=uow, actor=CLI_ACTOR, username="sy.col-hassan")
    il = crew["il"]
    page = client.get("/api/v1/ledger/entries?start=0&end=1000", headers=il.headers).json()
    hidden = [h for h in page["items"] if h["audience"] == "mediated:SY"]
    assert hidden, "the account entries are in SY's home audience"
    for header in hidden:
        assert client.get(f"/api/v1/ledger/entries/{header['index']}/content", headers=il.headers).status_code == 404
    leaked = sorted({h["subject"] for h in hidden if h["subject"] and "sy." in h["subject"]})
    assert not leaked, f"IL reads SY's account names from public headers: {leaked}"


PUBLIC = {"index", "recorded_at", "audience", "commitment", "format"}


def test_what_the_other_party_did_is_not_in_the_headers_it_reads(client, cell, crew) -> None:
    """Issue 13.6: of an entry it may not read, a party learns only its index, time, audience and commitment,
    from the API's headers and from the leaves it mirrors; not the action (a negative read-back, an escalation, a
    declined item), nor who acted, nor the subject. The audience reads all of it, committed in the content."""
    sy, il, us = crew["sy"], crew["il"], crew["us"]
    start = ledger_size(cell)
    sent = client.post("/api/v1/messages", json=draft(audience="mediated:IL", readback_required=True),
                       headers=il.headers).json()  # fmt: skip
    us_ack = client.post(f"/api/v1/messages/{sent['id']}/ack", json={"readback": "Four vehicles at 0600Z"},
                         headers=us.headers)  # fmt: skip
    assert us_ack.status_code == 200
    verdict = client.post(f"/api/v1/messages/{sent['id']}/readback-verdict",
                          json={"verdict": "negative", "note": "grid is wrong"}, headers=il.headers)  # fmt: skip
    assert verdict.status_code == 200
    end = ledger_size(cell)
    assert end - start >= 3

    theirs = client.get(f"/api/v1/ledger/entries?start={start}&end={end}", headers=sy.headers).json()["items"]
    assert [h["audience"] for h in theirs] == ["mediated:IL"] * (end - start)
    for h in theirs:
        assert h["format"] == 2
        assert h["action"] is None and h["actor_delegation"] is None and h["subject"] is None, h
    leaves = client.get(f"/api/v1/ledger/leaves?start={start}&end={end}", headers=sy.headers).content
    for line in leaves.splitlines():
        assert set(json.loads(line)) == PUBLIC
        assert b"message" not in line and b"negative" not in line and b'"IL"' not in line

    mine = client.get(f"/api/v1/ledger/entries?start={start}&end={end}", headers=il.headers).json()["items"]
    actions = [h["action"] for h in mine]
    assert "message.sent" in actions and "message.readback_negative" in actions
    assert all(h["subject"] == f"message:{sent['id']}" for h in mine if h["action"] != "message.delivered")
    negative = next(h for h in mine if h["action"] == "message.readback_negative")
    assert negative["actor_delegation"] == "IL"
    content = client.get(f"/api/v1/ledger/entries/{negative['index']}/content", headers=us.headers).json()
    committed = json.loads(content["content"])
    assert committed["@action"] == "message.readback_negative" and committed["@subject"] == f"message:{sent['id']}"
    assert committed["@actor_delegation"] == "IL"
    assert (
        hashlib.sha256(bytes.fromhex(content["salt"]) + content["content"].encode()).hexdigest()
        == (negative["commitment"])
    )
    assert client.get(f"/api/v1/ledger/entries/{negative['index']}/content", headers=sy.headers).status_code == 404


def test_entries_from_before_the_new_leaf_format_stay_as_they_were(client, cell, crew) -> None:
    """A log is never rewritten: format-1 entries keep their public action and subject, in the leaf every
    witness has hashed, and the API serves their headers as before, beside format-2 ones."""
    mediated = resolve_audience("mediated:IL", cell.charter.roster)
    start = ledger_size(cell)
    with format_1(), cell.command() as uow:
        uow.record(action="test.old", actor=Principal("il.liaison", "IL", frozenset({"liaison"})),
                   audience=mediated, subject="old:1", content={"n": 1})  # fmt: skip
    with cell.command() as uow:
        uow.record(action="test.new", actor=Principal("il.liaison", "IL", frozenset({"liaison"})),
                   audience=mediated, subject="new:1", content={"n": 2})  # fmt: skip
    old, new = client.get(f"/api/v1/ledger/entries?start={start}&end={start + 2}",
                          headers=crew["sy"].headers).json()["items"]  # fmt: skip
    assert (old["format"], old["action"], old["subject"], old["actor_delegation"]) == (1, "test.old", "old:1", "IL")
    assert (new["format"], new["action"], new["subject"], new["actor_delegation"]) == (2, None, None, None)
    lines = client.get(f"/api/v1/ledger/leaves?start={start}&end={start + 2}", headers=crew["sy"].headers).content
    first, second = (json.loads(x) for x in lines.splitlines())
    assert first["action"] == "test.old" and "format" not in first and set(second) == PUBLIC
    checkpoint = log.sign_checkpoint(cell)
    for index in (start, start + 1):
        leaf, proof = log.inclusion(cell, index, checkpoint.size)
        merkle.verify_inclusion(index, checkpoint.size, leaf, proof, checkpoint.root)
