"""An overdue acknowledgement re-notifies, then escalates along the charter's chain: once, across instances."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from fusioncell.app import create_app
from fusioncell.ledger.models import LedgerEntry
from tests.conftest import make_cell
from tests.traffic.helpers import draft


def loop_entries(cell, message_id: int) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    import json

    with cell.reading() as session:
        rows = session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.subject == f"message:{message_id}", LedgerEntry.action != "message.delivered")
            .order_by(LedgerEntry.index)
        ).scalars()
        return [(e.action, json.loads(e.content)) for e in rows]


# The example charter: FLASH must be acknowledged within 10 min; re-notify every 5 min; the diplomatic
# track uses the default chain (duty officer at the deadline, the mediator 30 min after it).
EXPECTED = [
    (10, "message.escalated", "duty_officer"),
    (15, "message.renotified", 1),
    (20, "message.renotified", 2),
    (25, "message.renotified", 3),
    (30, "message.renotified", 4),
    (35, "message.renotified", 5),
    (40, "message.escalated", "mediator"),
]


def summarise(entries: list[tuple[str, dict]]) -> list[tuple[int, str, object]]:
    out = []
    for action, content in entries:
        minutes = (content["overdue_seconds"] // 60) + 10
        out.append((minutes, action, content.get("notify") or content.get("count")))
    return out


def test_overdue_ack_renotifies_then_escalates_once(client, cell, crew) -> None:
    scheduler = client.app.state.scheduler
    message = client.post(
        "/api/v1/messages", json=draft(track="diplomatic", audience="mediated:IL"), headers=crew["il"].headers
    ).json()
    assert [d["delegation"] for d in message["deliveries"]] == ["US"]
    for _ in range(0, 61):
        scheduler.run_due()
        cell.clock.advance(timedelta(minutes=1))
    entries = loop_entries(cell, message["id"])[1:]
    assert summarise(entries) == EXPECTED
    assert all(c["delegation"] == "US" for _, c in entries)
    # nothing more once the chain is done
    cell.clock.advance(timedelta(hours=6))
    scheduler.run_due()
    assert len(loop_entries(cell, message["id"])) == len(EXPECTED) + 1

    alerts = client.get("/api/v1/alerts", headers=crew["us"].headers).json()["items"]
    assert [(a["kind"], a["role"], a["target"]) for a in alerts] == [
        ("ack_overdue", "duty_officer", "US"),
        ("ack_overdue", "mediator", "US"),
    ]
    shown = client.get(f"/api/v1/messages/{message['id']}", headers=crew["il"].headers).json()
    us = shown["deliveries"][0]
    assert shown["overdue"] is True and us["renotified"] == 5 and us["escalation_level"] == 2
    metrics = client.get("/metrics", headers=crew["us"].headers).text
    assert 'fusioncell_messages_overdue{precedence="FLASH"} 1.0' in metrics


def test_acknowledging_stops_the_escalation(client, cell, crew) -> None:
    scheduler = client.app.state.scheduler
    message = client.post("/api/v1/messages", json=draft(track="diplomatic"), headers=crew["sy"].headers).json()
    cell.clock.advance(timedelta(minutes=10))
    scheduler.run_due()
    cell.clock.advance(timedelta(minutes=5))
    scheduler.run_due()
    assert client.post(f"/api/v1/messages/{message['id']}/ack", json={}, headers=crew["il"].headers).status_code == 200
    cell.clock.advance(timedelta(hours=2))
    scheduler.run_due()
    il_entries = [(a, c) for a, c in loop_entries(cell, message["id"]) if c.get("delegation") == "IL"]
    assert [a for a, _ in il_entries] == ["message.escalated", "message.renotified", "message.acknowledged"]
    metrics = client.get("/metrics", headers=crew["us"].headers).text
    assert 'fusioncell_ack_latency_seconds_count{precedence="FLASH"} 1.0' in metrics


def test_two_instances_never_escalate_the_same_message_twice(backend, clock, client, cell, crew) -> None:
    message = client.post(
        "/api/v1/messages", json=draft(track="diplomatic", audience="mediated:IL"), headers=crew["il"].headers
    ).json()
    others = [make_cell(backend, clock) for _ in range(2)]
    apps = [create_app(c, run_scheduler=False) for c in others]
    try:
        errors: list[BaseException] = []

        def run(app, barrier) -> None:  # type: ignore[no-untyped-def]
            try:
                barrier.wait()
                app.state.scheduler.run_due()
            except BaseException as exc:
                errors.append(exc)

        for _ in range(0, 61):
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=run, args=(a, barrier)) for a in apps]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            clock.advance(timedelta(minutes=1))
        assert summarise(loop_entries(cell, message["id"])[1:]) == EXPECTED
    finally:
        for c in others:
            c.db.dispose()
