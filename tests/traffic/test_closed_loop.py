"""The closed loop through the HTTP API and the stream, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from fusioncell.ledger.models import LedgerEntry
from tests.conftest import START, ledger_size
from tests.traffic.helpers import StreamReader, draft


def test_flash_joint_ack_readback_negative_alerts_the_mediator(client, cell, crew) -> None:
    sy, il, us = crew["sy"], crew["il"], crew["us"]
    after = ledger_size(cell) - 1
    with (
        client.websocket_connect(f"/api/v1/stream?after={after}&access_token={il.token}") as il_ws,
        client.websocket_connect(f"/api/v1/stream?after={after}", headers=us.headers) as us_ws,
    ):
        il_stream, us_stream = StreamReader(il_ws), StreamReader(us_ws)

        sent = client.post("/api/v1/messages", json=draft(readback_required=True), headers=sy.headers)
        assert sent.status_code == 201, sent.text
        message = sent.json()
        assert message["precedence"] == "FLASH" and message["audience"] == "joint"
        assert message["ack_due_at"].startswith((START + timedelta(minutes=10)).isoformat()[:16])
        # a party's joint message is for the other party: the mediator reads it, and owes nothing
        assert {d["delegation"]: d["state"] for d in message["deliveries"]} == {"IL": "pending"}
        assert {g["term"] for g in message["glossary"]} >= {"buffer-zone", "area-of-separation"}

        # IL's client receives it on the stream: that is the delivery
        il_events = il_stream.until(lambda ev: any(e["action"] == "message.sent" for e in ev))
        received = next(e for e in il_events if e["action"] == "message.sent")
        assert received["content"]["message"]["id"] == message["id"]
        assert received["content"]["message"]["body"] == message["body"]
        # the addressed delegation's client received it: its delivery
        il_stream.until(lambda ev: sum(e["action"] == "message.delivered" for e in ev) == 1)

        # an acknowledgement without the required read-back is refused, and changes nothing
        before = ledger_size(cell)
        refused = client.post(f"/api/v1/messages/{message['id']}/ack", json={}, headers=il.headers)
        assert refused.status_code == 422 and "read-back" in refused.json()["detail"]
        assert ledger_size(cell) == before

        readback = "Four vehicles cross the buffer zone at 0700Z, do not engage."
        acked = client.post(f"/api/v1/messages/{message['id']}/ack", json={"readback": readback}, headers=il.headers)
        assert acked.status_code == 200, acked.text
        il_state = next(d for d in acked.json()["deliveries"] if d["delegation"] == "IL")
        assert il_state["state"] == "read_back" and il_state["readback"] == readback
        assert il_state["delivered_to"] == "il.liaison" and il_state["acknowledged_by"] == "il.liaison"

        # SY hears a wrong time in the read-back: negative
        verdict = client.post(
            f"/api/v1/messages/{message['id']}/readback-verdict",
            json={"verdict": "negative", "note": "0600Z, not 0700Z"},
            headers=sy.headers,
        )
        assert verdict.status_code == 200, verdict.text
        judged = verdict.json()
        assert next(d for d in judged["deliveries"] if d["delegation"] == "IL")["state"] == "negative"
        [clarification] = judged["clarifications"]
        assert clarification["delegation"] == "IL" and clarification["note"] == "0600Z, not 0700Z"

        # the mediator receives the alert and the clarification, live
        us_events = us_stream.until(lambda ev: any(e["action"] == "message.readback_negative" for e in ev))
        negative = next(e for e in us_events if e["action"] == "message.readback_negative")
        assert negative["content"]["alerted"] == "US"
        assert negative["content"]["clarification_id"] == clarification["id"]
        assert [e["action"] for e in us_events][:1] == ["message.sent"]

    alerts = client.get("/api/v1/alerts?target=US", headers=us.headers).json()["items"]
    assert [(a["kind"], a["message_id"]) for a in alerts] == [("readback_negative", message["id"])]
    seen_by_mediator = client.get(f"/api/v1/messages/{message['id']}", headers=us.headers).json()
    assert seen_by_mediator["clarifications"][0]["id"] == clarification["id"]

    # IL corrects its read-back; SY confirms; the clarification closes
    corrected = client.post(
        f"/api/v1/messages/{message['id']}/ack",
        json={"readback": "Four vehicles cross the buffer zone at 0600Z, do not engage."},
        headers=il.headers,
    )
    assert corrected.status_code == 200, corrected.text
    confirmed = client.post(
        f"/api/v1/messages/{message['id']}/readback-verdict", json={"verdict": "confirmed"}, headers=sy.headers
    ).json()
    assert next(d for d in confirmed["deliveries"] if d["delegation"] == "IL")["state"] == "confirmed"
    assert confirmed["clarifications"][0]["closed_at"] is not None

    with cell.reading() as session:
        actions = [
            e.action
            for e in session.execute(
                select(LedgerEntry).where(LedgerEntry.subject == f"message:{message['id']}").order_by(LedgerEntry.index)
            ).scalars()
        ]
    # one entry per step; each addressed delegation's client delivery recorded once (the stream does it)
    assert actions.count("message.delivered") == 1
    assert [a for a in actions if a != "message.delivered"] == [
        "message.sent",
        "message.acknowledged",
        "message.readback_negative",
        "message.read_back",
        "message.readback_confirmed",
    ]
