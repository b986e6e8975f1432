"""Durability: a server killed with SIGKILL mid-burst loses no acknowledged message and duplicates none."""

from __future__ import annotations

import threading
import time

import httpx
from sqlalchemy import select

from fusioncell.ledger.models import LedgerEntry
from fusioncell.traffic.models import Message
from tests.conftest import TEST_PASSWORD, add_user
from tests.server import Server, free_port
from tests.traffic.helpers import draft


def test_sigkill_mid_burst_then_resend(backend, cell) -> None:
    add_user(cell, "sy.liaison", "SY", "liaison")
    server = Server(backend, free_port())
    server.start()
    try:
        token = httpx.post(
            server.url + "/api/v1/auth/token", json={"username": "sy.liaison", "password": TEST_PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        acknowledged: dict[str, int] = {}
        attempted: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def sender(worker: int) -> None:
            with httpx.Client(base_url=server.url, headers=headers, timeout=5) as http:
                for i in range(10_000):
                    if stop.is_set():
                        return
                    txn = f"w{worker}-{i}"
                    with lock:
                        attempted.append(txn)
                    try:
                        r = http.post(
                            "/api/v1/messages", json=draft(precedence="ROUTINE", client_txn_id=txn, subject=txn)
                        )
                    except httpx.HTTPError:
                        return  # the server died under us
                    if r.status_code == 201:
                        with lock:
                            acknowledged[txn] = r.json()["id"]

        threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()
        stop.set()
        for t in threads:
            t.join()
        assert len(acknowledged) >= 40

        # every acknowledged message survived, with its ledger entry
        with cell.reading() as session:
            stored = {m.client_txn_id: m for m in session.execute(select(Message)).scalars()}
            for txn, message_id in acknowledged.items():
                assert txn in stored and stored[txn].id == message_id
                entry = session.get(LedgerEntry, stored[txn].ledger_index)
                assert entry is not None and entry.subject == f"message:{message_id}"

        # a client that never heard back resends everything it attempted: no duplicates
        server.start()
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
            for txn in attempted:
                r = http.post("/api/v1/messages", json=draft(precedence="ROUTINE", client_txn_id=txn, subject=txn))
                assert r.status_code in (200, 201), r.text
                if txn in acknowledged:
                    assert r.status_code == 200 and r.json()["id"] == acknowledged[txn]
        with cell.reading() as session:
            txns = [m.client_txn_id for m in session.execute(select(Message)).scalars()]
            sent_entries = (
                session.execute(select(LedgerEntry).where(LedgerEntry.action == "message.sent")).scalars().all()
            )
        assert sorted(txns) == sorted(set(attempted))
        assert len(sent_entries) == len(txns)
    finally:
        if server.proc and server.proc.poll() is None:
            server.kill()
