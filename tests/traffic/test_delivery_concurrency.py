"""Review: the closed loop must decide on the locked, current delivery row, not on a copy loaded before the lock.

`deliver`, `acknowledge` and `judge_readback` first load the message (its deliveries come with it,
lazy="selectin"), then `SELECT … FOR UPDATE` the delivery. SQLAlchemy returns the identity-mapped object from the
first load without refreshing it (no populate_existing), so on PostgreSQL a transaction that loaded the message
before a concurrent one committed acts on stale state once it gets the lock. Here the interleaving is made
deterministic: transaction A reads the message (the first statement each command runs, whose result it holds
across the lock), B commits, then A goes on.
(SQLite takes its write lock at BEGIN, so the interleaving cannot happen there.)
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from fusioncell.auth.service import authenticate
from fusioncell.errors import Conflict
from fusioncell.ledger.models import LedgerEntry
from fusioncell.traffic import service
from fusioncell.traffic.models import Delivery, Message
from fusioncell.traffic.schemas import Verdict
from tests.traffic.helpers import draft


def _entries(cell, message_id: int, action: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        rows = session.execute(
            select(LedgerEntry).where(LedgerEntry.subject == f"message:{message_id}", LedgerEntry.action == action)
        ).scalars()
        return [json.loads(e.content) for e in rows]


def _state(cell, message_id: int, delegation: str) -> str:  # type: ignore[no-untyped-def]
    with cell.reading() as session:
        return session.get(Delivery, (message_id, delegation)).state


# SQLite serialises whole write transactions (BEGIN IMMEDIATE): these interleavings exist on PostgreSQL only
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_late_delivery_does_not_reopen_an_acknowledged_delivery(backend, client, cell, crew) -> None:
    il = authenticate(cell=cell, raw_token=crew["il"].token)
    message_id = client.post("/api/v1/messages", json=draft(), headers=crew["sy"].headers).json()["id"]

    a = cell.command().__enter__()
    try:
        loaded = a.session.get(Message, message_id)  # A (IL's stream client noting receipt) has read the message…
        with cell.command() as b:  # …when another IL officer acknowledges and commits
            service.acknowledge(cell=cell, uow=b, principal=il, message_id=message_id, readback=None)
        receipt = service.Receipt(message_id=message_id, audience="joint", principal=il, at=cell.clock.now())
        assert service.deliver(cell=cell, uow=a, receipts=[receipt]).changed == []
        a.__exit__(None, None, None)
    except BaseException as exc:
        a.__exit__(type(exc), exc, None)
        raise
    del loaded
    assert _state(cell, message_id, "IL") == "acknowledged", "an acknowledged delivery was reopened as 'delivered'"
    assert _entries(cell, message_id, "message.delivered") == []


# SQLite serialises whole write transactions (BEGIN IMMEDIATE): these interleavings exist on PostgreSQL only
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_two_concurrent_acknowledgements_record_one(backend, client, cell, crew) -> None:
    il = authenticate(cell=cell, raw_token=crew["il"].token)
    message_id = client.post("/api/v1/messages", json=draft(), headers=crew["sy"].headers).json()["id"]

    a = cell.command().__enter__()
    try:
        loaded = a.session.get(Message, message_id)  # held, as the service holds `message` across the lock
        with cell.command() as b:
            service.acknowledge(cell=cell, uow=b, principal=il, message_id=message_id, readback=None)
        with pytest.raises(Conflict):
            service.acknowledge(cell=cell, uow=a, principal=il, message_id=message_id, readback=None)
    finally:
        a.__exit__(None, None, None)
    del loaded
    assert len(_entries(cell, message_id, "message.acknowledged")) == 1


# SQLite serialises whole write transactions (BEGIN IMMEDIATE): these interleavings exist on PostgreSQL only
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_two_concurrent_negative_verdicts_alert_the_mediator_once(backend, client, cell, crew) -> None:
    sy = authenticate(cell=cell, raw_token=crew["sy"].token)
    message_id = client.post("/api/v1/messages", json=draft(readback_required=True), headers=crew["sy"].headers).json()[
        "id"
    ]
    r = client.post(f"/api/v1/messages/{message_id}/ack", json={"readback": "four trucks"}, headers=crew["il"].headers)
    assert r.status_code == 200, r.text

    a = cell.command().__enter__()
    try:
        loaded = a.session.get(Message, message_id)  # held, as the service holds `message` across the lock
        with cell.command() as b:
            service.judge_readback(
                cell=cell,
                uow=b,
                principal=sy,
                message_id=message_id,
                verdict=Verdict.NEGATIVE,
                note="four vehicles",
                delegation=None,
            )
        with pytest.raises(Conflict):
            service.judge_readback(
                cell=cell,
                uow=a,
                principal=sy,
                message_id=message_id,
                verdict=Verdict.NEGATIVE,
                note="four vehicles",
                delegation=None,
            )
    finally:
        a.__exit__(None, None, None)
    del loaded
    assert len(_entries(cell, message_id, "message.readback_negative")) == 1
