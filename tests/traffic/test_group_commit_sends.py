"""Sends that arrive together share one transaction: a resend racing its original inside the same group gets
the original back, and the other sends in that group are not disturbed."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from fusioncell.auth.service import authenticate
from fusioncell.ledger.models import LedgerEntry
from fusioncell.traffic import service
from fusioncell.traffic.models import Message
from tests.conftest import ledger_size
from tests.traffic.helpers import draft


def test_a_resend_inside_the_same_group_returns_the_original_and_spoils_nothing(client, cell, crew) -> None:
    before = ledger_size(cell)
    entered, release = threading.Event(), threading.Event()

    def hold(_uow):  # type: ignore[no-untyped-def]
        entered.set()
        assert release.wait(30)

    held = cell.group_commit.submit(hold)
    assert entered.wait(30)
    answers: dict[str, object] = {}

    def post(name: str, body: dict, member: str) -> None:
        answers[name] = client.post("/api/v1/messages", json=body, headers=crew[member].headers)

    same = draft(client_txn_id="sy-0600-convoy")
    threads = [
        threading.Thread(target=post, args=("original", same, "sy")),
        threading.Thread(target=post, args=("resend", same, "sy")),
        threading.Thread(target=post, args=("other", draft(subject="IL traffic in the same group"), "il")),
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while cell.group_commit.waiting < 3:  # all three wait behind the held command: one group
        assert time.monotonic() < deadline, "the sends never reached the writer"
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join(30)
    held.result(30)

    statuses = sorted(answers[n].status_code for n in ("original", "resend"))  # type: ignore[attr-defined]
    assert statuses == [200, 201]
    first, second = (answers[n].json() for n in ("original", "resend"))  # type: ignore[attr-defined]
    assert first["id"] == second["id"]
    assert answers["other"].status_code == 201  # type: ignore[attr-defined]
    with cell.reading() as session:
        assert session.execute(select(func.count()).select_from(Message)).scalar_one() == 2
        sent = session.execute(
            select(LedgerEntry.index, LedgerEntry.subject)
            .where(LedgerEntry.index >= before)
            .order_by(LedgerEntry.index)
        ).all()
    assert ledger_size(cell) == before + 2
    assert [index for index, _ in sent] == [before, before + 1]
    for name in ("original", "other"):
        message = answers[name].json()  # type: ignore[attr-defined]
        if answers[name].status_code == 201:  # type: ignore[attr-defined]
            assert (message["ledger_index"], f"message:{message['id']}") in sent


# Row locks and the ledger head: a group commit takes the head first, an acknowledgement takes its delivery row
# first. PostgreSQL only (SQLite runs one writer at a time).
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_receipt_in_a_group_does_not_deadlock_with_an_acknowledgement(backend, client, cell, crew) -> None:
    message_id = client.post("/api/v1/messages", json=draft(), headers=crew["sy"].headers).json()["id"]
    il = authenticate(cell=cell, raw_token=crew["il"].token)
    ack: dict[str, object] = {}
    head_held, ack_started = threading.Event(), threading.Event()

    def group(uow):  # type: ignore[no-untyped-def]
        uow.next_ledger_index()  # this group holds the ledger head…
        head_held.set()
        assert ack_started.wait(30)
        deadline = time.monotonic() + 30
        while not _someone_waits_for_a_lock(cell):  # …and the acknowledgement holds the row, waiting for it
            assert time.monotonic() < deadline, "the acknowledgement never queued for the ledger head"
            time.sleep(0.02)
        receipt = service.Receipt(message_id=message_id, audience="joint", principal=il, at=cell.clock.now())
        return service.deliver(cell=cell, uow=uow, receipts=[receipt])

    def acknowledge() -> None:
        ack_started.set()
        ack["response"] = client.post(f"/api/v1/messages/{message_id}/ack", json={}, headers=crew["il"].headers)

    future = cell.group_commit.submit(group)
    assert head_held.wait(30)
    thread = threading.Thread(target=acknowledge)
    thread.start()
    outcome = future.result(60)  # the row is held by the acknowledgement: skipped (busy), and nothing waits
    assert outcome.changed == [] and outcome.busy == [message_id]
    thread.join(60)
    assert ack["response"].status_code == 200  # type: ignore[attr-defined]
    state = next(d for d in ack["response"].json()["deliveries"] if d["delegation"] == "IL")  # type: ignore[attr-defined]
    assert state["state"] == "acknowledged"


def _someone_waits_for_a_lock(cell) -> bool:  # type: ignore[no-untyped-def]
    with cell.db.engine.connect() as conn:
        return bool(conn.exec_driver_sql("SELECT count(*) FROM pg_locks WHERE NOT granted").scalar())
