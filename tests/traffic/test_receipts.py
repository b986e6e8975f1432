"""Delivery receipts are written in batches: one command and one entry per (audience, receiving delegation)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from fusioncell.auth.service import authenticate
from fusioncell.ledger.models import LedgerEntry
from fusioncell.traffic.models import Delivery
from fusioncell.traffic.receipts import ReceiptRecorder
from fusioncell.traffic.service import Receipt, record_receipts
from tests.conftest import add_user, ledger_size
from tests.traffic.helpers import draft


def _send(client, member, **overrides) -> int:  # type: ignore[no-untyped-def]
    if overrides.get("audience", "joint") == "joint":  # the mediator addressed too: receipts of two delegations
        overrides.setdefault("addressed", ["IL", "US"])
    response = client.post("/api/v1/messages", json=draft(**overrides), headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _deliveries(cell, message_ids) -> dict[tuple[int, str], tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        rows = session.execute(select(Delivery).where(Delivery.message_id.in_(message_ids))).scalars()
        return {(d.message_id, d.delegation): (d.state, d.delivered_to) for d in rows}


def _delivered_entries(cell, since: int) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        return list(
            session.execute(
                select(LedgerEntry)
                .where(LedgerEntry.index >= since, LedgerEntry.action == "message.delivered")
                .order_by(LedgerEntry.index)
            ).scalars()
        )


def test_a_burst_of_receipts_is_one_entry_per_audience_and_delegation(client, cell, crew) -> None:
    add_user(cell, "il.second", "IL", "liaison")
    joint = [_send(client, crew["sy"], subject=f"joint {i}") for i in range(4)]
    to_il = [_send(client, crew["us"], audience="mediated:IL", subject=f"proximity {i}") for i in range(2)]
    il = authenticate(cell=cell, raw_token=crew["il"].token)
    il_second = il.__class__(username="il.second", delegation="IL", roles=il.roles)
    t0 = cell.clock.now()
    before = ledger_size(cell)
    # every IL screen receives every message; the second officer's client got the first two a moment earlier
    receipts = [Receipt(message_id=m, audience="joint", principal=il, at=t0 + timedelta(seconds=1)) for m in joint]
    receipts += [Receipt(message_id=m, audience="joint", principal=il_second, at=t0) for m in joint[:2]]
    receipts += [Receipt(message_id=m, audience="mediated:IL", principal=il, at=t0) for m in to_il]

    assert sorted(record_receipts(cell=cell, receipts=receipts)) == sorted(joint + to_il)

    entries = _delivered_entries(cell, before)
    assert ledger_size(cell) == before + 2
    assert {e.audience for e in entries} == {"joint", "mediated:IL"}
    by_audience = {e.audience: json.loads(e.content) for e in entries}
    assert by_audience["joint"]["delegation"] == "IL"
    assert [(d["message_id"], d["delivered_to"]) for d in by_audience["joint"]["deliveries"]] == [
        (joint[0], "il.second"),
        (joint[1], "il.second"),
        (joint[2], "il.liaison"),
        (joint[3], "il.liaison"),
    ]
    assert [d["message_id"] for d in by_audience["mediated:IL"]["deliveries"]] == to_il
    state = _deliveries(cell, joint + to_il)
    assert state[(joint[0], "IL")] == ("delivered", "il.second")
    assert state[(joint[3], "IL")] == ("delivered", "il.liaison")
    assert state[(joint[0], "US")] == ("pending", None)  # nobody from US has received anything yet
    assert state[(to_il[0], "IL")] == ("delivered", "il.liaison")

    # the same receipts again change nothing and write nothing
    assert record_receipts(cell=cell, receipts=receipts) == []
    assert ledger_size(cell) == before + 2


def test_a_receipt_for_what_the_reader_may_not_read_is_ignored(client, cell, crew) -> None:
    secret = _send(client, crew["sy"], audience="mediated:SY")
    il = authenticate(cell=cell, raw_token=crew["il"].token)
    before = ledger_size(cell)
    # a forged or mistaken receipt: IL claims a message it may not see, under either label
    forged = [
        Receipt(message_id=secret, audience="mediated:SY", principal=il, at=cell.clock.now()),
        Receipt(message_id=secret, audience="joint", principal=il, at=cell.clock.now()),
    ]
    assert record_receipts(cell=cell, receipts=forged) == []
    assert ledger_size(cell) == before
    assert _deliveries(cell, [secret])[(secret, "US")] == ("pending", None)


def test_an_acknowledged_delivery_is_not_reopened_by_a_late_receipt(client, cell, crew) -> None:
    message = _send(client, crew["sy"])
    assert client.post(f"/api/v1/messages/{message}/ack", json={}, headers=crew["il"].headers).status_code == 200
    il = authenticate(cell=cell, raw_token=crew["il"].token)
    before = ledger_size(cell)
    late = Receipt(message_id=message, audience="joint", principal=il, at=cell.clock.now())
    assert record_receipts(cell=cell, receipts=[late]) == []
    assert ledger_size(cell) == before
    assert _deliveries(cell, [message])[(message, "IL")][0] == "acknowledged"


def test_the_recorder_writes_each_delivery_once_whatever_the_duplicates(client, cell, crew) -> None:
    messages = [_send(client, crew["sy"], subject=f"burst {i}") for i in range(6)]
    il = authenticate(cell=cell, raw_token=crew["il"].token)
    us = authenticate(cell=cell, raw_token=crew["us"].token)
    before = ledger_size(cell)

    async def scenario() -> None:
        recorder = ReceiptRecorder(cell)
        await recorder.start()
        for _screen in range(15):  # fifteen screens per delegation receive the same burst
            for m in messages:
                recorder.note(Receipt(message_id=m, audience="joint", principal=il, at=cell.clock.now()))
                recorder.note(Receipt(message_id=m, audience="joint", principal=us, at=cell.clock.now()))
        await recorder.flush()
        await recorder.stop()
        # after the write, later duplicates are dropped in memory
        recorder.note(Receipt(message_id=messages[0], audience="joint", principal=il, at=cell.clock.now()))
        assert recorder._pending == {}

    asyncio.run(scenario())
    entries = _delivered_entries(cell, before)
    contents = [json.loads(e.content) for e in entries]
    delivered = [(c["delegation"], d["message_id"]) for c in contents for d in c["deliveries"]]
    assert sorted(delivered) == sorted([("IL", m) for m in messages] + [("US", m) for m in messages])
    assert all(state == "delivered" for state, _ in _deliveries(cell, messages).values())


# Row locks exist on PostgreSQL only (SQLite runs one writer at a time).
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_receipt_for_a_row_held_elsewhere_is_tried_again(backend, client, cell, crew) -> None:
    """A verdict or an escalation can hold a delivery row (and leave it pending) just when a screen receives the
    message: the receipt is skipped then, and written on a later try, not forgotten."""
    from sqlalchemy import text

    message = _send(client, crew["sy"])
    il = authenticate(cell=cell, raw_token=crew["il"].token)

    async def scenario() -> None:
        recorder = ReceiptRecorder(cell)
        await recorder.start()
        holder = cell.db.engine.connect()
        holder.execute(
            text("SELECT 1 FROM message_deliveries WHERE message_id = :m AND delegation = 'IL' FOR UPDATE"),
            {"m": message},
        )
        try:
            recorder.note(Receipt(message_id=message, audience="joint", principal=il, at=cell.clock.now()))
            for _ in range(50):  # the first write finds the row held and keeps the receipt
                await asyncio.sleep(0.05)
                if _deliveries(cell, [message])[(message, "IL")][0] != "pending":
                    break
            assert _deliveries(cell, [message])[(message, "IL")] == ("pending", None)
        finally:
            holder.rollback()  # the other transaction ends, leaving the delivery pending
            holder.close()
        for _ in range(100):  # no screen receives it again: the recorder tries again by itself
            await asyncio.sleep(0.05)
            if _deliveries(cell, [message])[(message, "IL")][0] == "delivered":
                break
        await recorder.stop()

    asyncio.run(scenario())
    assert _deliveries(cell, [message])[(message, "IL")] == ("delivered", "il.liaison")
