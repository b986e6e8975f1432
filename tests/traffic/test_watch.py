"""The watch roster: a person takes their delegation's watch and hands it over with a note; each step is a ledger
entry read by the delegation and the mediator; the holder is the escalation chain's duty officer, and with no one
on watch every liaison officer of the delegation is."""

from __future__ import annotations

import json
from datetime import timedelta

from fusioncell.traffic.models import WatchShift
from tests.conftest import add_user, ledger_size, login, table_count
from tests.traffic.helpers import draft


def take(client, member, note=None):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/watch/take", json={"note": note} if note else {}, headers=member.headers)


def board(client, member) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/watch", headers=member.headers)
    assert r.status_code == 200, r.text
    return {w["delegation"]: (w["shift"]["holder"] if w["shift"] else None) for w in r.json()}


def test_taking_and_handing_over_the_watch(client, cell, crew) -> None:
    add_user(cell, "sy.night", "SY", "liaison")
    night = {"Authorization": f"Bearer {login(client, 'sy.night')}"}
    assert board(client, crew["sy"]) == {"SY": None}
    r = take(client, crew["sy"], "day shift")
    assert r.status_code == 201, r.text
    assert r.json()["holder"] == "sy.liaison" and r.json()["taken_note"] == "day shift"
    assert board(client, crew["sy"]) == {"SY": "sy.liaison"}
    # the mediator knows every delegation's watch; the other party only its own; observers and admins none
    assert board(client, crew["us"]) == {"SY": "sy.liaison", "IL": None, "US": None}
    assert board(client, crew["il"]) == {"IL": None}
    assert board(client, crew["undof"]) == {}
    assert board(client, crew["sy_admin"]) == {}

    r = client.post("/api/v1/watch/hand-over", json={"note": "FLASH 0600Z open", "to": "sy.night"},
                    headers=crew["sy"].headers)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["shift"]["holder"] == "sy.night"
    log = client.get("/api/v1/watch/SY/shifts", headers=crew["us"].headers).json()["items"]
    assert [(s["holder"], s["handover_note"]) for s in log] == [("sy.night", None), ("sy.liaison", "FLASH 0600Z open")]
    assert client.get("/api/v1/watch/SY/shifts", headers=crew["il"].headers).status_code == 404

    # the day officer takes it back: the night officer is relieved, in the same entry
    cell.clock.advance(timedelta(hours=8))
    assert take(client, crew["sy"]).status_code == 201
    log = client.get("/api/v1/watch/SY/shifts", headers=night).json()["items"]
    assert log[1]["holder"] == "sy.night" and log[1]["ended_by"] == "sy.liaison"

    # the ledger holds each step, readable by SY and the mediator; IL sees only that entries exist
    span = {"start": 0, "end": ledger_size(cell)}
    entries = client.get("/api/v1/ledger/entries", params=span, headers=crew["us"].headers).json()["items"]
    steps = [e for e in entries if e["subject"] == "watch:SY"]
    assert [e["action"] for e in steps] == ["watch.taken", "watch.handed_over", "watch.taken"]
    assert {e["audience"] for e in steps} == {"mediated:SY"}
    seen_by_il = client.get("/api/v1/ledger/entries", params=span, headers=crew["il"].headers).json()["items"]
    assert all(seen_by_il[e["index"]]["subject"] is None for e in steps)
    index = steps[1]["index"]
    assert client.get(f"/api/v1/ledger/entries/{index}/content", headers=crew["il"].headers).status_code == 404
    content = client.get(f"/api/v1/ledger/entries/{index}/content", headers=crew["sy"].headers).json()
    assert json.loads(content["content"])["note"] == "FLASH 0600Z open"


def test_watch_refusals_write_nothing(client, cell, crew) -> None:
    add_user(cell, "sy.night", "SY", "liaison")
    night = {"Authorization": f"Bearer {login(client, 'sy.night')}"}
    before = (ledger_size(cell), table_count(cell, WatchShift))
    r = take(client, crew["undof"])
    assert r.status_code == 403 and "take or hand over the watch" in r.json()["detail"]
    r = client.post("/api/v1/watch/hand-over", json={"note": "x"}, headers=crew["sy"].headers)
    assert r.status_code == 409 and "no one holds SY's watch" in r.json()["detail"]
    assert (ledger_size(cell), table_count(cell, WatchShift)) == before

    assert take(client, crew["sy"]).status_code == 201
    before = (ledger_size(cell), table_count(cell, WatchShift))
    r = take(client, crew["sy"])
    assert r.status_code == 409 and "you hold SY's watch already" in r.json()["detail"]
    for to, words in [("sy.liaison", "yourself"), ("il.liaison", "no active account of SY"),
                      ("sy.analyst", "cannot keep the watch"), ("nobody", "no active account")]:  # fmt: skip
        r = client.post("/api/v1/watch/hand-over", json={"note": "n", "to": to}, headers=crew["sy"].headers)
        assert r.status_code == 422 and words in r.json()["detail"], (to, r.text)
        assert r.json()["field"] == "to"
    r = client.post("/api/v1/watch/hand-over", json={"to": "sy.liaison"}, headers=crew["sy"].headers)
    assert r.status_code == 422  # the note is required
    r = client.post("/api/v1/watch/hand-over", json={"note": "n"}, headers=night)
    assert r.status_code == 409 and "sy.liaison holds it" in r.json()["detail"]
    assert (ledger_size(cell), table_count(cell, WatchShift)) == before


def _escalate(client, cell, crew) -> dict:  # type: ignore[no-untyped-def]
    """IL's FLASH to SY, left unacknowledged past its deadline: the duty officer's alert is raised."""
    sent = client.post("/api/v1/messages", json=draft(), headers=crew["il"].headers).json()
    cell.clock.advance(timedelta(minutes=10))
    client.app.state.scheduler.run_due()
    return sent


def mine(client, member, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/alerts", params={"for_me": True, **params}, headers=member.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_the_duty_officer_is_whoever_holds_the_watch(client, cell, crew) -> None:
    add_user(cell, "sy.night", "SY", "liaison")
    night = type(crew["sy"])("sy.night", "SY", login(client, "sy.night"))
    _escalate(client, cell, crew)
    # no one on watch: every liaison officer of SY is its duty officer
    assert [a["kind"] for a in mine(client, crew["sy"])] == ["ack_overdue"]
    assert [a["kind"] for a in mine(client, night)] == ["ack_overdue"]
    assert mine(client, crew["il"]) == [] and mine(client, crew["undof"]) == []
    assert mine(client, crew["us"]) == []  # the mediator's step comes later on this track
    # sy.night takes the watch: the alert is theirs alone
    assert take(client, night).status_code == 201
    assert len(mine(client, night)) == 1 and mine(client, crew["sy"]) == []
    alert = mine(client, night)[0]
    r = client.post(f"/api/v1/alerts/{alert['id']}/handle", json={}, headers=crew["sy"].headers)
    assert r.status_code == 403 and "sy.night holds the watch" in r.json()["detail"]
    r = client.post(f"/api/v1/alerts/{alert['id']}/handle", json={"note": "called IL"}, headers=night.headers)
    assert r.status_code == 200, r.text
    assert r.json()["handled_by"] == "sy.night" and r.json()["handled_note"] == "called IL"
    assert mine(client, night, open_only=True) == [] and len(mine(client, night)) == 1
    before = ledger_size(cell)
    r = client.post(f"/api/v1/alerts/{alert['id']}/handle", json={}, headers=night.headers)
    assert r.status_code == 409 and "sy.night marked this alert handled" in r.json()["detail"]
    assert ledger_size(cell) == before


def test_an_alert_of_another_audience_is_not_found(client, cell, crew) -> None:
    sent = client.post("/api/v1/messages", json=draft(audience="mediated:SY"), headers=crew["sy"].headers).json()
    cell.clock.advance(timedelta(minutes=20))
    client.app.state.scheduler.run_due()
    alerts = client.get("/api/v1/alerts", params={"target": "US"}, headers=crew["us"].headers).json()["items"]
    assert alerts and all(a["message_id"] == sent["id"] for a in alerts)
    for member in ("il", "undof"):
        r = client.post(f"/api/v1/alerts/{alerts[0]['id']}/handle", json={}, headers=crew[member].headers)
        assert r.status_code == 404, r.text
        assert mine(client, crew[member]) == []


def test_the_other_party_learns_neither_who_keeps_the_watch_nor_how_an_alert_was_handled(client, cell, crew) -> None:
    assert take(client, crew["sy"]).status_code == 201
    sent = client.post("/api/v1/messages", json=draft(), headers=crew["il"].headers).json()  # joint, owed by SY
    cell.clock.advance(timedelta(minutes=10))
    client.app.state.scheduler.run_due()
    [alert] = mine(client, crew["sy"])
    assert alert["message_id"] == sent["id"] and alert["audience"] == "joint"
    for other in ("il", "undof"):  # they read the alert (it is about joint traffic): not who holds SY's watch
        r = client.post(f"/api/v1/alerts/{alert['id']}/handle", json={}, headers=crew[other].headers)
        assert r.status_code == 403 and "sy.liaison" not in r.text, r.text
    assert client.post(f"/api/v1/alerts/{alert['id']}/handle", json={"note": "our officer is away"},
                       headers=crew["sy"].headers).status_code == 200  # fmt: skip
    for member, sees in (("sy", True), ("us", True), ("il", False), ("undof", False)):
        [read] = [a for a in client.get("/api/v1/alerts", headers=crew[member].headers).json()["items"]
                  if a["id"] == alert["id"]]  # fmt: skip
        assert read["handled_at"] is not None
        assert (read["handled_by"], read["handled_note"]) == (
            ("sy.liaison", "our officer is away") if sees else (None, None)), member  # fmt: skip
    span = {"start": 0, "end": ledger_size(cell)}
    entries = client.get("/api/v1/ledger/entries", params=span, headers=crew["us"].headers).json()["items"]
    [handled] = [e for e in entries if e["action"] == "alert.handled"]
    assert handled["audience"] == "mediated:SY"


def test_a_disabled_holder_keeps_no_watch(client, cell, crew) -> None:
    from fusioncell.auth import service as accounts
    from tests.conftest import CLI_ACTOR

    add_user(cell, "sy.night", "SY", "liaison")
    night = type(crew["sy"])("sy.night", "SY", login(client, "sy.night"))
    assert take(client, night).status_code == 201
    _escalate(client, cell, crew)
    assert mine(client, crew["sy"]) == [] and len(mine(client, night)) == 1
    with cell.command() as uow:
        accounts.disable_user(cell=cell, uow=uow, actor=CLI_ACTOR, username="sy.night")
    # the watch's holder can keep nothing now: every liaison officer of SY is its duty officer again
    assert board(client, crew["sy"]) == {"SY": None}
    assert len(mine(client, crew["sy"])) == 1
