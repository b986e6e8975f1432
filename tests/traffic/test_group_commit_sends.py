"""Sends that arrive together share one transaction: a resend racing its original inside the same group gets
the original back, and the other sends in that group are not disturbed."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from fusioncell.ledger.models import LedgerEntry
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
    while cell.group_commit._queue.qsize() < 3:  # all three wait behind the held command: one group
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
