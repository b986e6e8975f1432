"""A rejected read-back needs its note; the receiver sees it, and the corrected read-back is due within the
message's own handling time, with the same reminders and escalation as an acknowledgement."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.conftest import ledger_size
from tests.traffic.helpers import draft
from tests.traffic.test_escalation import loop_entries


def test_the_corrected_read_back_is_due_within_the_handling_time(client, cell, crew) -> None:
    scheduler = client.app.state.scheduler
    sent = client.post("/api/v1/messages", json=draft(readback_required=True), headers=crew["sy"].headers).json()
    cell.clock.advance(timedelta(minutes=2))
    r = client.post(f"/api/v1/messages/{sent['id']}/ack", json={"readback": "0700Z"}, headers=crew["il"].headers)
    assert r.status_code == 200
    cell.clock.advance(timedelta(minutes=6))  # 8 minutes after sending: the verdict
    before = ledger_size(cell)
    r = client.post(f"/api/v1/messages/{sent['id']}/readback-verdict", json={"verdict": "negative"},
                    headers=crew["sy"].headers)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "note"
    assert ledger_size(cell) == before
    verdict_at = cell.clock.now()
    r = client.post(f"/api/v1/messages/{sent['id']}/readback-verdict",
                    json={"verdict": "negative", "note": "0600Z, not 0700Z"}, headers=crew["sy"].headers)  # fmt: skip
    assert r.status_code == 200, r.text
    [delivery] = r.json()["deliveries"]
    assert delivery["state"] == "negative" and delivery["rejections"] == 1
    assert datetime.fromisoformat(delivery["due_at"]) == verdict_at + timedelta(minutes=10)  # FLASH: 10 min
    # IL owes it again: in its inbox, the note beside it
    [owed] = client.get("/api/v1/inbox", headers=crew["il"].headers).json()
    assert owed["id"] == sent["id"] and owed["deliveries"][0]["verdict_note"] == "0600Z, not 0700Z"

    # the first round's deadline (10 min after sending) passes: nothing, the read-back was in time
    cell.clock.advance(timedelta(minutes=3))
    scheduler.run_due()
    assert [a for a, _ in loop_entries(cell, sent["id"])][-1] == "message.readback_negative"
    # the new deadline passes (10 min after the verdict): the duty officer's escalation, then reminders
    cell.clock.advance(timedelta(minutes=7))
    scheduler.run_due()
    *_, (action, content) = loop_entries(cell, sent["id"])
    assert action == "message.escalated" and content["notify"] == "duty_officer" and content["rejections"] == 1
    alerts = client.get("/api/v1/alerts", params={"for_me": True}, headers=crew["il"].headers).json()["items"]
    assert any("read back FLASH" in a["summary"] and "again after its read-back was rejected" in a["summary"]
               for a in alerts)  # fmt: skip
    r = client.get(f"/api/v1/messages/{sent['id']}", headers=crew["il"].headers).json()
    assert r["overdue"] is True
    cell.clock.advance(timedelta(minutes=5))
    scheduler.run_due()
    assert loop_entries(cell, sent["id"])[-1][0] == "message.renotified"

    # the corrected read-back ends the round: no more reminders
    r = client.post(f"/api/v1/messages/{sent['id']}/ack", json={"readback": "0600Z"}, headers=crew["il"].headers)
    assert r.status_code == 200 and r.json()["overdue"] is False
    count = len(loop_entries(cell, sent["id"]))
    for _ in range(12):
        cell.clock.advance(timedelta(minutes=5))
        scheduler.run_due()
    assert len(loop_entries(cell, sent["id"])) == count


def test_a_second_rejection_starts_another_round(client, cell, crew) -> None:
    scheduler = client.app.state.scheduler
    sent = client.post("/api/v1/messages", json=draft(readback_required=True), headers=crew["sy"].headers).json()
    url = f"/api/v1/messages/{sent['id']}"
    for n in (1, 2):
        assert client.post(f"{url}/ack", json={"readback": f"wrong {n}"}, headers=crew["il"].headers).status_code == 200
        r = client.post(f"{url}/readback-verdict", json={"verdict": "negative", "note": f"no {n}"},
                        headers=crew["sy"].headers)  # fmt: skip
        assert r.json()["deliveries"][0]["rejections"] == n
        cell.clock.advance(timedelta(minutes=11))
        scheduler.run_due()
    escalations = [c for a, c in loop_entries(cell, sent["id"]) if a == "message.escalated"]
    # the first deadline found IL's read-back in time (no alert); then each rejection's round escalated alone
    assert [c["rejections"] for c in escalations] == [1, 2]


def test_the_web_forms_hold_text_to_the_rule_as_the_api_does(client, cell, crew) -> None:
    from tests.web.pages import browser, csrf_of, signed_in

    sent = client.post("/api/v1/messages", json=draft(readback_required=True), headers=crew["sy"].headers).json()
    # IL's client has it already (the API's read writes the receipt at once; a page notes it for a batch later)
    assert client.get(f"/api/v1/messages/{sent['id']}", headers=crew["il"].headers).status_code == 200
    il = signed_in(browser(client), "il.liaison")
    token = csrf_of(il.get(f"/messages/{sent['id']}").text)
    before = ledger_size(cell)
    for path, data in ((f"/messages/{sent['id']}/ack", {"readback": "0600Z \u202eevil"}),
                       ("/watch/take", {"note": "bell \x07"}),
                       ("/watch/hand-over", {"note": "bad \u202e"})):  # fmt: skip
        r = il.post(path, data={"csrf": token, **data})
        assert r.status_code == 422, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html") and "U+" in r.text
    assert ledger_size(cell) == before
